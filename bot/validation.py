"""Checks that every channel applies to what arrives from the outside world.

Channels turn bad input into a clear 4xx with `InvalidInput`, before anything reaches Rasa.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any, Dict, Optional, Text

MAX_MESSAGE_CHARS = 5000
MAX_SENDER_CHARS = 128
_SENDER = re.compile(r"^[\w.:@+\-]+$", re.UNICODE)


class InvalidInput(ValueError):
    """The request cannot be processed; the message says why, for the 4xx body."""


def clean_text(value: Any, max_chars: int = MAX_MESSAGE_CHARS) -> Text:
    """Returns the message text without control characters, or raises `InvalidInput`."""
    if not isinstance(value, str):
        raise InvalidInput("'message' must be a string.")
    if len(value) > max_chars:
        raise InvalidInput(f"'message' is longer than {max_chars} characters.")
    text = "".join(char for char in value if char in "\n\t" or unicodedata.category(char) != "Cc")
    text = text.strip()
    if not text:
        raise InvalidInput("'message' is empty.")
    return text


def clean_sender(value: Any) -> Text:
    if not isinstance(value, str) or not value or len(value) > MAX_SENDER_CHARS or not _SENDER.match(value):
        raise InvalidInput(
            f"'sender' must be 1-{MAX_SENDER_CHARS} letters, digits or . : @ + - _ characters."
        )
    return value


def json_object(body: Optional[Any]) -> Dict[Text, Any]:
    if not isinstance(body, dict):
        raise InvalidInput("The request body must be a JSON object.")
    return body


def parse_json(body: bytes) -> Optional[Any]:
    if not body:
        raise InvalidInput("The request body is empty; send a JSON object.")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInput("The request body is not valid JSON.") from None
