"""A tracker store that persists conversations without personal data.

`RedactingTrackerStore` wraps one of Rasa's own stores (memory, sql, redis, …) and redacts
each tracker's events with `cs_common/pii.py` on `save`, just before they are serialised. Rasa
holds the lock of a conversation while it handles a message, on the tracker it retrieved
plus the new events; that in-process tracker keeps the real values, so the actions of the
current turn see the email, phone or address they were given (e.g. the address form fills
`new_address` and `action_change_address` stores it in the same turn). Everything read back
from the store — the next turn, `GET /conversations/<id>/tracker`, exports, event brokers —
has placeholders (`[email]`, `[card]`, `[address]`, …) instead.

    tracker_store:                       # endpoints.yml
      type: bot.tracker_store.RedactingTrackerStore
      store: sql                         # Rasa's store type (default: memory), its keys below
      dialect: sqlite
      db: var/trackers.db
      pii_rules: pii.yml                 # default: pii.yml at the repo root

Only the events added since the tracker was read from the store are redacted: the events read
back already are (the store only ever holds redacted events). With `store: memory` only they are
written too (bot/memory_tracker_store.py); Rasa's other stores are given the whole tracker, as
Rasa gives it to them. A long redaction (a big message or metadata) runs in a worker thread, so
the other conversations go on meanwhile. A turn with personal data also drops the dialogue
states kept for the conversation (bot/dialogue_states.py), which held its events in clear.

Fail closed: values nested deeper than `MAX_DEPTH` are replaced by a placeholder, and if
redacting or writing fails anyway the save is refused with an error in the log, never raised.
Rasa would otherwise keep the clear tracker in its in-memory fallback store
(`FailSafeTrackerStore`).

Creating the store also installs the same redaction on the process's log handlers.

After a successful save the turn's new events go to `bot/history.py`, which appends a known
customer's handled messages to their history: per-turn bookkeeping with no action-server call.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any, Dict, Iterable, List, Optional, Set, Text, Tuple

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot import dialogue_states
from bot.history import InteractionHistory
from bot.memory_tracker_store import EventLogTrackerStore
from cs_common.pii import PiiRules, Redactor, install_log_redaction

logger = logging.getLogger(__name__)

PLACEHOLDER = "[address]"
TOO_DEEP = "[removed: nested too deep]"
IN_MEMORY = "memory"
# Rasa's own events nest 5 levels; channel metadata a few more. Deeper is hostile (RecursionError).
MAX_DEPTH = 32
# Characters of text in the new events above which redaction runs in a worker thread (~1 ms of work).
THREAD_ABOVE_CHARS = 20_000


class RedactingTrackerStore(TrackerStore):
    """Rasa's tracker store of type `store`, fed only redacted events."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        event_broker: Optional[EventBroker] = None,
        host: Optional[Text] = None,
        store: Text = IN_MEMORY,
        pii_rules: Optional[Text] = None,
        **store_kwargs: Any,
    ) -> None:
        super().__init__(domain)
        self.rules = PiiRules.from_file(pii_rules)
        self.redactor = Redactor(self.rules)
        # The inner store streams the (redacted) events to the broker; this wrapper never does.
        if store == IN_MEMORY:  # Rasa's own re-serialises the whole conversation on every save
            self._inner: TrackerStore = EventLogTrackerStore(domain, event_broker, **store_kwargs)
        else:
            self._inner = TrackerStore.create(EndpointConfig(url=host, type=store, **store_kwargs), domain, event_broker)
        # Trackers handed out by `retrieve`: id -> (the tracker, how many of its events came redacted
        # from the store, the last of them). Entries go when Rasa drops the tracker.
        self._read: Dict[int, Tuple[weakref.ref, int, Optional[Event]]] = {}
        # The turn's new events are at hand here, so the customer's history is written here too.
        self.history = InteractionHistory()
        install_log_redaction(self.redactor)
        logger.info("tracker_store.redacting store=%s detectors=%s", store, ",".join(self.rules.detectors))

    @property
    def inner(self) -> TrackerStore:
        """Rasa's store underneath, holding only redacted events (the review page reads its tables)."""
        return self._inner

    @property
    def domain(self) -> Domain:
        return self._domain

    @domain.setter
    def domain(self, domain: Optional[Domain]) -> None:
        """Rasa sets the domain once the model is loaded; the inner store needs it too."""
        self._domain = domain or Domain.empty()
        if hasattr(self, "_inner"):
            self._inner.domain = self._domain

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Writes `tracker` redacted; on any failure logs it and stores nothing (never raises)."""
        try:
            stored, new = self._split(tracker)
            known, serialised = self._personal_values(new), [event.as_dict() for event in new]
            if _text_size(serialised) > THREAD_ABOVE_CHARS:
                redacted = await asyncio.to_thread(self._redact_events, serialised, known)
            else:
                redacted = self._redact_events(serialised, known)
            if any(kept.as_dict() != event.as_dict() for kept, event in zip(redacted, new)):
                dialogue_states.forget(tracker.sender_id)
            appended = isinstance(self._inner, EventLogTrackerStore) and await self._inner.append(
                tracker.sender_id, stored, redacted
            )
            if not appended:
                await self._inner.save(self._tracker_of(tracker, stored + redacted))
        except Exception as error:  # fail closed: an exception would make Rasa keep the clear tracker
            logger.error(
                "tracker_store.save_refused sender=%s error=%s: this turn is not persisted",
                tracker.sender_id,
                type(error).__name__,
            )
            return
        await self.history.record(tracker, new)

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        return self._remember(await self._inner.retrieve(sender_id))

    async def retrieve_full_tracker(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        return self._remember(await self._inner.retrieve_full_tracker(sender_id))

    async def keys(self) -> Iterable[Text]:
        return await self._inner.keys()

    def _remember(self, tracker: Optional[DialogueStateTracker]) -> Optional[DialogueStateTracker]:
        """Notes that `tracker`'s events, as read from the store, are redacted already."""
        if tracker is not None:
            key = id(tracker)
            last = tracker.events[-1] if tracker.events else None
            self._read[key] = (weakref.ref(tracker, lambda _, key=key: self._read.pop(key, None)), len(tracker.events), last)
        return tracker

    def _split(self, tracker: DialogueStateTracker) -> Tuple[List[Event], List[Event]]:
        """(events as read from the store, events added since); all new unless it is our tracker."""
        events = list(tracker.events)
        entry = self._read.get(id(tracker))
        if entry is None or entry[0]() is not tracker or entry[1] > len(events):
            return [], events
        _, count, last = entry
        if count and events[count - 1] is not last:  # the events were replaced: trust none of them
            return [], events
        return events[:count], events[count:]

    def _tracker_of(self, tracker: DialogueStateTracker, events: List[Event]) -> DialogueStateTracker:
        """A new tracker of `events` for the inner store; `tracker`, which Rasa holds, keeps its values."""
        copy = DialogueStateTracker.from_events(
            tracker.sender_id, events, slots=self.domain.slots, max_event_history=tracker._max_event_history
        )
        copy.model_id, copy.assistant_id = tracker.model_id, tracker.assistant_id
        return copy

    def _redact_events(self, serialised: List[Dict[Text, Any]], known: Set[Text]) -> List[Event]:
        return [Event.from_parameters(self._redact_event(event, known)) for event in serialised]

    def _personal_values(self, events: Iterable[Event]) -> Set[Text]:
        """Texts that are personal wherever they appear: values of PII slots and entities.

        The events read from the store need not be searched: their values are placeholders.
        """
        values: Set[Text] = set()
        for event in events:
            if isinstance(event, SlotSet) and event.key in self.rules.slots and isinstance(event.value, str):
                values.add(event.value)
            elif isinstance(event, UserUttered):
                values.update(
                    str(entity.get("value")) for entity in event.entities if entity.get("entity") in self.rules.entities
                )
        return values

    def _redact_event(self, event: Dict[Text, Any], known: Set[Text]) -> Dict[Text, Any]:
        """`event` (an `as_dict()`, whose nested values are the live event's own) redacted, as a new dict."""
        if event.get("event") == SlotSet.type_name and event.get("name") in self.rules.slots and event.get("value"):
            event["value"] = PLACEHOLDER
        parse_data = event.get("parse_data")
        if isinstance(parse_data, dict) and parse_data.get("entities"):
            event["parse_data"] = {**parse_data, "entities": [
                {**entity, "value": PLACEHOLDER} if entity.get("entity") in self.rules.entities else entity
                for entity in parse_data["entities"]
            ]}
        return self._redact_value(event, known)

    def _redact_value(self, value: Any, known: Set[Text], depth: int = 0) -> Any:
        """Every string inside `value` (dicts and lists walked, keys kept) redacted."""
        if isinstance(value, str):
            return self.redactor.redact(value, known)
        if isinstance(value, (dict, list)) and depth >= MAX_DEPTH:
            return TOO_DEEP
        if isinstance(value, dict):
            return {key: self._redact_value(item, known, depth + 1) for key, item in value.items()}
        if isinstance(value, list):
            return [self._redact_value(item, known, depth + 1) for item in value]
        return value


def _text_size(value: Any, depth: int = 0) -> int:
    """Characters of the strings inside `value`, down to `MAX_DEPTH` (what redaction will read)."""
    if isinstance(value, str):
        return len(value)
    if depth >= MAX_DEPTH:
        return 0
    if isinstance(value, dict):
        return sum(_text_size(item, depth + 1) for item in value.values())
    if isinstance(value, list):
        return sum(_text_size(item, depth + 1) for item in value)
    return 0
