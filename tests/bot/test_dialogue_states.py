"""Resumed dialogue states (bot/dialogue_states.py) against Rasa 3.6.21's own functions.

Generated conversations (slots, forms that start, get interrupted and end, reverted messages
and actions, restarts, new sessions) are grown event by event; after each event both
`applied_events` and `states_for_tracker_history` (every flag combination) must give exactly
what Rasa's functions give, on the same tracker, on a copy read back from the store
(`fork`, redacted copies of the last events) and on a tracker rebuilt from the events' dicts.
"""

from __future__ import annotations

import copy
import random
from typing import Any, Callable, Dict, List

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    BotUttered,
    DefinePrevUserUtteredFeaturization,
    Event,
    FollowupAction,
    LoopInterrupted,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
    UserUtteranceReverted,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot import dialogue_states
from bot.memory_tracker_store import fork
from bot.rasa_patches import STOCK_FUNCTIONS, apply_rasa_patches
from tests.conftest import REPO

FLAGS = [(omit, ignore) for omit in (False, True) for ignore in (False, True)]


@pytest.fixture(scope="module")
def domain() -> Domain:
    assert apply_rasa_patches(), "the fixes apply on this Rasa"
    return Domain.load(REPO / "domain.yml")


def random_event(rng: random.Random, domain: Domain) -> Event:
    forms = list(domain.form_names)
    slot = rng.choice(domain.slots)
    choices: List[Callable[[], Event]] = [
        lambda: UserUttered(rng.choice(["hi", "order 10001", "[email]", "¿dónde está?"]),
                            {"name": rng.choice(domain.intents), "confidence": rng.random()},
                            [{"entity": "order_number", "value": "10001", "start": 6, "end": 11}] if rng.random() < 0.3 else []),
        lambda: ActionExecuted("action_listen"),
        lambda: ActionExecuted(rng.choice(domain.user_actions + forms), hide_rule_turn=rng.random() < 0.3),
        lambda: ActionExecuted(rng.choice(forms)),
        lambda: SlotSet(slot.name, rng.choice([None, "x", "es", 1.0, True])),
        lambda: ActiveLoop(rng.choice(forms + [None])),
        lambda: BotUttered("text"),
        lambda: LoopInterrupted(rng.random() < 0.5),
        lambda: ActionExecutionRejected(rng.choice(forms)),
        lambda: DefinePrevUserUtteredFeaturization(rng.random() < 0.5),
        lambda: FollowupAction("action_listen"),
    ]
    rare: List[Callable[[], Event]] = [
        lambda: UserUtteranceReverted(), lambda: ActionReverted(), lambda: Restarted(),
        lambda: SessionStarted(), lambda: ActionExecuted("action_session_start"),
    ]
    return rng.choice(rare if rng.random() < 0.04 else choices)()


def stock_states(domain: Domain, tracker: DialogueStateTracker, omit: bool, ignore: bool,
                 rule_only: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Rasa's own functions, with Rasa's own `applied_events` underneath."""
    patched = DialogueStateTracker.applied_events
    DialogueStateTracker.applied_events = STOCK_FUNCTIONS["applied_events"]
    try:
        return STOCK_FUNCTIONS["states_for_tracker_history"](domain, tracker, omit, ignore, rule_only)
    finally:
        DialogueStateTracker.applied_events = patched


def assert_same_as_rasa(domain: Domain, tracker: DialogueStateTracker, rule_only: Dict[str, Any]) -> None:
    """Each answer is Rasa's for the tracker as it is just before. Rasa's replay itself changes
    the tracker's events (DefinePrevUserUtteredFeaturization on a message a form has undone),
    so Rasa's answer is taken on a copy, made before either function runs."""
    assert tracker.applied_events() == STOCK_FUNCTIONS["applied_events"](tracker)
    for omit, ignore in FLAGS:
        expected = stock_states(domain, copy.deepcopy(tracker), omit, ignore, rule_only if ignore else None)
        assert domain.states_for_tracker_history(tracker, omit, ignore, rule_only if ignore else None) == expected


def read_back(tracker: DialogueStateTracker, domain: Domain, how: str) -> DialogueStateTracker:
    """The tracker as a store would give it back next turn."""
    if how == "fork":
        return fork(tracker)
    events = [Event.from_parameters(event.as_dict()) for event in tracker.events]
    return DialogueStateTracker.from_events(tracker.sender_id, events, domain.slots)


@pytest.mark.parametrize("seed", range(12))
def test_resumed_states_are_rasas_states_event_after_event(domain: Domain, seed: int) -> None:
    rng = random.Random(seed)
    dialogue_states.clear()
    rule_only = {"rule_only_slots": [rng.choice(domain.slots).name], "rule_only_loops": [rng.choice(list(domain.form_names))]}
    tracker = DialogueStateTracker(f"conversation-{seed}", domain.slots)
    for step in range(160):
        tracker.update(random_event(rng, domain))
        if rng.random() < 0.5:
            assert_same_as_rasa(domain, tracker, rule_only)
        if rng.random() < 0.1:  # the next turn reads it back from the store
            tracker = read_back(tracker, domain, rng.choice(["fork", "dicts"]))
    assert_same_as_rasa(domain, tracker, rule_only)


def test_a_changed_history_is_walked_again_not_resumed(domain: Domain) -> None:
    """Same conversation id, other events (e.g. the tracker replaced through the HTTP API)."""
    dialogue_states.clear()
    first = DialogueStateTracker("replaced", domain.slots)
    for event in [ActionExecuted("action_listen"), UserUttered("hi", {"name": "greet"}), ActionExecuted("utter_greet")]:
        first.update(event)
    domain.states_for_tracker_history(first)
    second = DialogueStateTracker("replaced", domain.slots)
    for event in [ActionExecuted("action_listen"), UserUttered("bye", {"name": "goodbye"}), ActionExecuted("utter_goodbye")]:
        second.update(event)
    assert domain.states_for_tracker_history(second) == stock_states(domain, second, False, False, None)


def test_callers_changing_the_states_do_not_change_the_next_answer(domain: Domain) -> None:
    dialogue_states.clear()
    tracker = DialogueStateTracker("mutating-caller", domain.slots)
    for event in [ActionExecuted("action_listen"), UserUttered("hi", {"name": "greet"}), ActionExecuted("utter_greet")]:
        tracker.update(event)
    states = domain.states_for_tracker_history(tracker)
    for state in states:  # as Rasa's featurizers do (`_remove_user_text_if_intent`)
        state.get("user", {}).clear()
        state.clear()
    assert domain.states_for_tracker_history(tracker) == stock_states(domain, tracker, False, False, None)


def test_the_memory_is_bounded(domain: Domain, monkeypatch: pytest.MonkeyPatch) -> None:
    dialogue_states.clear()
    monkeypatch.setattr(dialogue_states, "MAX_CONVERSATIONS", 3)
    for index in range(10):
        tracker = DialogueStateTracker(f"bounded-{index}", domain.slots)
        tracker.update(ActionExecuted("action_listen"))
        domain.states_for_tracker_history(tracker)
    assert len(dialogue_states._walks) == 3
