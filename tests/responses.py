"""Recognise which domain response (and which language variation) a bot reply is."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import List, Optional, Pattern, Tuple

from rasa.shared.utils.io import read_yaml_file

from tests.conftest import REPO


def _variation_language(variation: dict) -> str:
    for condition in variation.get("condition") or []:
        if condition.get("name") == "language":
            return condition["value"]
    return "en"


@lru_cache(maxsize=1)
def _patterns() -> List[Tuple[Pattern, str, str]]:
    patterns = []
    for name, variations in read_yaml_file(REPO / "domain.yml")["responses"].items():
        for variation in variations:
            parts = re.split(r"\{\w+\}", variation["text"])
            regex = "(?s)" + ".+?".join(re.escape(part) for part in parts)
            patterns.append((re.compile(regex + r"\Z"), name, _variation_language(variation)))
    return patterns


def identify(reply: str) -> Optional[Tuple[str, str]]:
    """(response name, language) of a rendered reply, or None if it is no domain response."""
    for pattern, name, language in _patterns():
        if pattern.match(reply):
            return name, language
    return None
