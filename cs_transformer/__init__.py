"""Multilingual transformer NLU for Rasa Open Source 3.6.

Components are referenced in config.yml as `cs_transformer.<Name>`. They are imported on
first use, so light tools (`python -m cs_transformer.lint`) do not pay for torch and Rasa's
engine.
"""

from importlib import import_module
from typing import Any

_COMPONENTS = {
    "LanguageDetector": "cs_transformer.language_detector",
    "UnicodeRegexEntityExtractor": "cs_transformer.entities",
    "TransformerClassifier": "cs_transformer.classifier",
    "FrustrationScorer": "cs_transformer.frustration",
    "FrustrationPolicy": "cs_transformer.frustration_policy",
}
__all__ = list(_COMPONENTS)


def __getattr__(name: str) -> Any:
    if name in _COMPONENTS:
        return getattr(import_module(_COMPONENTS[name]), name)
    raise AttributeError(f"module 'cs_transformer' has no attribute {name!r}")
