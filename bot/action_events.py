"""Custom action calls carry the conversation's recent events, not all of them (opt-in, endpoints.yml).

Rasa 3.6.21 sends every event of the conversation with every custom action call
(`RemoteAction._action_call_format`): about 90 KB of JSON at the 50th turn, encoded by Rasa and
parsed by the action server several times a turn, so a turn cost more the longer the
conversation was. Slots, the latest message, the active loop and the latest action are sent
apart from the events and stay whole; what rasa_sdk's helpers read from the events
(`slots_to_validate`, `get_latest_input_channel`, the last events of the turn) lies in the
current turn. So, with `events_window` under `action_endpoint:`, each call carries the events of
the last `turns` customer turns (from the `turns`-th last user message on), and the actions
named in `whole_conversation` still get every event (e.g. one that writes a transcript):

    action_endpoint:
      url: http://127.0.0.1:5055/webhook
      events_window:
        turns: 2
        whole_conversation: [action_handoff]

Without `events_window`, every call carries every event, as in Rasa.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, List, Optional, Text

import rasa
from rasa.shared.core.events import Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

CONFIG_KEY = "events_window"
WINDOW_KEYS = {"turns", "whole_conversation"}


class EventsWindowConfigError(ValueError):
    """A bad `events_window`; raised at the first custom action call, with the fix."""


@dataclass(frozen=True)
class EventsWindow:
    """How many customer turns of events a call carries, and which actions get them all."""

    turns: int
    whole_conversation: FrozenSet[Text]

    @classmethod
    def from_endpoint(cls, endpoint: Any) -> Optional[EventsWindow]:
        """The endpoint's `events_window`, or None (every event, as Rasa sends them)."""
        config = (getattr(endpoint, "kwargs", None) or {}).get(CONFIG_KEY)
        if config is None:
            return None
        where = f"`{CONFIG_KEY}:` under `action_endpoint:` in endpoints.yml"
        if not isinstance(config, dict) or not set(config) <= WINDOW_KEYS:
            raise EventsWindowConfigError(
                f"{where} takes `turns` (a positive number) and `whole_conversation` (a list of action names)."
            )
        turns = config.get("turns", 2)
        if not isinstance(turns, int) or isinstance(turns, bool) or turns < 1:
            raise EventsWindowConfigError(f"{where}: `turns` is {turns!r}; set a positive number of customer turns, e.g. 2.")
        names = config.get("whole_conversation") or []
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise EventsWindowConfigError(f"{where}: `whole_conversation` must be a list of action names, e.g. [action_handoff].")
        return cls(turns, frozenset(names))

    def events_for(self, action_name: Text, tracker: DialogueStateTracker) -> List[Event]:
        """The events a call of `action_name` carries: from the `turns`-th last user message on."""
        events = tracker.events
        if action_name not in self.whole_conversation:
            seen = 0
            for index in range(len(events) - 1, -1, -1):
                if isinstance(events[index], UserUttered):
                    seen += 1
                    if seen == self.turns:
                        return [events[i] for i in range(index, len(events))]
        return list(events)


def action_call_format(self: Any, tracker: DialogueStateTracker, domain: Any) -> Dict[Text, Any]:
    """Rasa 3.6.21's `RemoteAction._action_call_format`, the events cut to the endpoint's window
    (installed by bot/rasa_patches.py; without a window, Rasa's own)."""
    window = EventsWindow.from_endpoint(self.action_endpoint)
    tracker_state = tracker.current_state(EventVerbosity.ALL if window is None else EventVerbosity.NONE)
    if window is not None:
        tracker_state["events"] = [event.as_dict() for event in window.events_for(self.name(), tracker)]
    result = {"next_action": self._name, "sender_id": tracker.sender_id, "tracker": tracker_state, "version": rasa.__version__}
    if not self._is_selective_domain_enabled() or domain.does_custom_action_explicitly_need_domain(self.name()):
        result["domain"] = domain.as_dict()
    return result
