"""Custom action calls with a window of events (bot/action_events.py, fix 8), against Rasa's call."""

from __future__ import annotations

import inspect
import random
from typing import Any, Dict

import pytest
import yaml
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from rasa_sdk import Action

from actions import conversation as conversation_actions
from bot.action_events import EventsWindow, EventsWindowConfigError
from bot.rasa_patches import STOCK_FUNCTIONS, apply_rasa_patches
from tests.bot.test_dialogue_states import random_event
from tests.conftest import REPO

WINDOW = {"turns": 2, "whole_conversation": ["action_handoff"]}


@pytest.fixture(scope="module")
def domain() -> Domain:
    assert apply_rasa_patches(), "the fixes apply on this Rasa"
    return Domain.load(REPO / "domain.yml")


def endpoint(**kwargs: Any) -> EndpointConfig:
    return EndpointConfig(url="http://127.0.0.1:1/webhook", **kwargs)


def conversation(domain: Domain, seed: int, events: int = 150) -> DialogueStateTracker:
    rng = random.Random(seed)
    tracker = DialogueStateTracker(f"action-events-{seed}", domain.slots)
    for _ in range(events):
        tracker.update(random_event(rng, domain))
    return tracker


def without_events(call: Dict[str, Any]) -> Dict[str, Any]:
    return {**call, "tracker": {**call["tracker"], "events": None}}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("action", ["action_order_status", "validate_order_lookup_form", "action_handoff"])
@pytest.mark.parametrize("selective", [True, False])
def test_a_call_is_rasas_call_with_the_last_turns_events(domain: Domain, seed: int, action: str, selective: bool) -> None:
    tracker = conversation(domain, seed)
    ours = RemoteAction(action, endpoint(events_window=WINDOW, enable_selective_domain=selective))
    rasas = STOCK_FUNCTIONS["action_call_format"](RemoteAction(action, endpoint(enable_selective_domain=selective)), tracker, domain)
    call = ours._action_call_format(tracker, domain)
    assert without_events(call) == without_events(rasas)  # slots, latest message, loop, domain: whole
    events = rasas["tracker"]["events"]
    if action == "action_handoff":
        assert call["tracker"]["events"] == events
        return
    users = [index for index, event in enumerate(tracker.events) if isinstance(event, UserUttered)]
    start = users[-2] if len(users) >= 2 else 0
    assert call["tracker"]["events"] == events[start:]
    assert len(call["tracker"]["events"]) < len(events) or start == 0


def test_without_a_window_every_event_goes_as_in_rasa(domain: Domain) -> None:
    tracker = conversation(domain, 9)
    action = RemoteAction("action_order_status", endpoint(enable_selective_domain=True))
    assert action._action_call_format(tracker, domain) == STOCK_FUNCTIONS["action_call_format"](action, tracker, domain)


def test_a_short_conversation_sends_everything(domain: Domain) -> None:
    tracker = DialogueStateTracker("short", domain.slots)
    tracker.update(UserUttered("hi", {"name": "greet"}))
    window = EventsWindow.from_endpoint(endpoint(events_window={"turns": 3}))
    assert window.events_for("action_greet", tracker) == list(tracker.events)


@pytest.mark.parametrize(
    "config, names",
    [
        ({"turns": 0}, "`turns` is 0"),
        ({"turns": "two"}, "`turns` is 'two'"),
        ({"turns": True}, "`turns` is True"),
        ({"whole_conversation": "action_handoff"}, "must be a list of action names"),
        ({"turn": 2}, "takes `turns`"),
        (["turns"], "takes `turns`"),
    ],
)
def test_a_bad_window_names_its_fix(config: Any, names: str) -> None:
    with pytest.raises(EventsWindowConfigError, match="under `action_endpoint:` in endpoints.yml") as error:
        EventsWindow.from_endpoint(endpoint(events_window=config))
    assert names in str(error.value)


@pytest.mark.parametrize("endpoints", ["endpoints.yml", "deploy/endpoints.replicas.yml"])
def test_the_shipped_window_gives_the_transcript_action_every_event(domain: Domain, endpoints: str) -> None:
    """The demo's actions read the current turn's events, except the one that writes the agent's
    transcript (actions/conversation.py), which must get the whole conversation."""
    config = yaml.safe_load((REPO / endpoints).read_text(encoding="utf-8"))["action_endpoint"]
    window = EventsWindow.from_endpoint(endpoint(events_window=config["events_window"]))
    transcript_writers = {
        cls().name() for cls in vars(conversation_actions).values()
        if inspect.isclass(cls) and issubclass(cls, Action) and "transcript(tracker)" in inspect.getsource(cls)
    }
    assert transcript_writers and transcript_writers <= window.whole_conversation <= set(domain.user_actions)
