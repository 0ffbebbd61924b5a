"""Checks of the NLU examples: enough per intent and language, no text under two intents."""

from __future__ import annotations

import unicodedata
from collections import Counter
from typing import Dict, List

from cs_transformer.lint.findings import Bot, Example, Issue


def check_example_counts(bot: Bot, min_examples: int) -> List[Issue]:
    """Every intent (retrieval intents per key) needs `min_examples` in every language."""
    counts = Counter((example.language, example.intent) for example in bot.examples)
    intents = sorted({example.intent for example in bot.examples})
    issues = []
    for language in bot.languages:
        where = bot.files.get(language) or f"{bot.nlu_file(language)} (create it)"
        for intent in intents:
            count = counts[language, intent]
            if count < min_examples:
                issues.append(
                    Issue("too-few-examples", language, "intent", intent, None,
                          f"{count} {language} example(s), minimum {min_examples}: "
                          f"add {min_examples - count} more to {where}")
                )
    return issues


def normalise(text: str) -> str:
    """Case- and whitespace-insensitive form: what the classifier cannot tell apart."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def check_duplicates(bot: Bot) -> List[Issue]:
    """The same text under two intents teaches the classifier both; flag every later one."""
    first_seen: Dict[str, Example] = {}
    issues = []
    for example in bot.examples:
        owner = first_seen.setdefault(normalise(example.text), example)
        if owner.intent != example.intent:
            issues.append(
                Issue("duplicate-example", example.language, "intent", example.intent, example.text,
                      f"also an example of {owner.intent} ({owner.path.name}): keep it under one intent")
            )
    return issues
