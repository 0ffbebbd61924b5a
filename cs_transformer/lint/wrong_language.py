"""Checks that a text is in the language it is filed under: examples and response variations.

Warnings, and stricter than the bot's detector: they skip texts too short to tell."""

from __future__ import annotations

import re
from typing import List, Optional

from cs_transformer.languages import SCRIPT_LANGUAGES, LanguageGuess, LanguageIdentifier, script_profile
from cs_transformer.lint.findings import Bot, Issue
from cs_common.variations import variation_language

# Response placeholders ("{order_number}") are English identifiers inside any language.
PLACEHOLDER = re.compile(r"\{[^{}]*\}")

# The wrong-language checks trust a Latin-script language guess only on texts with this
# many Latin letters. On the demo bot's ~2,600 examples the bot's detector called 61
# shorter texts "reliably" another bot language ("was kostet das porto" -> en, "carte
# cadeau" -> es, and by its short-word lexicon "hi" or Swiss "merci vielmal" in de.yml),
# and none longer. Non-Latin scripts (Han, Arabic) are trusted at any length.
LINT_MIN_LETTERS = 35


def trusted_guess(identifier: LanguageIdentifier, text: str) -> Optional[LanguageGuess]:
    """The guess when it is evidence enough to call a text misfiled, else None.

    Stricter than switching a conversation's language: a short Latin text is often a
    loanword or too little for langdetect (see LINT_MIN_LETTERS).
    """
    guess = identifier.identify(text)
    latin = not any(guess.language in languages for languages in SCRIPT_LANGUAGES.values())
    too_short = script_profile(text).get("latin", 0) < LINT_MIN_LETTERS
    return guess if guess.reliable and not (latin and too_short) else None


def check_example_languages(bot: Bot, identifier: LanguageIdentifier) -> List[Issue]:
    """An example that reliably reads as another bot language is filed in the wrong file."""
    issues = []
    for example in bot.examples:
        guess = trusted_guess(identifier, example.text) if example.named else None
        if guess and guess.language != example.language:
            issues.append(
                Issue("example-wrong-language", example.language, "intent", example.intent, example.text,
                      f"reads as {guess.language} (confidence {guess.confidence:.2f}): translate it to "
                      f"{example.language} or move it to the {guess.language} data")
            )
    return issues


def check_response_languages(bot: Bot, identifier: LanguageIdentifier) -> List[Issue]:
    """A variation that reliably reads as another language answers customers in the wrong one."""
    issues = []
    for name, variations in bot.responses.items():
        for variation in variations:
            text = variation.get("text")
            language = variation_language(variation, bot.default_language)
            if not text or language not in bot.languages:
                continue
            guess = trusted_guess(identifier, PLACEHOLDER.sub(" ", text))
            if guess and guess.language != language:
                issues.append(
                    Issue("response-wrong-language", language, "response", name, text,
                          f"the {language} variation reads as {guess.language} "
                          f"(confidence {guess.confidence:.2f}): translate it or fix its condition value")
                )
    return issues
