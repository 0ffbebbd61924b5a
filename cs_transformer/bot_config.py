"""What the offline tools (`cs_transformer.lint`, `cs_transformer.evaluate`) read from a bot's
config.yml: the languages it answers in. And their shared `--languages` option.

One home, so the two tools agree on which languages a bot has.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Tuple

from rasa.shared.utils.io import read_yaml_file

DETECTOR_NAMES = ("cs_transformer.LanguageDetector", "cs_transformer.language_detector.LanguageDetector")


class BotConfigError(Exception):
    """The config does not say what a tool needs: a usage problem (the tools exit 2)."""


def read_languages(config_path: Path) -> Tuple[List[str], str]:
    """The LanguageDetector's languages and default: exactly what the bot answers in."""
    config = read_yaml_file(config_path) or {}
    for component in config.get("pipeline") or []:
        if component.get("name") in DETECTOR_NAMES and component.get("languages"):
            languages = [str(language) for language in component["languages"]]
            return languages, str(component.get("default_language") or languages[0])
    raise BotConfigError(
        f"{config_path} has no {DETECTOR_NAMES[0]} with `languages:` in its pipeline; "
        "add it, or pass --languages en,es"
    )


def language_list(value: str) -> List[str]:
    """The `--languages` option's type: comma-separated codes, in order, each once."""
    languages = list(dict.fromkeys(language.strip() for language in value.split(",") if language.strip()))
    if not languages:
        raise argparse.ArgumentTypeError("expected language codes, e.g. en,es")
    return languages
