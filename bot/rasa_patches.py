"""Pinned fixes to Rasa Open Source itself, applied when the bot's Rasa-side code loads.

Each fix replaces one function of the one Rasa release it was written against, keeps that
function's behaviour, and refuses to apply to any other release: a newer Rasa may have fixed
the problem (or changed the function), so it is logged and left alone. `bot/__init__.py`
applies them in every process that has Rasa's core loaded when `bot` is first imported
(`rasa run`, `rasa shell`, `rasa run actions`, tests that load an agent).

Fix 1, `RemoteAction._validate_action_result`: Rasa 3.6.21 checks every action-server reply
with `jsonschema.validate(result, schema)`, which validates the *schema* again and builds a new
validator on every call; under load that was 35-64 % of the Rasa process's CPU. Here the
validator is built (and the schema checked) once per schema, and each reply goes through the
same checks: the error raised is the one `jsonschema.validate` picks (`best_match`), with
Rasa's own hint appended. Upstream, the same change is a module-level cached validator in
`rasa/core/actions/action.py`.

Fix 2, `Event.resolve_by_type`: Rasa 3.6.21 walks every subclass of `Event` (with an
`inspect.isabstract` check each) to turn an event's type name into its class, once per event
it reads: from the tracker store on every turn, from every action-server reply. That walk was
90 % of a tracker's deserialisation, so reading a conversation cost ~0.2 ms per event. Here the
type names map to classes in a table built from the same walk (first class in the walk's order
wins, as before); a name not in the table walks again, so event classes defined later are
still found. Unknown names behave as before (`topic` → None, else `default`, else ValueError).

Fix 3, `RemoteAction.run`: when the action server cannot be reached, answers with an error
status, times out or sends a reply that fails the schema, Rasa 3.6.21 logs a traceback, drops
the action's events and sends the customer nothing (the web page shows nothing at all). Here
the failure is logged with its cause (`action_server.unreachable url=… action=…`, `.error
status=…`, `.timeout`, `.invalid_reply`) and the predicted action answers with the domain
response `utter_technical_problem`, in the conversation's language (its `language` slot), once
per customer message. A failed custom session start is replaced by Rasa's own
(`SessionStarted`, the slots carried over, `action_listen`): without its events no rule
matched the customer's message and the fallback answered. Slot validation and custom slot
mappings fail as before: the action predicted next answers.
A 400 (`ActionExecutionRejection`) is still raised, so other policies can take over.

Fix 4, `DialogueStateTracker.applied_events` and `Domain.states_for_tracker_history`: Rasa
3.6.21 walks and replays the whole conversation each time a policy asks for its states, several
times a turn, so a turn cost more the longer the conversation was. Here both go on from where
their last call stopped, with the same results (`bot/dialogue_states.py`).

Fix 5, `DialogueStateTracker.copy`: Rasa 3.6.21 replays every event into the copy, and the
processor copies the tracker before every action it runs. Here the copy shares the events and
copies the state they replay to (`bot/tracker_copy.py`).

Fix 6, `Policy.format_tracker_states`: RulePolicy formats every dialogue state of the
conversation into a text for a debug log line on each prediction. Here the text is made only
when Rasa logs at debug level; otherwise the line (which is dropped) gets "".

Fix 7, `Policy._prediction_states`: each policy got copies of the states of the whole
conversation, several times a turn. Here MemoizationPolicy and RulePolicy get the last states,
as many as they read (`bot/dialogue_states.py`); other policies all of them, as before.

Fix 8, `RemoteAction._action_call_format`: with `events_window` under `action_endpoint:` in
endpoints.yml, a custom action call carries the events of the last customer turns instead of the
whole conversation (`bot/action_events.py`); without it, every event, as before.

Fix 9, `FormAction._temporary_tracker`: a form rebuilt a tracker from every event each time it
validated or asked for a slot. Here the tracker is copied without replay (`bot/tracker_copy.py`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any, Callable, Dict, List, Optional, Set, Text, Type

import rasa
from jsonschema import ValidationError, Validator
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.constants import ACTION_SESSION_START_NAME, ACTION_VALIDATE_SLOT_MAPPINGS
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.shared.utils.common import all_subclasses
from rasa.utils.endpoints import ClientResponseError

from bot import action_events, dialogue_states, tracker_copy

logger = logging.getLogger(__name__)

PATCHED_RASA_VERSION = "3.6.21"
TECHNICAL_PROBLEM_RESPONSE = "utter_technical_problem"


def apply_rasa_patches(rasa_version: Text = rasa.__version__) -> bool:
    """Installs the fixes on Rasa `PATCHED_RASA_VERSION`; on any other version logs why not.

    Idempotent. Returns whether the fixes are in place.
    """
    from rasa.core.actions.action import RemoteAction
    from rasa.core.actions.forms import FormAction
    from rasa.core.policies.policy import Policy

    if rasa_version != PATCHED_RASA_VERSION:
        logger.warning(
            "rasa_patches.skipped rasa=%s patched_for=%s: Rasa runs unpatched (slower action replies, event "
            "reading and turns that grow with the conversation, no answer when the action server fails); check "
            "whether this release still needs the fixes, "
            "then update bot/rasa_patches.py",
            rasa_version,
            PATCHED_RASA_VERSION,
        )
        return False
    if RemoteAction._validate_action_result is not validate_action_result:
        RemoteAction._validate_action_result = validate_action_result
        Event.resolve_by_type = staticmethod(resolve_event_type)
        STOCK_FUNCTIONS.update(
            remote_run=RemoteAction.run, applied_events=DialogueStateTracker.applied_events,
            states_for_tracker_history=Domain.states_for_tracker_history, copy=DialogueStateTracker.copy,
            format_tracker_states=Policy.format_tracker_states, prediction_states=Policy._prediction_states,
            action_call_format=RemoteAction._action_call_format, form_temporary_tracker=FormAction._temporary_tracker,
        )
        RemoteAction.run = run_remote_action
        DialogueStateTracker.applied_events = dialogue_states.applied_events
        Domain.states_for_tracker_history = dialogue_states.states_for_tracker_history
        DialogueStateTracker.copy = tracker_copy.copy_tracker
        Policy.format_tracker_states = staticmethod(format_tracker_states_if_logged)
        Policy._prediction_states = dialogue_states.prediction_states
        RemoteAction._action_call_format = action_events.action_call_format
        FormAction._temporary_tracker = tracker_copy.form_temporary_tracker
        logger.info(
            "rasa_patches.applied rasa=%s fixes=action_reply_validator,event_type_table,action_failure_answer,"
            "resumed_dialogue_states,tracker_copy_without_replay,states_text_only_for_debug,states_policies_read,"
            "action_events_window,form_tracker_without_replay",
            rasa_version,
        )
    return True


@functools.lru_cache(maxsize=None)
def _validator(action_class: type) -> Validator:
    """The validator of `action_class`'s reply schema, the schema checked once (as `validate` does)."""
    schema = action_class.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_action_result(self: Any, result: Dict[Text, Any]) -> bool:
    """Rasa 3.6.21's `RemoteAction._validate_action_result`, with its validator built once."""
    error = best_match(_validator(type(self)).iter_errors(result))
    if error is None:
        return True
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


