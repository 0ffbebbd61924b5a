"""The conversation's frustration score: the message's own score plus the dialogue's signals."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk import Tracker

from actions.frustration import (
    FrustrationSettings,
    FrustrationSettingsError,
    conversation_frustration,
    crossed,
)

SETTINGS = FrustrationSettings()


def user(intent: str, score: float = 0.0, signals: Optional[List[str]] = None) -> Dict[str, Any]:
    parse_data = {"intent": {"name": intent, "confidence": 0.9}, "frustration": {"score": score, "signals": signals or []}}
    return {"event": "user", "text": intent, "parse_data": parse_data}


def tracker(events: List[Dict[str, Any]], frustration: Optional[float] = None) -> Tracker:
    latest = events[-1]["parse_data"] if events else {}
    return Tracker("t", {"frustration": frustration}, latest, events, False, None, None, "action_listen")


def test_the_message_score_counts_on_its_own() -> None:
    assert conversation_frustration(tracker([user("order_status", 0.6, ["profanity"])]), SETTINGS) == (0.6, ["profanity"])


def test_repeated_fallbacks_add_up_to_the_threshold() -> None:
    events = [user("nlu_fallback")]
    assert conversation_frustration(tracker(events), SETTINGS)[0] == 0.0
    events.append(user("nlu_fallback"))
    assert conversation_frustration(tracker(events), SETTINGS) == (0.25, ["repeated_fallback"])
    events.append(user("nlu_fallback"))
    score, signals = conversation_frustration(tracker(events, frustration=0.25), SETTINGS)
    assert score == pytest.approx(0.625) and "repeated_fallback" in signals and crossed(0.25, score, SETTINGS)


def test_asking_the_same_thing_again_counts_but_answers_do_not() -> None:
    repeated = [user("order_status"), user("order_status"), user("order_status")]
    assert conversation_frustration(tracker(repeated), SETTINGS) == (0.5, ["repeated_intent"])
    answers = [user("affirm"), user("affirm"), user("affirm")]
    assert conversation_frustration(tracker(answers), SETTINGS) == (0.0, [])


def test_an_earlier_score_fades() -> None:
    score, signals = conversation_frustration(tracker([user("greet")], frustration=0.8), SETTINGS)
    assert score == 0.4 and signals == ["earlier_turns"]


def test_the_offer_is_made_when_the_threshold_is_crossed_not_while_above() -> None:
    assert crossed(None, 0.5, SETTINGS) and crossed(0.3, 0.9, SETTINGS)
    assert not crossed(0.6, 0.9, SETTINGS) and not crossed(0.1, 0.4, SETTINGS)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CS_HANDOFF_THRESHOLD", "0.8")
    assert FrustrationSettings.from_env().threshold == 0.8
    monkeypatch.setenv("CS_FRUSTRATION_DECAY", "lots")
    with pytest.raises(FrustrationSettingsError, match="CS_FRUSTRATION_DECAY"):
        FrustrationSettings.from_env()
