"""Checks of the domain's responses: a variation in every bot language, plural forms included."""

from __future__ import annotations

from typing import List

from cs_transformer.lint.findings import Bot, Issue
from cs_common.plurals import OTHER, languages_needing, plural_categories, split_plural
from cs_common.variations import LANGUAGE_SLOT, variation_language


def check_response_variations(bot: Bot) -> List[Issue]:
    """A response without a variation in some language falls back to the default language.

    A plural form (`<base>_<category>` beside `<base>_other`, cs_common/plurals.py) is
    needed only in the languages with that category, and in each of those it must exist.
    """
    issues = []
    for name, variations in bot.responses.items():
        present = {variation_language(v, bot.default_language) for v in variations}
        fallback = next((v.get("text") for v in variations if v.get("text")), None)
        for language in languages_needing(name, bot.responses, bot.languages):
            if language not in present:
                issues.append(
                    Issue("missing-response-variation", language, "response", name, fallback,
                          _missing_variation_fix(name, language, bot.default_language))
                )
    for base in sorted({plural[0] for plural in map(split_plural, bot.responses) if plural}):
        if f"{base}_{OTHER}" not in bot.responses:
            continue
        for language in bot.languages:
            for category in sorted(plural_categories(language) - {OTHER}):
                name = f"{base}_{category}"
                if name not in bot.responses:
                    issues.append(
                        Issue("missing-response-variation", language, "response", name, None,
                              f"{language} has a '{category}' plural form: add the response {name} "
                              f"with a {language} variation (see cs_common/plurals.py)")
                    )
    return issues


def _missing_variation_fix(name: str, language: str, default_language: str) -> str:
    if language == default_language:
        return f"no {language} variation: add one without `condition` to {name} in the domain"
    return (
        f"no {language} variation: add a translation to {name} in the domain with "
        f"`condition: [{{type: slot, name: {LANGUAGE_SLOT}, value: {language}}}]`"
    )
