"""A tracker copy without the replay (bot/tracker_copy.py) equals Rasa 3.6.21's replayed copy."""

from __future__ import annotations

import logging
import random
from typing import Optional

import pytest
from rasa.core.policies.policy import Policy
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

from bot.rasa_patches import STOCK_FUNCTIONS, apply_rasa_patches
from tests.bot.test_dialogue_states import random_event
from tests.conftest import REPO


@pytest.fixture(scope="module")
def domain() -> Domain:
    assert apply_rasa_patches(), "the fixes apply on this Rasa"
    return Domain.load(REPO / "domain.yml")


def without_time(event: Optional[Event]) -> Optional[dict]:
    return None if event is None else {key: value for key, value in event.as_dict().items() if key != "timestamp"}


def state_of(tracker: DialogueStateTracker) -> dict:
    return {
        "current": tracker.current_state(EventVerbosity.ALL),
        "sender": (tracker.sender_id, tracker.sender_source, tracker.model_id, tracker.assistant_id),
        "paused": tracker.is_paused(),
        "followup": tracker.followup_action,
        "latest_action": tracker.latest_action,
        # Without the timestamp: where there is none yet, each tracker makes its own empty one.
        "latest_message": without_time(tracker.latest_message),
        "latest_bot": without_time(tracker.latest_bot_utterance),
        "loop": tracker.active_loop,
        "slots": {name: slot.value for name, slot in tracker.slots.items()},
    }


@pytest.mark.parametrize("seed", range(8))
def test_the_copy_is_rasas_copy(domain: Domain, seed: int) -> None:
    rng = random.Random(seed)
    tracker = DialogueStateTracker(f"copy-{seed}", domain.slots)
    tracker.model_id, tracker.assistant_id = "model", "assistant"
    for _ in range(120):
        tracker.update(random_event(rng, domain))
        if rng.random() < 0.3:
            ours, rasas = tracker.copy(), STOCK_FUNCTIONS["copy"](tracker)
            assert state_of(ours) == state_of(rasas)
            assert all(mine is theirs for mine, theirs in zip(ours.events, rasas.events))


def test_changing_the_copy_leaves_the_tracker_alone(domain: Domain) -> None:
    tracker = DialogueStateTracker("original", domain.slots)
    tracker.update(UserUttered("hi", {"name": "greet"}))
    tracker.update(SlotSet("language", "es"))
    before = state_of(tracker)
    copied = tracker.copy()
    copied.update(SlotSet("language", "de"))
    copied.update(UserUttered("bye", {"name": "goodbye"}))
    copied.slots["language"].value = "fr"
    assert state_of(tracker) == before


def test_rule_states_are_formatted_only_for_debug_logs(caplog: pytest.LogCaptureFixture, domain: Domain) -> None:
    states = [{"user": {"intent": "greet"}, "prev_action": {"action_name": "action_listen"}}]
    logging.getLogger("rasa").setLevel(logging.INFO)
    assert Policy.format_tracker_states(states) == ""
    logging.getLogger("rasa").setLevel(logging.DEBUG)
    try:
        assert Policy.format_tracker_states(states) == STOCK_FUNCTIONS["format_tracker_states"](states) != ""
    finally:
        logging.getLogger("rasa").setLevel(logging.WARNING)


@pytest.mark.parametrize("seed", range(6))
def test_a_forms_temporary_tracker_is_rasas(domain: Domain, seed: int) -> None:
    """Fix 9: the tracker a form validates and asks on, without the replay, against Rasa's rebuilt one."""
    from rasa.core.actions.forms import FormAction

    rng = random.Random(seed)
    form = FormAction("order_lookup_form", None)
    tracker = DialogueStateTracker(f"form-{seed}", domain.slots)
    for _ in range(100):
        tracker.update(random_event(rng, domain))
        if rng.random() < 0.3:
            added = [SlotSet("order_number", str(rng.randint(10000, 99999))), UserUttered("x", {"name": "inform"})][: rng.randint(0, 2)]
            ours = form._temporary_tracker(tracker, list(added), domain)
            rasas = STOCK_FUNCTIONS["form_temporary_tracker"](form, tracker, list(added), domain)
            expected, got = untimed(state_of(rasas)), untimed(state_of(ours))
            if not any(event.type_name == "restart" for event in tracker.events):
                # The same events after the restart-free history, which ours shares instead of rebuilding.
                assert got["current"]["events"][: -len(added) - 2] == [without_time(event) for event in tracker.events]
            assert got["current"]["events"][-len(added) - 2:] == expected["current"]["events"][-len(added) - 2:]
            got["current"]["events"] = expected["current"]["events"] = None
            assert got == expected


def untimed(state: dict) -> dict:
    """`state_of` without the moments the two trackers' own events were made at."""
    current = {**state["current"], "latest_event_time": None}
    current["events"] = [{k: v for k, v in event.items() if k != "timestamp"} for event in current["events"]]
    return {**state, "current": current}
