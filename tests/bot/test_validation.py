"""The input contract every channel applies (bot/validation.py), on the inputs fuzzing found."""

from __future__ import annotations

import json

import pytest

from bot.validation import (
    MAX_JSON_DEPTH, MAX_MESSAGE_CHARS, MAX_NUMBER_CHARS, MAX_SENDER_CHARS, InvalidInput, clean_sender, clean_text, json_object,
    parse_json,
)


@pytest.mark.parametrize(
    "raw, cleaned",
    [
        ("where is my order 10001?", "where is my order 10001?"),
        ("  hola\n\tqué tal  ", "hola\n\tqué tal"),
        ("a\ud800b\udfffc", "abc"),  # unpaired surrogates crash the tokenizer
        ("\u202eredro\u202c ym si erehw", "redro ym si erehw"),  # bidi override and pop
        ("\u2066x\u2069\u200e\u200f", "x"),  # isolates, LRM, RLM
        ("zero\u200bwidth\ufeff", "zerowidth"),  # ZWSP, BOM
        ("می\u200cخواهم", "می\u200cخواهم"),  # ZWNJ spells Persian words
        ("👩\u200d💻", "👩\u200d💻"),  # ZWJ joins emoji
        ("bell\x07 null\x00 esc\x1b", "bell null esc"),
    ],
)
def test_text_is_cleaned_of_surrogates_format_and_control_characters(raw: str, cleaned: str) -> None:
    assert clean_text(raw) == cleaned


@pytest.mark.parametrize(
    "raw, reason",
    [
        (None, "must be a string"),
        (5, "must be a string"),
        (["hi"], "must be a string"),
        ("a" * (MAX_MESSAGE_CHARS + 1), f"longer than {MAX_MESSAGE_CHARS}"),
        ("a" * 40_000, "longer than"),
        ("\ud800\u202e\u200b \x00", "empty"),
    ],
)
def test_bad_text_is_refused_with_a_reason(raw: object, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        clean_text(raw)


def test_text_of_exactly_the_limit_is_accepted() -> None:
    assert clean_text("a" * MAX_MESSAGE_CHARS) == "a" * MAX_MESSAGE_CHARS


def test_a_channel_may_set_a_shorter_limit() -> None:
    assert clean_text("a" * 10, max_chars=10) == "a" * 10
    with pytest.raises(InvalidInput, match="longer than 9 characters"):
        clean_text("a" * 10, max_chars=9)


@pytest.mark.parametrize(
    "sender", ["x", "sms:+34612345678", "whatsapp:+14155238886", "slack:TNORDHAVEN:U1", "maria.garcia@example.com", "u_1-2", "ü" * MAX_SENDER_CHARS]
)
def test_senders_of_every_channel_are_kept_as_they_are(sender: str) -> None:
    assert clean_sender(sender) == sender


@pytest.mark.parametrize("sender", [None, "", "a b", "x" * 129, "../etc", "\ud800", "ok\u200dok", 7])
def test_bad_senders_are_refused(sender: object) -> None:
    with pytest.raises(InvalidInput, match="'sender'"):
        clean_sender(sender)


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"", "empty"),
        (b"\xff\xfe{}", "not valid UTF-8"),
        (b'{"message": "\xed\xa0\x80"}', "not valid UTF-8"),  # a surrogate encoded in UTF-8 is not UTF-8
        (b"{not json", "not valid JSON"),
        (b"[" * 5000, "nested deeper"),
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, "nested deeper"),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), "nested deeper"),
        (b'{"n": ' + b"9" * 5000 + b"}", "longer than"),
        (b'{"n": 0.' + b"1" * 5000 + b"}", "longer than"),
        (b'{"n": 1e999}', "too large"),
        (b'{"n": NaN}', "NaN"),
        (b"-Infinity", "Infinity"),
        (b'"' + b'\\"' * 50_000, "not valid JSON"),  # an unclosed string of escaped quotes: scanned once
    ],
)
def test_bad_json_is_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        parse_json(body)


def test_json_within_the_bounds_parses_as_usual() -> None:
    nested = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)  # inside the body object: the limit exactly
    body = json.dumps({"text": "[[[{{{ not nesting ]]", "n": 12345678901234567890, "x": -1.5e300, "deep": json.loads(nested)})
    assert parse_json(body.encode()) == json.loads(body)
    assert parse_json(b'"\\ud800"') == "\ud800", "parsed as JSON says; clean_text removes it"


def test_numbers_of_exactly_the_limit_parse() -> None:
    digits = "9" * MAX_NUMBER_CHARS
    assert parse_json(f'{{"n": {digits}, "f": 0.{"1" * (MAX_NUMBER_CHARS - 2)}}}'.encode())["n"] == int(digits)


@pytest.mark.parametrize("body", [b"null", b"1", b'"hello"', b"[]", b"true"])
def test_only_an_object_is_a_request_body(body: bytes) -> None:
    with pytest.raises(InvalidInput, match="JSON object"):
        json_object(parse_json(body))
