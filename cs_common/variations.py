"""Which language a response variation speaks: the value of its `language` slot condition.

Its own module, without Rasa, so that the action server (actions/code_delivery.py), the
linter and the channels read the domain's translations by one rule.
"""

from __future__ import annotations

from typing import Any, Dict, List

LANGUAGE_SLOT = "language"


def variation_language(variation: Dict[str, Any], default_language: str) -> str:
    """The `language` slot value a variation is conditioned on; no such condition: the default."""
    for condition in variation.get("condition") or []:
        if condition.get("type") == "slot" and condition.get("name") == LANGUAGE_SLOT:
            return str(condition.get("value"))
    return default_language


def texts_by_language(variations: List[Dict[str, Any]], default_language: str) -> Dict[str, str]:
    """The text of each variation by the language it speaks (texts sent outside Rasa's NLG:
    SMS keyword replies, link-code messages)."""
    return {variation_language(variation, default_language): variation["text"] for variation in variations}
