"""The languages both tools read from config.yml, and their --languages option."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from cs_transformer.bot_config import BotConfigError, language_list, read_languages


def test_the_detector_s_languages_and_default_are_the_bot_s(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text("pipeline:\n- name: WhitespaceTokenizer\n- name: cs_transformer.LanguageDetector\n"
                      "  languages: [en, es, ar]\n  default_language: es\n", encoding="utf-8")
    assert read_languages(config) == (["en", "es", "ar"], "es")
    config.write_text("pipeline:\n- name: cs_transformer.language_detector.LanguageDetector\n  languages: [de, fr]\n",
                      encoding="utf-8")
    assert read_languages(config) == (["de", "fr"], "de")  # by its module path too; default: the first


def test_a_config_without_the_detector_names_the_fix(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text("pipeline:\n- name: cs_transformer.LanguageDetector\n", encoding="utf-8")  # no languages
    with pytest.raises(BotConfigError, match="has no cs_transformer.LanguageDetector with `languages:`.*--languages en,es"):
        read_languages(config)


def test_the_languages_option_keeps_the_order_and_each_language_once() -> None:
    assert language_list(" en, es,,en ,ar") == ["en", "es", "ar"]
    with pytest.raises(argparse.ArgumentTypeError, match="e.g. en,es"):
        language_list(" , ")