_event_classes: Dict[Text, Type[Event]] = {}


def _refresh_event_classes() -> None:
    table: Dict[Text, Type[Event]] = {}
    for cls in all_subclasses(Event):
        table.setdefault(cls.type_name, cls)
    _event_classes.clear()
    _event_classes.update(table)


def resolve_event_type(type_name: Text, default: Optional[Type[Event]] = None) -> Optional[Type[Event]]:
    """Rasa 3.6.21's `Event.resolve_by_type`, from a table instead of a walk per event."""
    if type_name not in _event_classes:
        _refresh_event_classes()
    if type_name in _event_classes:
        return _event_classes[type_name]
    if type_name == "topic":
        return None  # backwards compatibility to support old TopicSet evts
    if default is not None:
        return default
    raise ValueError(f"Unknown event name '{type_name}'.")


# Rasa's own functions that fixes 3-9 replace, kept by apply_rasa_patches: fix 3 calls Rasa's
# `RemoteAction.run`, and the tests compare the others with theirs.
STOCK_FUNCTIONS: Dict[Text, Callable[..., Any]] = {}


async def run_remote_action(self: Any, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> List[Event]:
    """Rasa 3.6.21's `RemoteAction.run`; a failed action server call answers `utter_technical_problem`."""
    from rasa.core.actions.action import ActionExecutionRejection, ActionSessionStart, create_bot_utterance

    try:
        return await STOCK_FUNCTIONS["remote_run"](self, output_channel, nlg, tracker, domain)
    except ActionExecutionRejection:
        raise
    except (RasaException, ValidationError, asyncio.TimeoutError) as error:
        url = self.action_endpoint.url if self.action_endpoint else None
        logger.error("action_server.%s url=%s action=%s", failure_cause(error), url, self.name())
        if self.name() == ACTION_SESSION_START_NAME:
            # Without its events (SessionStarted, action_listen) no rule matches the next message.
            return await ActionSessionStart().run(output_channel, nlg, tracker, domain)
        if self.name() in actions_around_the_turn(domain) or told_already(tracker):
            raise
        message = await nlg.generate(TECHNICAL_PROBLEM_RESPONSE, tracker, output_channel.name())
        if message is None:  # a domain without the response: Rasa's own behaviour
            raise
        message["utter_action"] = TECHNICAL_PROBLEM_RESPONSE
        return [create_bot_utterance(message)]


def failure_cause(error: BaseException) -> Text:
    """The log's name for why the action server gave no usable answer (Rasa 3.6.21's exceptions)."""
    if isinstance(error, ValidationError):
        return "invalid_reply"
    if isinstance(error, asyncio.TimeoutError):
        return "timeout"
    if isinstance(error.__cause__, ClientResponseError):
        return f"error status={error.__cause__.status}"
    if "Couldn't connect" in str(error):
        return "unreachable"
    if "no endpoint is configured" in str(error):
        return "not_configured"
    return "failed"


def actions_around_the_turn(domain: Any) -> Set[Text]:
    """Custom actions Rasa runs around a turn, not to answer it (slot validation and mappings)."""
    names = {ACTION_VALIDATE_SLOT_MAPPINGS}
    for slot in domain.slots:
        names.update(mapping["action"] for mapping in slot.mappings if mapping.get("action"))
    return names


def told_already(tracker: Any) -> bool:
    """Whether this customer message was already answered with `utter_technical_problem`."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, BotUttered) and event.metadata.get("utter_action") == TECHNICAL_PROBLEM_RESPONSE:
            return True
    return False


def format_tracker_states_if_logged(states: List[Dict[Text, Any]]) -> Text:
    """Rasa 3.6.21's `Policy.format_tracker_states` when Rasa logs debug lines, else ""."""
    if not logging.getLogger("rasa").isEnabledFor(logging.DEBUG):
        return ""
    return STOCK_FUNCTIONS["format_tracker_states"](states)
