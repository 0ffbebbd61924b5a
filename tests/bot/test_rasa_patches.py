"""The pinned Rasa fixes: the same verdicts and event classes as Rasa 3.6.21, found without rework.

Replies come over HTTP from a local stand-in action server, through Rasa's own `RemoteAction.run`;
the verdict of Rasa 3.6.21's original check (`jsonschema.validate` on the same schema) is the
reference each rejection is compared with.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Sequence

import jsonschema
import pytest
import rasa
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.exceptions import RasaException
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.utils.common import all_subclasses
from rasa.utils.endpoints import EndpointConfig

from bot.rasa_patches import PATCHED_RASA_VERSION, apply_rasa_patches, validate_action_result
from tests.bot.stand_in import running_stand_in

VALID = {"events": [{"event": "slot", "name": "frustration", "value": 0.25, "timestamp": None}], "responses": []}
INVALID = [
    {"events": [{"event": "no_such_event"}], "responses": []},
    {"events": [{"event": "slot", "name": 5}], "responses": []},
    {"events": "not a list", "responses": []},
    {"events": [], "responses": ["not an object"]},
    ["not", "an", "object"],
]


def run_remote_action(reply: Any) -> List[Any]:
    """Rasa's RemoteAction, answered over HTTP by a stand-in action server with `reply`."""
    domain = Domain.from_dict({"slots": {"frustration": {"type": "float", "mappings": [{"type": "custom"}]}},
                               "actions": ["action_under_test"]})
    with running_stand_in({"/webhook": reply}) as server:
        action = RemoteAction("action_under_test", EndpointConfig(url=f"{server.url}/webhook"))
        return asyncio.run(action.run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator({}),
                                      DialogueStateTracker("patch-test", domain.slots), domain))


def stock_verdict(reply: Any) -> jsonschema.ValidationError:
    """What Rasa 3.6.21's own check raises for `reply`."""
    with pytest.raises(jsonschema.ValidationError) as raised:
        jsonschema.validate(reply, RemoteAction.action_response_format_spec())
    return raised.value


def test_applies_on_the_pinned_rasa() -> None:
    assert rasa.__version__ == PATCHED_RASA_VERSION, "update bot/rasa_patches.py for this Rasa"
    assert apply_rasa_patches() is True
    assert RemoteAction._validate_action_result is validate_action_result


def test_a_valid_reply_is_accepted() -> None:
    apply_rasa_patches()
    assert run_remote_action(VALID) == [SlotSet("frustration", 0.25)]


@pytest.mark.parametrize("reply", INVALID, ids=["unknown event", "bad slot name", "events not a list",
                                                "response not an object", "not an object"])
def test_an_invalid_reply_is_rejected_as_before(reply: Dict[str, Any]) -> None:
    apply_rasa_patches()
    expected = stock_verdict(reply)

    with pytest.raises(jsonschema.ValidationError) as raised:
        run_remote_action(reply)

    error = raised.value
    assert error.message.startswith(expected.message + ". Failed to validate Action server response")
    assert (list(error.path), list(error.schema_path), error.validator) == (
        list(expected.path), list(expected.schema_path), expected.validator)


def test_refuses_other_rasa_versions(caplog: pytest.LogCaptureFixture) -> None:
    original = RemoteAction.__dict__["_validate_action_result"]
    with caplog.at_level(logging.WARNING, logger="bot.rasa_patches"):
        assert apply_rasa_patches(rasa_version="3.6.22") is False
    assert RemoteAction.__dict__["_validate_action_result"] is original
    assert "rasa_patches.skipped rasa=3.6.22 patched_for=3.6.21" in caplog.text


def reference_event_class(type_name: str) -> type:
    """Rasa 3.6.21's own lookup: the first subclass of Event, in its walk order, with that name."""
    return next(cls for cls in all_subclasses(Event) if cls.type_name == type_name)


def test_event_types_resolve_to_the_same_classes() -> None:
    apply_rasa_patches()
    names = {cls.type_name for cls in all_subclasses(Event)}
    assert len(names) > 20
    for name in names:
        assert Event.resolve_by_type(name) is reference_event_class(name), name
    assert Event.from_parameters({"event": "slot", "name": "frustration", "value": 0.5}) == SlotSet("frustration", 0.5)


def test_unknown_event_types_behave_as_before() -> None:
    apply_rasa_patches()
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no_such_event", default=SlotSet) is SlotSet
    with pytest.raises(ValueError, match="Unknown event name 'no_such_event'."):
        Event.resolve_by_type("no_such_event")


