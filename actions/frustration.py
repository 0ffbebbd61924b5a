"""How frustrated the conversation is: the message's own score plus what the dialogue shows.

The NLU scores each message (`cs_transformer.FrustrationScorer` writes
`parse_data["frustration"]`). The conversation adds what one message cannot show: the bot not
understanding several times in a row, and the customer asking the same thing again. The
result goes into the `frustration` slot every turn (`action_validate_slot_mappings`); when it
crosses the threshold the bot offers an agent once (`utter_offer_handoff_frustrated`, then the
usual "offer accepted / declined" rules).

Settings, from the environment of the action server (README, "Frustration and human handoff"):
`CS_HANDOFF_THRESHOLD` (default 0.5), `CS_FRUSTRATION_FALLBACK_STEP` (0.25 per misunderstood
message beyond the first among the last 4), `CS_FRUSTRATION_REPEAT_STEP` (0.25 per repetition
of the same request), `CS_FRUSTRATION_DECAY` (0.5: share of the last turn's score carried over).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Tracker

RECENT_TURNS = 4
FALLBACK_INTENT = "nlu_fallback"
# Answers and small talk are repeated naturally ("yes", "12345"); repeating them is no sign.
NEUTRAL_INTENTS = frozenset({"affirm", "deny", "inform_order_number", "greet", "thank_you", "goodbye", FALLBACK_INTENT})


class FrustrationSettingsError(ValueError):
    """A CS_FRUSTRATION_* / CS_HANDOFF_THRESHOLD variable is unusable; the message names it."""


@dataclass(frozen=True)
class FrustrationSettings:
    threshold: float = 0.5
    fallback_step: float = 0.25
    repeat_step: float = 0.25
    decay: float = 0.5

    @classmethod
    def from_env(cls) -> "FrustrationSettings":
        names = {
            "threshold": "CS_HANDOFF_THRESHOLD",
            "fallback_step": "CS_FRUSTRATION_FALLBACK_STEP",
            "repeat_step": "CS_FRUSTRATION_REPEAT_STEP",
            "decay": "CS_FRUSTRATION_DECAY",
        }
        values = {key: _probability(variable) for key, variable in names.items() if os.environ.get(variable)}
        return cls(**values)


def _probability(variable: Text) -> float:
    raw = os.environ[variable]
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise FrustrationSettingsError(f"{variable}={raw!r} must be a number between 0 and 1; fix or unset it.")
    return value


def conversation_frustration(tracker: Tracker, settings: FrustrationSettings) -> Tuple[float, List[Text]]:
    """The conversation's score in [0, 1] after the latest message, and the signals behind it."""
    messages = _user_messages(tracker)[-RECENT_TURNS:]
    if not messages:
        return 0.0, []
    latest = messages[-1]
    message_score = float((latest.get("frustration") or {}).get("score") or 0.0)
    signals = list((latest.get("frustration") or {}).get("signals") or [])
    carried = float(tracker.get_slot("frustration") or 0.0) * settings.decay
    score = max(message_score, carried)
    if carried > message_score:
        signals.append("earlier_turns")
    fallbacks = sum(_intent(message) == FALLBACK_INTENT for message in messages)
    if fallbacks > 1:
        score += settings.fallback_step * (fallbacks - 1)
        signals.append("repeated_fallback")
    repeats = _repeats(messages)
    if repeats:
        score += settings.repeat_step * repeats
        signals.append("repeated_intent")
    return round(min(1.0, score), 4), signals


def crossed(previous: Optional[float], current: float, settings: FrustrationSettings) -> bool:
    """True on the turn the score reaches the threshold, so the offer is made once per rise."""
    return current >= settings.threshold > float(previous or 0.0)


def _user_messages(tracker: Tracker) -> List[Dict[Text, Any]]:
    return [event.get("parse_data") or {} for event in tracker.events if event.get("event") == "user"]


def _intent(message: Dict[Text, Any]) -> Optional[Text]:
    return (message.get("intent") or {}).get("name")


def _repeats(messages: List[Dict[Text, Any]]) -> int:
    """How many messages right before the latest asked for the same (non-neutral) thing."""
    intents = [_intent(message) for message in messages]
    latest = intents[-1]
    if latest is None or latest in NEUTRAL_INTENTS:
        return 0
    count = 0
    for intent in reversed(intents[:-1]):
        if intent != latest:
            break
        count += 1
    return count
