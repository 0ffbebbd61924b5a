"""The one input contract every channel applies to what arrives from the outside world.

Channels turn bad input into a clear 4xx with `InvalidInput`, before anything reaches Rasa.
Every check does work bounded by the (already size-limited, bot/http_limits.py) body:

- text: a string of at most `MAX_MESSAGE_CHARS` characters (the web page's own limit), without
  control characters (tab and newline stay), unpaired surrogates (Cs, they crash the tokenizer)
  or format characters (Cf: bidi overrides, zero-width spaces, BOMs), except ZWNJ and ZWJ:
  Persian and Indic scripts need them to spell words right, and emoji sequences are joined by
  ZWJ. They change no reading order, so they are harmless to keep.
- JSON: strict UTF-8, at most `MAX_JSON_DEPTH` nested arrays/objects (deep nesting overflows
  the parser's and the redaction's recursion), numbers of at most `MAX_NUMBER_CHARS` characters,
  finite (no NaN, Infinity, 1e999).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Any, Dict, Optional, Text

MAX_MESSAGE_CHARS = 5000
MAX_SENDER_CHARS = 128
MAX_JSON_DEPTH = 32
MAX_NUMBER_CHARS = 40
KEPT_FORMAT_CHARS = frozenset({"\u200c", "\u200d"})  # ZWNJ, ZWJ: see the module docstring
KEPT_CONTROL_CHARS = frozenset("\n\t")
_SENDER = re.compile(r"^[\w.:@+\-]+$", re.UNICODE)
# JSON strings (skipped whole, so brackets inside them do not count) and brackets. A string has
# one way to match and its closing quote is optional (an unclosed one runs to the end, never
# backtracks), so the scan reads each character once.
_JSON_NESTING_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)


class InvalidInput(ValueError):
    """The request cannot be processed; the message says why, for the 4xx body."""


def clean_text(value: Any, max_chars: int = MAX_MESSAGE_CHARS) -> Text:
    """Returns the message text without the characters the contract removes, or raises `InvalidInput`."""
    if not isinstance(value, str):
        raise InvalidInput("'message' must be a string.")
    if len(value) > max_chars:
        raise InvalidInput(f"'message' is longer than {max_chars} characters.")
    text = "".join(char for char in value if _kept(char)).strip()
    if not text:
        raise InvalidInput("'message' is empty.")
    return text


def _kept(char: Text) -> bool:
    category = unicodedata.category(char)
    if category == "Cc":
        return char in KEPT_CONTROL_CHARS
    if category == "Cf":
        return char in KEPT_FORMAT_CHARS
    return category != "Cs"


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
    """The JSON value of `body` under the contract's bounds (module docstring), or `InvalidInput`."""
    if not body:
        raise InvalidInput("The request body is empty; send a JSON object.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("The request body is not valid UTF-8.") from None
    _check_depth(text)
    try:
        return json.loads(text, parse_int=_bounded_int, parse_float=_bounded_float, parse_constant=_no_constant)
    except json.JSONDecodeError:
        raise InvalidInput("The request body is not valid JSON.") from None


def _check_depth(text: Text) -> None:
    depth = 0
    for token in _JSON_NESTING_TOKENS.finditer(text):
        bracket = token.group()
        if bracket in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise InvalidInput(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.")
        elif bracket in "]}":
            depth -= 1


def _bounded_int(literal: Text) -> int:
    _check_number_length(literal)
    return int(literal)


def _bounded_float(literal: Text) -> float:
    _check_number_length(literal)
    number = float(literal)
    if not math.isfinite(number):
        raise InvalidInput(f"The JSON number {literal} is too large.")
    return number


def _check_number_length(literal: Text) -> None:
    if len(literal) > MAX_NUMBER_CHARS:
        raise InvalidInput(f"A JSON number in the body is longer than {MAX_NUMBER_CHARS} characters.")


def _no_constant(name: Text) -> Any:
    raise InvalidInput(f"{name} is not a JSON number; the body must be standard JSON.")