def test_event_classes_defined_later_are_found() -> None:
    apply_rasa_patches()
    Event.resolve_by_type("user")  # the table exists before the new class does

    class Escalated(ActionExecuted):
        type_name = "test_escalated"

    assert Event.resolve_by_type("test_escalated") is Escalated


# -- fix 3: a failed action server call is answered with utter_technical_problem ---------------

PROBLEM_TEXTS = {"en": "Sorry, a technical problem.", "es": "Lo siento, un problema técnico."}
PROBLEM_DOMAIN = Domain.from_dict({
    "slots": {"language": {"type": "text", "mappings": [{"type": "custom"}]}},
    "actions": ["action_under_test"],
    "responses": {"utter_technical_problem": [
        {"text": PROBLEM_TEXTS["en"]},
        {"text": PROBLEM_TEXTS["es"], "condition": [{"type": "slot", "name": "language", "value": "es"}]},
    ]},
})


def run_failing_action(url: str, name: str = "action_under_test", events: Sequence[Event] = ()) -> List[Event]:
    """RemoteAction `name` against `url`, in a Spanish conversation whose last events are `events`."""
    apply_rasa_patches()
    tracker = DialogueStateTracker.from_events("patch-test", [SlotSet("language", "es"), *events], PROBLEM_DOMAIN.slots)
    action = RemoteAction(name, EndpointConfig(url=url))
    nlg = TemplatedNaturalLanguageGenerator(PROBLEM_DOMAIN.responses)
    return asyncio.run(action.run(CollectingOutputChannel(), nlg, tracker, PROBLEM_DOMAIN))


def told(events: List[Event]) -> List[Any]:
    return [(event.text, event.metadata.get("utter_action")) for event in events if isinstance(event, BotUttered)]


def test_an_unreachable_action_server_is_answered_in_the_conversations_language(caplog: pytest.LogCaptureFixture) -> None:
    with running_stand_in() as server:
        url = f"{server.url}/webhook"
    # the stand-in has stopped: nothing listens on its port any more
    with caplog.at_level(logging.ERROR, logger="bot.rasa_patches"):
        events = run_failing_action(url)
    assert told(events) == [(PROBLEM_TEXTS["es"], "utter_technical_problem")]
    assert f"action_server.unreachable url={url} action=action_under_test" in caplog.text


@pytest.mark.parametrize("reply, status, cause", [
    ({"error": "boom"}, 500, "error status=500"),
    ({"error": "no token"}, 401, "error status=401"),
    ({"events": "not a list"}, 200, "invalid_reply"),
])
def test_an_erroring_action_server_is_answered_and_the_cause_logged(
    caplog: pytest.LogCaptureFixture, reply: Dict[str, Any], status: int, cause: str
) -> None:
    with running_stand_in() as server, caplog.at_level(logging.ERROR, logger="bot.rasa_patches"):
        server.answer("/webhook", reply, status=status)
        events = run_failing_action(f"{server.url}/webhook")
    assert told(events) == [(PROBLEM_TEXTS["es"], "utter_technical_problem")]
    assert f"action_server.{cause} url={server.url}/webhook action=action_under_test" in caplog.text


def test_a_rejection_still_lets_other_policies_take_over() -> None:
    with running_stand_in() as server:
        server.answer("/webhook", {"action_name": "action_under_test", "error": "not now"}, status=400)
        with pytest.raises(ActionExecutionRejection):
            run_failing_action(f"{server.url}/webhook")


def test_actions_around_the_turn_and_a_second_failure_in_one_turn_fail_as_before() -> None:
    with running_stand_in() as server:
        server.answer("/webhook", {"error": "boom"}, status=500)
        url = f"{server.url}/webhook"
        with pytest.raises(RasaException):
            run_failing_action(url, name="action_validate_slot_mappings")
        already = [UserUttered("hola"), BotUttered(PROBLEM_TEXTS["es"], metadata={"utter_action": "utter_technical_problem"})]
        with pytest.raises(RasaException):
            run_failing_action(url, events=already)
        assert told(run_failing_action(url, events=[*already, UserUttered("¿hola?")])) == [
            (PROBLEM_TEXTS["es"], "utter_technical_problem")
        ]


def test_a_failed_session_start_is_rasas_own_so_the_next_message_is_understood() -> None:
    with running_stand_in() as server:
        url = f"{server.url}/webhook"
    events = run_failing_action(url, name="action_session_start")
    assert isinstance(events[0], SessionStarted) and events[-1] == ActionExecuted("action_listen")
    assert SlotSet("language", "es") in events  # carried over, as Rasa's session start does
