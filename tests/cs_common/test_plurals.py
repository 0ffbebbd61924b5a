"""Plural forms through babel: which response a count picks, and how the number is written."""

from __future__ import annotations

import pytest

from cs_common.plurals import format_count, languages_needing, plural_categories, plural_response, split_plural


@pytest.mark.parametrize(
    "language, count, response",
    [
        ("en", 1, "utter_open_orders_one"),
        ("en", 2, "utter_open_orders_other"),
        ("es", 1, "utter_open_orders_one"),
        ("fr", 0, "utter_open_orders_one"),  # French counts zero as singular
        ("zh", 1, "utter_open_orders_other"),  # no plural forms
        ("ar", 2, "utter_open_orders_two"),
        ("ar", 3, "utter_open_orders_few"),
        ("ar", 11, "utter_open_orders_many"),
        ("ar", 100, "utter_open_orders_other"),
    ],
)
def test_a_count_picks_its_language_plural_form(language: str, count: int, response: str) -> None:
    assert plural_response("utter_open_orders", count, language) == response


def test_categories_are_babel_s_plus_other() -> None:
    assert plural_categories("zh") == {"other"}
    assert plural_categories("ar") == {"zero", "one", "two", "few", "many", "other"}


def test_numbers_are_written_the_language_s_way() -> None:
    assert (format_count(12345, "en"), format_count(12345, "de")) == ("12,345", "12.345")


def test_only_category_suffixes_make_a_plural_form() -> None:
    assert split_plural("utter_open_orders_few") == ("utter_open_orders", "few")
    assert split_plural("utter_greet_customer") is None


def test_a_plural_form_is_needed_only_in_the_languages_that_have_it() -> None:
    names = {"utter_open_orders_two", "utter_open_orders_other", "utter_greet"}
    languages = ["en", "es", "zh", "ar"]
    assert languages_needing("utter_open_orders_two", names, languages) == ["ar"]
    assert languages_needing("utter_open_orders_other", names, languages) == languages
    assert languages_needing("utter_greet", names, languages) == languages
    assert languages_needing("utter_items_two", names, languages) == languages  # no utter_items_other
