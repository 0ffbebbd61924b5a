"""Copies of a tracker that share its events instead of replaying them.

Rasa 3.6 copies a tracker by replaying every event into a new one (`DialogueStateTracker.copy`,
which the processor calls before every action it runs, and the in-memory store's JSON round
trip), so a copy costs more the longer the conversation is. A tracker's state is, by Rasa's own
rule, what its events replay to; so a copy can share the event objects and copy only the state.
"""

from __future__ import annotations

import copy
from collections import deque
from typing import Any, List

from rasa.shared.constants import DEFAULT_SENDER_ID
from rasa.shared.core.constants import REQUESTED_SLOT
from rasa.shared.core.events import ActionExecuted, Event, Restarted, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from bot.dialogue_states import APPLIED_MEMO

# A tracker's attributes that `fork` shares rather than copies: the events are copied as a new
# deque of the same objects; the latest message and bot utterance are the events' own objects,
# as in a tracker replayed from its events; the rest are immutable values.
SHARED_ATTRIBUTES = {"events", "sender_id", "sender_source", "is_rule_tracker", "_max_event_history", "_paused",
                     "followup_action", "model_id", "assistant_id", "latest_message", "latest_bot_utterance",
                     APPLIED_MEMO}


def fork(tracker: DialogueStateTracker) -> DialogueStateTracker:
    """A tracker equal to `tracker` that can be changed without changing it.

    Rasa's own copy (`tracker.copy()`) replays every event; here the events are shared and only
    the state is copied."""
    forked = DialogueStateTracker.__new__(DialogueStateTracker)
    for name, value in vars(tracker).items():
        if name == "events":
            value = deque(value, maxlen=value.maxlen)
        elif name == "slots":
            value = {key: _slot_copy(slot) for key, slot in value.items()}
        elif name not in SHARED_ATTRIBUTES:
            value = copy.deepcopy(value)
        setattr(forked, name, value)
    return forked


def _slot_copy(slot: Any) -> Any:
    """The slot as `DialogueStateTracker` copies it (`copy.copy`), its value copied too when mutable."""
    copied = copy.copy(slot)
    if isinstance(getattr(slot, "_value", None), (list, dict)):
        copied._value = copy.deepcopy(slot._value)
    return copied


def copy_tracker(self: DialogueStateTracker) -> DialogueStateTracker:
    """Rasa 3.6.21's `DialogueStateTracker.copy` without the replay (installed by bot/rasa_patches.py).

    As Rasa's, the copy has no model or assistant id and no sender source: `init_copy` sets none."""
    copied = fork(self)
    copied.sender_id = self.sender_id or DEFAULT_SENDER_ID
    copied.sender_source = copied.model_id = copied.assistant_id = None
    return copied


def form_temporary_tracker(self: Any, current_tracker: DialogueStateTracker, additional_events: List[Event],
                           domain: Any) -> DialogueStateTracker:
    """Rasa 3.6.21's `FormAction._temporary_tracker` without the replay (installed by bot/rasa_patches.py).

    Rasa rebuilds a tracker from all events (after the latest restart) plus the form's own, each
    time a form validates or asks; here the tracker is copied without replay and only those events
    are applied. A conversation with a restart in it (or a `max_event_history`) is rebuilt as Rasa
    does: a copy would keep the events before the restart."""
    form_events = [SlotSet(REQUESTED_SLOT, self.get_slot_to_fill(current_tracker)), ActionExecuted(self.name())]
    if current_tracker.events.maxlen is not None or any(isinstance(event, Restarted) for event in current_tracker.events):
        return DialogueStateTracker.from_events(
            current_tracker.sender_id, current_tracker.events_after_latest_restart() + form_events + additional_events,
            slots=domain.slots,
        )
    temporary = copy_tracker(current_tracker)
    for event in form_events + additional_events:
        temporary.update(event)
    return temporary
