"""Plural forms of counted texts ("1 open order", "2 open orders", Arabic's six forms) with babel.

A counted text is one domain response per CLDR plural category, named `<base>_<category>`
(`utter_open_orders_one`, `utter_open_orders_other`, ...). `_other` has a variation in every
language; each other category only in the languages that have it (babel's
`Locale.plural_form`). An action asks `plural_response(base, count, language)` which one to
send and passes `format_count(count, language)` as the number; `make lint` checks that every
language has every form it needs. No Rasa import: the action server uses this too.
"""

from __future__ import annotations

from typing import Collection, FrozenSet, List, Optional, Sequence, Tuple

from babel import Locale
from babel.numbers import format_decimal

CATEGORIES = ("zero", "one", "two", "few", "many", "other")
OTHER = "other"


def _locale(language: str) -> Locale:
    return Locale.parse(language)


def plural_categories(language: str) -> FrozenSet[str]:
    """The plural categories `language` distinguishes; `other` always."""
    return frozenset(_locale(language).plural_form.tags) | {OTHER}


def plural_response(base: str, count: int, language: str) -> str:
    """The name of the response for `count` things in `language`: `<base>_<category>`."""
    return f"{base}_{_locale(language).plural_form(count)}"


def format_count(count: int, language: str) -> str:
    """`count` as `language` writes numbers (1,000 in en, 1.000 in es and de, 1 000 in fr)."""
    return format_decimal(count, locale=_locale(language))


def split_plural(name: str) -> Optional[Tuple[str, str]]:
    """(base, category) of a response named `<base>_<category>`, else None."""
    base, _, category = name.rpartition("_")
    return (base, category) if base and category in CATEGORIES else None


def languages_needing(name: str, response_names: Collection[str], languages: Sequence[str]) -> List[str]:
    """The languages that need a variation of response `name`: all of them, except for a
    plural form other than `_other` (beside its `_other`), which only its languages need."""
    plural = split_plural(name)
    if plural is None or plural[1] == OTHER or f"{plural[0]}_{OTHER}" not in response_names:
        return list(languages)
    return [language for language in languages if plural[1] in plural_categories(language)]
