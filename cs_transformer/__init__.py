"""Multilingual transformer NLU for Rasa Open Source 3.6.

Components are referenced in config.yml as `cs_transformer.<Name>`.
"""

from cs_transformer.classifier import TransformerClassifier
from cs_transformer.language_detector import LanguageDetector

__all__ = ["LanguageDetector", "TransformerClassifier"]
