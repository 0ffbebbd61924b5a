"""Per-message language identification, restricted to the languages a bot speaks.

Three evidence sources, cheapest first:

1. **Script.** A message written in Han, Arabic, Cyrillic, ... script can only be in
   the bot's languages that use that script, however short it is ("好", "شكرا").
2. **Short-word lexicon.** Very common one-word messages ("hola", "danke", "merci")
   are unambiguous but too short for statistics.
3. **langdetect**, with a fixed seed and profiles loaded only for the bot's Latin-script
   languages, so "¿Dónde está mi pedido?" cannot come back as Portuguese.

Messages with too little evidence ("ok", "👍", "12345") are *not reliable*: callers keep
the language they already had instead of switching.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, FrozenSet, Iterable, List, Optional, Tuple

from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.lang_detect_exception import LangDetectException

# Unicode script → the languages written in it that we can name. Latin is handled by
# langdetect; a script listed here decides on its own.
SCRIPT_LANGUAGES: Dict[str, Tuple[str, ...]] = {
    "han": ("zh", "ja"),
    "kana": ("ja",),
    "hangul": ("ko",),
    "arabic": ("ar", "fa", "ur"),
    "cyrillic": ("ru", "uk", "bg"),
    "greek": ("el",),
    "hebrew": ("he",),
    "devanagari": ("hi", "mr", "ne"),
    "thai": ("th",),
}

# Ideographic and syllabic characters carry about a word each; Latin letters much less.
SCRIPT_WEIGHT: Dict[str, float] = {"han": 3.0, "kana": 3.0, "hangul": 2.0}

# langdetect names Chinese variants; the bot speaks "zh".
LANGDETECT_ALIASES: Dict[str, str] = {"zh-cn": "zh", "zh-tw": "zh"}

# One-word messages that are frequent in support chats and belong to one language.
SHORT_WORDS: Dict[str, str] = {
    **dict.fromkeys(["hello", "hi", "hey", "thanks", "thx", "bye", "goodbye", "please", "yes", "yeah", "nope", "cheers"], "en"),
    **dict.fromkeys(["hola", "gracias", "adiós", "adios", "buenas", "buenos", "vale", "sí", "porfa", "chao"], "es"),
    **dict.fromkeys(["hallo", "danke", "tschüss", "tschuss", "servus", "moin", "bitte", "ja", "nein", "genau"], "de"),
    **dict.fromkeys(["bonjour", "salut", "merci", "bonsoir", "oui", "non", "d'accord", "ouais"], "fr"),
    **dict.fromkeys(["ciao", "grazie", "buongiorno"], "it"),
    **dict.fromkeys(["olá", "obrigado", "obrigada", "tchau"], "pt"),
    **dict.fromkeys(["hoi", "dank", "bedankt", "doei"], "nl"),
}

# langdetect's cost grows with length; the first characters decide anyway.
LANGDETECT_MAX_CHARS = 1000

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)


@dataclass(frozen=True)
class LanguageGuess:
    """The outcome of identifying one message.

    `language` is always one of the bot's languages (the default when nothing was
    found); `reliable` says whether it is evidence enough to switch languages.
    """

    language: str
    confidence: float
    reliable: bool
    source: str  # "script", "lexicon", "langdetect" or "none"


def char_script(char: str) -> Optional[str]:
    """Names the writing system of a letter, or None for digits, punctuation, emoji."""
    if not char.isalpha():
        return None
    code = ord(char)
    if 0x3040 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF:
        return "kana"
    if 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
        return "hangul"
    name = unicodedata.name(char, "")
    if name.startswith("CJK"):
        return "han"
    first_word = name.split(" ", 1)[0].lower()
    return first_word if first_word in SCRIPT_LANGUAGES or first_word == "latin" else "other"


def script_profile(text: str) -> Dict[str, float]:
    """Weighted count of letters per script."""
    counts: Dict[str, float] = {}
    for char in text:
        script = char_script(char)
        if script is not None:
            counts[script] = counts.get(script, 0.0) + SCRIPT_WEIGHT.get(script, 1.0)
    return counts


@lru_cache(maxsize=8)
def _detector_factory(languages: FrozenSet[str]) -> Optional[DetectorFactory]:
    """A langdetect factory that knows only `languages` (cached: loading takes ~1 s)."""
    import os

    profiles = []
    for file_name in sorted(os.listdir(PROFILES_DIRECTORY)):
        if LANGDETECT_ALIASES.get(file_name, file_name) in languages:
            with open(os.path.join(PROFILES_DIRECTORY, file_name), encoding="utf-8") as profile:
                profiles.append(profile.read())
    if not profiles:
        return None
    factory = DetectorFactory()
    factory.load_json_profile(profiles)
    factory.seed = 0
    return factory


class LanguageIdentifier:
    """Identifies the language of a message among a fixed set of languages.

    >>> LanguageIdentifier(["en", "es", "zh"]).identify("¿Dónde está mi pedido?").language
    'es'
    """

    def __init__(
        self,
        languages: Iterable[str],
        default_language: str,
        min_letters: int = 10,
        min_confidence: float = 0.75,
    ) -> None:
        self.languages: List[str] = list(dict.fromkeys(languages))
        self.default_language = default_language
        self.min_letters = min_letters
        self.min_confidence = min_confidence
        latin = frozenset(lang for lang in self.languages if not _has_own_script(lang))
        self._factory = _detector_factory(latin) if len(latin) > 1 else None
        self._latin_languages = latin

    def identify(self, text: str) -> LanguageGuess:
        """Returns the message's language, and whether the evidence is reliable."""
        profile = script_profile(text)
        letters = sum(profile.values())
        if not letters:
            return self._unknown()
        script, weight = max(profile.items(), key=lambda item: item[1])
        share = weight / letters
        if script in SCRIPT_LANGUAGES:
            for language in SCRIPT_LANGUAGES[script]:
                if language in self.languages:
                    return LanguageGuess(language, round(share, 4), share >= 0.5, "script")
            return self._unknown()
        if script == "latin":
            return self._identify_latin(text, int(profile.get("latin", 0)), share)
        return self._unknown()

    def _identify_latin(self, text: str, latin_letters: int, share: float) -> LanguageGuess:
        words = [word.lower() for word in _WORD.findall(text)]
        lexicon_hits = {SHORT_WORDS[w] for w in words if w in SHORT_WORDS}
        lexicon_hits &= self._latin_languages
        if len(self._latin_languages) == 1:
            (only,) = self._latin_languages
            return LanguageGuess(only, round(share, 4), latin_letters >= 2, "script")
        if latin_letters < self.min_letters:
            if len(lexicon_hits) == 1 and len(words) <= 3:
                return LanguageGuess(lexicon_hits.pop(), 0.9, True, "lexicon")
            return self._unknown()
        language, probability = self._langdetect(text)
        if language is None:
            return self._unknown()
        confidence = round(probability * share, 4)
        return LanguageGuess(language, confidence, confidence >= self.min_confidence, "langdetect")

    def _langdetect(self, text: str) -> Tuple[Optional[str], float]:
        if self._factory is None:
            return None, 0.0
        detector = self._factory.create()
        detector.append(text[:LANGDETECT_MAX_CHARS])
        try:
            best = detector.get_probabilities()[0]
        except (LangDetectException, IndexError):
            return None, 0.0
        return LANGDETECT_ALIASES.get(best.lang, best.lang), float(best.prob)

    def _unknown(self) -> LanguageGuess:
        return LanguageGuess(self.default_language, 0.0, False, "none")


def _has_own_script(language: str) -> bool:
    return any(language in langs for langs in SCRIPT_LANGUAGES.values())
