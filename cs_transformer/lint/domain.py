"""Checks of the domain: every bot language a value of the language slot, every intent with
examples declared and answered by a rule, a story or a slot mapping."""

from __future__ import annotations

from typing import Dict, List

from cs_transformer.lint.findings import Bot, Example, Issue
from cs_common.variations import LANGUAGE_SLOT


def check_language_slot(bot: Bot) -> List[Issue]:
    """A language missing from the slot's `values` is never set: the bot answers in the default."""
    slot = (bot.domain_data.get("slots") or {}).get(LANGUAGE_SLOT) or {}
    values = [str(value) for value in slot.get("values") or []]
    return [
        Issue("language-not-in-slot", language, "slot", LANGUAGE_SLOT, None,
              f"{language} is not a value of the `{LANGUAGE_SLOT}` slot: add it to `values:` "
              f"of slots.{LANGUAGE_SLOT} in {bot.domain}")
        for language in bot.languages
        if language not in values
    ]


def base_intent(intent: str) -> str:
    """The domain's name of an intent: `faq` for the retrieval intent key `faq/shipping_cost`."""
    return intent.split("/")[0]


def check_intents(bot: Bot) -> List[Issue]:
    """An intent with examples must be in `intents:` (else training fails or ignores it) and
    something must answer it: a rule, a story, or a slot mapping of a form."""
    declared = {str(next(iter(entry))) if isinstance(entry, dict) else str(entry)
                for entry in bot.domain_data.get("intents") or []}
    first_example: Dict[str, Example] = {}
    for example in bot.examples:
        first_example.setdefault(base_intent(example.intent), example)
    issues = []
    for intent, example in sorted(first_example.items()):
        if intent not in declared:
            issues.append(Issue("intent-not-in-domain", bot.default_language, "intent", intent, None,
                                f"has examples ({example.path}) but is not in `intents:` of {bot.domain}: add it there"))
        elif intent not in bot.used_intents:
            issues.append(Issue("intent-not-used", bot.default_language, "intent", intent, None,
                                "no rule or story starts from it: add one to the rules or stories "
                                f"(e.g. {bot.nlu_folder.parent / 'rules.yml'}) so the bot knows what to answer"))
    return issues
