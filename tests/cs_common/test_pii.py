"""The PII detectors on every bot language's number formats, the rules file, the log filter."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cs_common.pii import PiiConfigError, PiiRules, RedactingLogFilter, Redactor, iban_valid, luhn_valid

redactor = Redactor(PiiRules.from_file())


@pytest.mark.parametrize(
    "text, expected",
    [
        # phones, national and international, per language
        ("Call me on +44 7700 900123 please", "Call me on [phone] please"),
        ("mi móvil es 612 345 678", "mi móvil es [phone]"),
        ("Meine Nummer: 030 12345678", "Meine Nummer: [phone]"),
        ("Rufen Sie +49 (0)30 1234567 an", "Rufen Sie [phone] an"),
        ("mon numéro : 06 12 34 56 78", "mon numéro : [phone]"),
        ("mon numéro : 06.12.34.56.78", "mon numéro : [phone]"),
        ("我的手机号是13812345678", "我的手机号是[phone]"),
        ("电话：138 1234 5678", "电话：[phone]"),
        ("رقمي ٠٥٠١٢٣٤٥٦٧ شكرا", "رقمي [phone] شكرا"),
        ("رقمي +971 50 123 4567", "رقمي [phone]"),
        ("(555) 123-4567", "[phone]"),
        ("0034 612 345 678", "[phone]"),
        # emails
        ("write to maria.garcia+shop@example.co.uk now", "write to [email] now"),
        ("邮箱wang.wei@example.cn谢谢", "邮箱[email]谢谢"),
        # full-width, as Chinese and Japanese keyboards type it; the text around it is kept as typed
        ("我的邮箱是ｍａｒｉａ．ｋｏｗａｌｓｋｉ＠ｅｘａｍｐｌｅ．ｃｏｍ，谢谢！", "我的邮箱是[email]，谢谢！"),
        ("mail maria＠example.com", "mail [email]"),
        # Luhn-valid cards, with and without separators
        ("card 4111 1111 1111 1111 exp 12/27", "card [card] exp 12/27"),
        ("Karte 5500-0000-0000-0004", "Karte [card]"),
        ("卡号4012888888881881", "卡号[card]"),
        # mod-97-valid IBANs
        ("IBAN: DE89 3704 0044 0532 0130 00", "IBAN: [iban]"),
        ("mi IBAN es ES9121000418450200051332.", "mi IBAN es [iban]."),
        ("FR1420041010050500013M02606", "[iban]"),
    ],
)
def test_personal_data_is_redacted(text: str, expected: str) -> None:
    assert redactor.redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "where is my order 10001?",
        "¿Dónde está mi pedido 10001?",
        "Bestellung 10001 und 10003",
        "我的订单12345到哪里了",
        "طلبي رقم ١٠٠٠٢",
        "Calle Mayor 5, 28013 Madrid",
        "delivered on 2024-05-01, paid 1.234,56 €",
        "le 01.05.2024 à 14h30",
        "4111 1111 1111 1112",  # fails the Luhn check
        "ES91 2100 0418 4502 0005 1333",  # fails mod 97
        "12345678",  # 8 digits, no + : too short for a phone
    ],
)
def test_no_false_positives(text: str) -> None:
    assert redactor.redact(text) == text


def test_known_values_such_as_an_address_slot_are_redacted() -> None:
    address = "Calle Mayor 5, 28013 Madrid"
    assert redactor.redact(f"send it to {address} please", [address]) == "send it to [address] please"


def test_checksums() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("GB82 WEST 1234 5698 7654 32") and not iban_valid("GB82 WEST 1234 5698 7654 33")


def test_rules_file_errors_name_each_bad_key(tmp_path: Path) -> None:
    rules = tmp_path / "pii.yml"
    rules.write_text("detectors: [email, ssn]\nmin_phone_digits: 3\ncolour: red\n")
    with pytest.raises(PiiConfigError) as error:
        PiiRules.from_file(rules)
    message = str(error.value)
    assert "colour" in message and "ssn" in message and "min_phone_digits" in message
    with pytest.raises(PiiConfigError, match="missing"):
        PiiRules.from_file(tmp_path / "nope.yml")


def test_disabled_detector_is_not_applied() -> None:
    only_email = Redactor(PiiRules.from_dict({"detectors": ["email"]}))
    assert only_email.redact("a@b.de +34 612 345 678") == "[email] +34 612 345 678"


def test_log_filter_redacts_formatted_records(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.pii")
    caplog.handler.addFilter(RedactingLogFilter(redactor))
    with caplog.at_level(logging.INFO, logger="tests.pii"):
        logger.info("Received user message '%s'", "my card is 4111111111111111, mail a@b.de")
    assert caplog.records[-1].getMessage() == "Received user message 'my card is [card], mail [email]'"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("x@y@z.com", "x@[email]"),
        ("mail a@b.de, c@d.fr!", "mail [email], [email]!"),
        ("@@a@b.de@", "@@[email]@"),
        ("no.at.sign.here", "no.at.sign.here"),
        ("trailing@", "trailing@"),
        ("a@b.c", "a@b.c"),  # a one-letter top-level domain is no email
    ],
)
def test_emails_are_found_around_each_at_sign(text: str, expected: str) -> None:
    assert redactor.redact(text) == expected


HUGE = 1024 * 1024


@pytest.mark.timeout(60)  # a hang guard, not a timing test: the old email pattern took hours on these
@pytest.mark.parametrize(
    "text",
    [
        "a" * HUGE,  # no @: the old pattern rescanned the run from each of its positions
        "a." * (HUGE // 2),
        "a@" * (HUGE // 2),
        "a@" + "a." * (HUGE // 2),
        "1 " * (HUGE // 2),
        "+" * HUGE,
        "A" * HUGE,
    ],
    ids=["letters", "dotted", "at-signs", "long-domain", "spaced-digits", "plus", "capitals"],
)
def test_redaction_of_a_megabyte_finishes(text: str) -> None:
    assert len(redactor.redact(text)) > 0
