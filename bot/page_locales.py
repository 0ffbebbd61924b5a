"""The chat page's own texts (title, placeholder, Send, greeting, errors), one JSON file per bot
language in bot/static/locales/, and how the page's language is chosen.

The fallback rule is the responses' own: a key missing from a language's file is shown in the
default language (the file of the response variation without condition), and `make lint`
reports it as `missing-page-text`. The language is negotiated with babel over the languages
that have a file, so `zh-Hans-CN` or `es-419` find `zh` and `es`; text direction is babel's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Text

from babel import Locale
from babel.core import negotiate_locale

LOCALES_DIR = Path(__file__).parent / "static" / "locales"
DEFAULT_LANGUAGE = "en"
# Babel's aliases would turn a bare "zh" into zh_Hans_CN and miss the file named zh.json.
NO_ALIASES: Dict[Text, Text] = {}


@dataclass(frozen=True)
class PageLocale:
    """What the page needs to speak one language."""

    language: Text
    direction: Text  # "ltr" or "rtl"
    texts: Dict[Text, Text]

    def to_json(self) -> Dict[Text, object]:
        return {"language": self.language, "dir": self.direction, "texts": self.texts}


def read_locale_files(folder: Path = LOCALES_DIR) -> Dict[Text, Dict[Text, Text]]:
    """Every `<language>.json` of `folder`, as key -> text."""
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))}


def text_direction(language: Text) -> Text:
    """Babel's writing direction of a language ("rtl" for ar), "ltr" when babel does not know it."""
    try:
        return Locale.parse(language).text_direction
    except (ValueError, LookupError):
        return "ltr"


class PageLocales:
    """The page's texts per language, with the default language filling any missing key."""

    def __init__(self, files: Dict[Text, Dict[Text, Text]], default_language: Text = DEFAULT_LANGUAGE) -> None:
        if default_language not in files:
            raise ValueError(f"no page texts for the default language: create {LOCALES_DIR / default_language}.json")
        self._files = files
        self._default = default_language

    @classmethod
    def from_folder(cls, folder: Path = LOCALES_DIR) -> "PageLocales":
        return cls(read_locale_files(folder))

    @property
    def languages(self) -> List[Text]:
        return list(self._files)

    def negotiate(self, preferred: Sequence[Text]) -> Text:
        """The first of the browser's (or the conversation's) languages the page has texts for."""
        wanted = [tag.strip().replace("_", "-") for tag in preferred if tag and tag.strip()]
        return negotiate_locale(wanted, self.languages, sep="-", aliases=NO_ALIASES) or self._default

    def locale(self, language: Text) -> PageLocale:
        texts = {**self._files[self._default], **self._files.get(language, {})}
        return PageLocale(language, text_direction(language), texts)
