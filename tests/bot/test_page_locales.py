"""The chat page's texts: which language a browser gets, and the fallback for a missing key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.page_locales import PageLocales, read_locale_files
from tests.conftest import BOT_LANGUAGES


@pytest.mark.parametrize(
    "preferred, language",
    [
        (["zh-Hans-CN", "en"], "zh"),
        (["es-419"], "es"),
        (["pt-BR", "fr-CA"], "fr"),  # the first language the page has wins
        (["pt-BR"], "en"),  # none: the default
        ([], "en"),
        (["ar"], "ar"),
    ],
)
def test_the_browser_s_first_known_language_wins(preferred: list, language: str) -> None:
    assert PageLocales.from_folder().negotiate(preferred) == language


def test_every_bot_language_has_page_texts_and_arabic_is_right_to_left() -> None:
    locales = PageLocales.from_folder()
    assert set(locales.languages) == set(BOT_LANGUAGES)
    assert {language: locales.locale(language).direction for language in BOT_LANGUAGES} == {
        language: "rtl" if language == "ar" else "ltr" for language in BOT_LANGUAGES}


def test_a_missing_key_falls_back_to_the_default_language(tmp_path: Path) -> None:
    (tmp_path / "en.json").write_text(json.dumps({"send": "Send", "title": "Support"}), encoding="utf-8")
    (tmp_path / "es.json").write_text(json.dumps({"title": "Atención"}), encoding="utf-8")
    locale = PageLocales(read_locale_files(tmp_path)).locale("es")
    assert locale.to_json() == {"language": "es", "dir": "ltr", "texts": {"send": "Send", "title": "Atención"}}


def test_no_default_language_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "es.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError, match="create .*en.json"):
        PageLocales(read_locale_files(tmp_path))
