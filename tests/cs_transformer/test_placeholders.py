"""What the TransformerClassifier reads for the values of `entity_placeholders`."""

from __future__ import annotations

import pytest
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.training_data import TrainingData

from cs_transformer.placeholders import EntityPlaceholders


@pytest.mark.parametrize(
    "text, read",
    [
        ("ok, here it is: 264091", "ok, here it is: [otp_code]"),
        ("ok, here it is: 26409", "ok, here it is: [order_number]"),
        ("وصلني ٢٦٤٠٩١", "وصلني [otp_code]"),  # Arabic-Indic digits, as the extractor reads them
        ("收到的是２６４０９１", "收到的是[otp_code]"),  # full-width digits
        ("call me on +44 7700 900123 about 10002", "call me on [phone] about [order_number]"),
        ("human please, ＭＡＲＩＡ＠example.com", "human please, [email]"),
        ("no numbers here", "no numbers here"),
    ],
)
def test_values_read_as_their_kind(project_regexes: TrainingData, text: str, read: str) -> None:
    placeholders = EntityPlaceholders.from_training_data(project_regexes, ["otp_code", "order_number", "email", "phone"])
    assert placeholders.apply(text) == read


def test_only_the_named_regexes_become_placeholders(project_regexes: TrainingData) -> None:
    placeholders = EntityPlaceholders.from_training_data(project_regexes, ["otp_code"])
    assert placeholders.apply("code 264091 for order 10002") == "code [otp_code] for order 10002"


def test_none_named_reads_the_text_as_written(project_regexes: TrainingData) -> None:
    assert EntityPlaceholders.from_training_data(project_regexes, []).apply("code 264091") == "code 264091"


def test_of_overlapping_matches_the_first_and_longest_wins() -> None:
    placeholders = EntityPlaceholders([{"name": "short", "pattern": r"\d{3}"}, {"name": "long", "pattern": r"\d{6}"}])
    assert placeholders.apply("a 123456 b") == "a [long] b"


def test_the_patterns_saved_are_the_patterns_used(project_regexes: TrainingData) -> None:
    saved = EntityPlaceholders.from_training_data(project_regexes, ["otp_code"]).patterns
    assert [p["name"] for p in saved] == ["otp_code"]
    assert EntityPlaceholders(saved).apply("264091") == "[otp_code]"


def test_a_name_without_a_regex_is_a_clear_error(project_regexes: TrainingData) -> None:
    with pytest.raises(InvalidConfigException, match="TransformerClassifier: no regex named iban.*entity_placeholders"):
        EntityPlaceholders.from_training_data(project_regexes, ["otp_code", "iban"])
