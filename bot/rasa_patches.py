"""Pinned fixes to Rasa Open Source itself, applied when the bot's Rasa-side code loads.

Each fix replaces one function of the one Rasa release it was written against, keeps that
function's behaviour, and refuses to apply to any other release: a newer Rasa may have fixed
the problem (or changed the function), so it is logged and left alone. `bot/__init__.py`
applies them in the Rasa process (`rasa run`, `rasa shell`, tests that load an agent); the
action server, which imports `bot.pii` but never Rasa's core, is left as it is.

Fix 1, `RemoteAction._validate_action_result`: Rasa 3.6.21 checks every action-server reply
with `jsonschema.validate(result, schema)`, which validates the *schema* again and builds a new
validator on every call; under load that was 35-64 % of the Rasa process's CPU. Here the
validator is built (and the schema checked) once per schema, and each reply goes through the
same checks: the error raised is the one `jsonschema.validate` picks (`best_match`), with
Rasa's own hint appended. Upstream, the same change is a module-level cached validator in
`rasa/core/actions/action.py`.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Dict, Text

import rasa
from jsonschema import Validator
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.shared.constants import DOCS_BASE_URL

logger = logging.getLogger(__name__)

PATCHED_RASA_VERSION = "3.6.21"


def apply_rasa_patches(rasa_version: Text = rasa.__version__) -> bool:
    """Installs the fixes on Rasa `PATCHED_RASA_VERSION`; on any other version logs why not.

    Idempotent. Returns whether the fixes are in place.
    """
    from rasa.core.actions.action import RemoteAction

    if rasa_version != PATCHED_RASA_VERSION:
        logger.warning(
            "rasa_patches.skipped rasa=%s patched_for=%s: the cached action-reply validator is not applied; "
            "check whether this Rasa still calls jsonschema.validate per reply, then update bot/rasa_patches.py",
            rasa_version,
            PATCHED_RASA_VERSION,
        )
        return False
    if RemoteAction._validate_action_result is not validate_action_result:
        RemoteAction._validate_action_result = validate_action_result
        logger.info("rasa_patches.applied rasa=%s fixes=cached_action_reply_validator", rasa_version)
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
