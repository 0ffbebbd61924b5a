"""Conversations in memory whose turn costs the same at the 5th message and the 50th.

Rasa 3.6's `InMemoryTrackerStore` keeps a conversation as one JSON text: every save
serialises all of it and every retrieve parses it and replays every event twice (the whole
conversation, then its last session), so a turn cost more the longer the conversation was
(under cProfile 11 ms of the 50th turn against 0.3 ms of the 5th). Here a conversation is its
list of events plus the tracker of its current session, kept up to date as events arrive:

- `append` applies only a turn's new events to that tracker;
- `retrieve` hands out a copy of it (`fork`), which shares the event objects and copies the
  little state a turn changes (slots, latest message, active loop, ...);
- `save`, Rasa's interface for a whole tracker, replaces the conversation.

What `retrieve` gives is what Rasa's store gives (the last session, replayed from its events),
except that earlier sessions are kept for `retrieve_full_tracker`: Rasa's store loses them at
the first save after a new session. Only `bot.tracker_store.RedactingTrackerStore` writes
here, with events it has redacted. Rasa changes a stored event in place only as a replay of the
events would (`DefinePrevUserUtteredFeaturization` on the latest message).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Text

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event
from rasa.shared.core.trackers import DialogueStateTracker

from bot import dialogue_states
from bot.tracker_copy import fork


def starts_session(event: Event) -> bool:
    """Rasa splits a conversation into sessions at each `action_session_start` (it opens the new one)."""
    return isinstance(event, ActionExecuted) and event.action_name == ACTION_SESSION_START_NAME


@dataclass
class Conversation:
    """A conversation's events, and the tracker of its last session (never handed out)."""

    events: List[Event]
    session: DialogueStateTracker


class EventLogTrackerStore(TrackerStore):
    """Rasa's in-memory store, kept as events and a live tracker of each conversation's session."""

    def __init__(self, domain: Optional[Domain] = None, event_broker: Optional[EventBroker] = None, **kwargs: Any) -> None:
        self.conversations: Dict[Text, Conversation] = {}
        super().__init__(domain, event_broker, **kwargs)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Replaces the conversation with `tracker`'s events (streaming those the store did not have)."""
        events = list(tracker.events)
        old = self.conversations.get(tracker.sender_id)
        known = _common_prefix(list(old.session.events), events) if old else 0
        self.conversations[tracker.sender_id] = Conversation(events, self._session_of(tracker.sender_id, events))
        await self._stream(tracker.sender_id, events[known:])

    async def append(self, sender_id: Text, read: Sequence[Event], new_events: List[Event]) -> bool:
        """Adds `new_events` to a session that was retrieved with the events `read`.

        False, and nothing added, when the session has changed since it was read: the caller
        then saves its whole tracker instead, as Rasa's stores would."""
        conversation = self.conversations.get(sender_id)
        session = conversation.session.events if conversation else ()
        if len(session) != len(read) or (read and session[-1] is not read[-1]):
            return False
        if conversation is None:
            conversation = self.conversations[sender_id] = Conversation([], self.init_tracker(sender_id))
        for event in new_events:
            conversation.events.append(event)
            if starts_session(event):
                conversation.session = self.init_tracker(sender_id)
            conversation.session.update(event)
        if dialogue_states.installed():  # the next turn's walk then starts from here
            conversation.session.applied_events()
        await self._stream(sender_id, new_events)
        return True

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """The conversation's last session, as Rasa's in-memory store returns it."""
        conversation = self.conversations.get(sender_id)
        return fork(conversation.session) if conversation else None

    async def retrieve_full_tracker(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """All sessions (replayed: exports and the HTTP API read this, not the turns)."""
        conversation = self.conversations.get(sender_id)
        if conversation is None:
            return None
        return DialogueStateTracker.from_events(sender_id, conversation.events, self.domain.slots,
                                                max_event_history=self.max_event_history)

    async def keys(self) -> Iterable[Text]:
        return self.conversations.keys()

    def _session_of(self, sender_id: Text, events: List[Event]) -> DialogueStateTracker:
        start = max((i for i, event in enumerate(events) if starts_session(event)), default=0)
        return DialogueStateTracker.from_events(sender_id, events[start:], self.domain.slots,
                                                max_event_history=self.max_event_history)

    async def _stream(self, sender_id: Text, events: List[Event]) -> None:
        if self.event_broker is not None and events:
            await self._stream_new_events(self.event_broker, events, sender_id)


def _common_prefix(old: List[Event], new: List[Event]) -> int:
    count = 0
    for before, after in zip(old, new):
        if before is not after and before != after:
            break
        count += 1
    return count
