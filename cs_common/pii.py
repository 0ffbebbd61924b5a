"""Personal data in free text: the detectors and the redaction rules (`pii.yml`).

One home for "what counts as personal data", used by the tracker store that persists
conversations (`bot/tracker_store.py`) and by the log redaction installed in the Rasa and
action-server processes, so it imports neither Rasa nor rasa-sdk. Every detector is
conservative on numbers: payment cards must pass the Luhn check and IBANs the mod-97 check,
and a phone number needs a leading `+`/`00` or at least `min_phone_digits` digits, so 5-digit
order numbers, postcodes, dates and prices stay.
Arabic-Indic and full-width digits count as digits (customers in ar/zh write them).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Optional, Pattern, Text, Tuple

import yaml

DEFAULT_RULES_FILE = Path(__file__).resolve().parents[1] / "pii.yml"
DETECTORS = ("iban", "card", "email", "phone")
DEFAULT_MIN_PHONE_DIGITS = 9

# A digit in any script: ASCII, Arabic-Indic, Eastern Arabic-Indic, full-width.
_DIGITS = "0-9\u0660-\u0669\u06F0-\u06F9\uFF10-\uFF19"
_D = f"[{_DIGITS}]"
# Edges are Latin letters and digits only: Chinese and Arabic text runs straight into numbers.
_NOT_AFTER_ALNUM = f"(?<![A-Za-z{_DIGITS}+])"
_NOT_BEFORE_ALNUM = f"(?![A-Za-z{_DIGITS}])"
# Every pattern below does bounded work per position, so redaction is linear in the text's length.
# An email is found from its `@` outwards (a pattern starting with the local part would rescan a
# long run of letters from each of its positions: quadratic time on text without `@`).
_EMAIL_LOCAL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-")
MAX_EMAIL_DOMAIN_CHARS = 253  # RFC 1035: a longer run is not a domain name
_EMAIL_DOMAIN = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# U+FF01..U+FF5E are the full-width forms of ASCII '!'..'~', in the same order.
_FULL_WIDTH_TO_ASCII = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_IBAN = re.compile(rf"{_NOT_AFTER_ALNUM}[A-Z]{{2}}[0-9]{{2}}(?: ?[A-Z0-9]){{11,30}}{_NOT_BEFORE_ALNUM}")
_CARD = re.compile(rf"{_NOT_AFTER_ALNUM}{_D}(?:[ \-]?{_D}){{12,18}}{_NOT_BEFORE_ALNUM}")
# An optional + or 00, then digits in groups split by spaces, dashes, dots, slashes or (…).
_PHONE = re.compile(rf"(?:{_NOT_AFTER_ALNUM}\+|{_NOT_AFTER_ALNUM})\(?{_D}(?:[ \-./()]{{0,2}}{_D}){{6,16}}\)?{_NOT_BEFORE_ALNUM}")
# Every detector needs a digit (IBAN, card, phone) or an `@` (email, also full-width): text
# without one is returned after one scan. Most strings of a tracker's events are like that.
_MAY_HOLD_PII = re.compile(f"[{_DIGITS}@\uFF20]")


class PiiConfigError(ValueError):
    """`pii.yml` (or the tracker store's settings) cannot be used; the message names the fix.

    A plain ValueError, not Rasa's RasaException: the action server imports this module and
    must not import Rasa.
    """


def digits_of(text: Text) -> Text:
    """The ASCII digits of `text`, whatever script they were written in (٤٨٢٩١٣ → 482913).

    One rule for redaction here and for the phone numbers and codes customers type (actions/identity.py).
    """
    return "".join(str(unicodedata.digit(char)) for char in text if unicodedata.digit(char, None) is not None)


def luhn_valid(number: Text) -> bool:
    digits = [int(d) for d in reversed(number)]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


def iban_valid(candidate: Text) -> bool:
    """ISO 13616: move the first four characters to the end, letters to numbers, mod 97 == 1."""
    compact = candidate.replace(" ", "")
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


@dataclass(frozen=True)
class PiiRules:
    """What is redacted: the enabled detectors, slots whose values are personal, entity types."""

    detectors: Tuple[Text, ...] = DETECTORS
    slots: FrozenSet[Text] = frozenset({"new_address"})
    entities: FrozenSet[Text] = frozenset({"address"})
    min_phone_digits: int = DEFAULT_MIN_PHONE_DIGITS

    @classmethod
    def from_file(cls, path: Optional[Path] = None) -> "PiiRules":
        path = Path(path or DEFAULT_RULES_FILE)
        if not path.is_file():
            raise PiiConfigError(f"PII rules file {path} is missing: create it (see the README, 'Privacy') or point `pii_rules` at it.")
        try:
            values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise PiiConfigError(f"PII rules file {path} is not valid YAML: fix it ({error}).") from error
        if not isinstance(values, dict):
            raise PiiConfigError(f"PII rules file {path} must be a mapping of detectors, slots, entities, min_phone_digits.")
        return cls.from_dict(values, source=str(path))

    @classmethod
    def from_dict(cls, values: Dict[Text, Any], source: Text = "pii.yml") -> "PiiRules":
        """Checks every key, one clear line per problem."""
        problems: List[Text] = []
        unknown = sorted(set(values) - {"detectors", "slots", "entities", "min_phone_digits"})
        if unknown:
            problems.append(f"unknown key(s) {', '.join(unknown)}; valid: detectors, slots, entities, min_phone_digits")
        detectors = values.get("detectors", list(DETECTORS))
        if not isinstance(detectors, list) or not set(detectors) <= set(DETECTORS):
            problems.append(f"detectors must be a list drawn from {', '.join(DETECTORS)}, not {detectors!r}")
        for key in ("slots", "entities"):
            names = values.get(key, [])
            if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
                problems.append(f"{key} must be a list of names, not {names!r}")
        min_digits = values.get("min_phone_digits", DEFAULT_MIN_PHONE_DIGITS)
        if type(min_digits) is not int or not 7 <= min_digits <= 15:
            problems.append(f"min_phone_digits must be a whole number from 7 to 15, not {min_digits!r}")
        if problems:
            raise PiiConfigError(f"Invalid PII rules in {source}:\n" + "\n".join(f"  - {p}" for p in problems))
        return cls(
            detectors=tuple(name for name in DETECTORS if name in detectors),
            slots=frozenset(values.get("slots", [])),
            entities=frozenset(values.get("entities", [])),
            min_phone_digits=min_digits,
        )


@dataclass(frozen=True)
class Redactor:
    """Replaces personal data in text by a placeholder naming its kind, e.g. `[email]`."""

    rules: PiiRules = field(default_factory=PiiRules)

    def redact(self, text: Text, known_values: Iterable[Text] = ()) -> Text:
        """`text` without the detectors' matches nor any of `known_values` (e.g. an address slot)."""
        for value in sorted({v for v in known_values if v and v.strip()}, key=len, reverse=True):
            text = text.replace(value, "[address]")
        if not _MAY_HOLD_PII.search(text):
            return text
        for name in self.rules.detectors:
            text = self._detectors[name](text)
        return text

    @property
    def _detectors(self) -> Dict[Text, Callable[[Text], Text]]:
        return {"iban": _redact_ibans, "card": _redact_cards, "email": _redact_emails, "phone": self._redact_phones}

    def _redact_phones(self, text: Text) -> Text:
        def replace(match: "re.Match[Text]") -> Text:
            found = match.group(0)
            enough = len(digits_of(found)) >= (7 if found.startswith(("+", "00")) else self.rules.min_phone_digits)
            return "[phone]" if enough and len(digits_of(found)) <= 15 else found

        return _PHONE.sub(replace, text)


def _sub_checked(pattern: Pattern[Text], check: Callable[[Text], bool], placeholder: Text, text: Text) -> Text:
    return pattern.sub(lambda match: placeholder if check(match.group(0)) else match.group(0), text)


def _redact_ibans(text: Text) -> Text:
    return _sub_checked(_IBAN, iban_valid, "[iban]", text)


def _redact_cards(text: Text) -> Text:
    return _sub_checked(_CARD, lambda found: luhn_valid(digits_of(found)), "[card]", text)


def _redact_emails(text: Text) -> Text:
    """Each `@` with a local part before it and a domain after it becomes `[email]`.

    The local part is the run of its characters before the `@` (after the previous match); runs
    end at an `@`, so every character is read a bounded number of times. Full-width forms
    (`ｍａｒｉａ＠ｅｘａｍｐｌｅ．ｃｏｍ`, typed by Chinese and Japanese keyboards) are searched as
    their ASCII twins: one character for one, so positions in `text` stay the same.
    """
    searched = text.translate(_FULL_WIDTH_TO_ASCII)
    parts: List[Text] = []
    done = 0  # text[:done] is in `parts` already
    at = searched.find("@")
    while at != -1:
        start = at
        while start > done and searched[start - 1] in _EMAIL_LOCAL_CHARS:
            start -= 1
        domain = _EMAIL_DOMAIN.match(searched, at + 1, at + 1 + MAX_EMAIL_DOMAIN_CHARS) if start < at else None
        if domain is not None:
            parts += [text[done:start], "[email]"]
            done = domain.end()
        at = searched.find("@", max(at + 1, done))
    return "".join(parts) + text[done:] if parts else text


class RedactingLogFilter(logging.Filter):
    """Formats each record once and keeps only the redacted text, so no handler sees the original."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a broken format string: leave it to logging's own error
            return True
        record.msg, record.args = self._redactor.redact(message), ()
        return True


def install_log_redaction(redactor: Redactor) -> None:
    """Adds the filter to every handler that exists now (root, Rasa's, Sanic's, ours).

    Filters on handlers see the records of all child loggers, unlike filters on loggers.
    Call it again after logging is reconfigured; a handler never gets the filter twice.
    """
    loggers = [logging.getLogger()] + [
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(existing, RedactingLogFilter) for existing in handler.filters):
                handler.addFilter(RedactingLogFilter(redactor))
