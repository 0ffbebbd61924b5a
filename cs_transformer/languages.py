"""Per-message language identification, restricted to the languages a bot speaks.

Evidence, strongest first:

1. **Script.** A message written in Han, Arabic, Cyrillic, ... script can only be in
   the bot's languages that use that script, however short it is ("好", "شكرا").
2. **Text statistics** over the bot's Latin-script languages only, so "¿Dónde está mi
   pedido?" cannot come back as Portuguese: `py3langid` (default; its naive Bayes model
   ships in the wheel and stays calibrated on a few words) or `langdetect` (the original
   design's library).
3. **Short-word lexicon** (`cs_transformer/data/lexicon.yml`): very common one-word
   messages ("hola", "danke", "merci") are unambiguous but too short for statistics.
4. **Channel hint** (browser or Slack locale, the SMS number's country): a prior, used
   only when the text alone is uncertain, never against a reliable script or text signal.

Messages with too little evidence ("ok", "👍", "12345") are *not reliable*: callers keep
the language they already had instead of switching.
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Dict, FrozenSet, Iterable, List, Optional, Tuple

import babel.localedata
from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.lang_detect_exception import LangDetectException
from py3langid.langid import MODEL_FILE
from py3langid.langid import LanguageIdentifier as Py3langidModel
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.utils.io import read_yaml_file

# Unicode script → the languages written in it that we can name. Latin is left to the
# statistical backend; a script listed here decides on its own.
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

# A script of the bot's own decides when it carries this share of the weighted letters:
# Latin words inside Chinese or Arabic messages are names and brands ("播放 Lee Aaron 的 专辑").
SCRIPT_MIN_SHARE = 0.2
# ... and at least this weight (one Han character, three Arabic letters).
SCRIPT_MIN_WEIGHT = 3.0

# Languages the backends learnt in another script (Serbian: Cyrillic) are read through their
# Latin-script kin, which then stand for them unless the bot speaks the kin too.
STAND_INS: Dict[str, Tuple[str, ...]] = {"sr": ("hr", "bs")}

# langdetect names Chinese variants; the bot speaks "zh".
LANGDETECT_ALIASES: Dict[str, str] = {"zh-cn": "zh", "zh-tw": "zh"}

LEXICON_FILE = Path(__file__).parent / "data" / "lexicon.yml"

# Both backends' cost grows with length; the first characters decide anyway.
MAX_CHARS = 1000

# Odds by which one lexicon word, and a channel hint, favour their language.
LEXICON_ODDS = 50.0
HINT_ODDS = 4.0
# langdetect reports only languages above 10 %; the others get this probability.
LANGDETECT_FLOOR = 1e-4

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
# Parts of a message that belong to no language: e-mail addresses, links, numbers.
_NO_LANGUAGE = re.compile(r"\S+@\S+|https?://\S+|www\.\S+|\d+")

# Text → log-score per language; empty when the backend found nothing to go on.
Scorer = Callable[[str], Dict[str, float]]


@dataclass(frozen=True)
class LanguageGuess:
    """The outcome of identifying one message.

    `language` is always one of the bot's languages (the hint's, else the default, when
    nothing was found); `reliable` says whether it is evidence enough to switch languages.
    """

    language: str
    confidence: float
    reliable: bool
    source: str  # "script", "lexicon", "py3langid", "langdetect", "hint" or "none"


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
    if "kana" in counts and "han" in counts:  # Japanese writes kanji beside kana; Chinese never uses kana
        counts["kana"] += counts.pop("han")
    return counts


def is_language_code(code: object) -> bool:
    """A lowercase ISO 639 language code that CLDR (babel's locale data) knows: "en", "zh", "yue"."""
    return isinstance(code, str) and code.isascii() and code.isalpha() and code.islower() and babel.localedata.exists(code)


def locale_language(locale: Optional[str]) -> Optional[str]:
    """The language of a locale or language tag: "es-ES", "pt_BR", "zh-Hans-CN" → "es", "pt", "zh"."""
    if not isinstance(locale, str):
        return None
    language = re.split(r"[-_.@]", locale.strip(), maxsplit=1)[0].lower()
    return language if re.fullmatch(r"[a-z]{2,3}", language) else None


@lru_cache(maxsize=1)
def load_lexicon() -> Dict[str, str]:
    """Short word → its language, from `cs_transformer/data/lexicon.yml`."""
    lists = read_yaml_file(str(LEXICON_FILE)) or {}
    return {str(word).lower(): str(language) for language, words in lists.items() for word in words}


@lru_cache(maxsize=1)
def _py3langid_model() -> Py3langidModel:
    """The model shipped in the py3langid wheel (cached: loading takes ~0.5 s)."""
    return Py3langidModel.from_pickled_model(MODEL_FILE, norm_probs=False)


def py3langid_scorer(languages: FrozenSet[str]) -> Scorer:
    """Log-probabilities of `languages` under py3langid's naive Bayes model, trimmed to them."""
    full = _py3langid_model()
    read_as = _read_as(languages, frozenset(full.nb_classes), "py3langid")
    model = Py3langidModel(full.nb_ptc, full.nb_pc, full.nb_numfeats, full.nb_classes, full.tk_nextmove,
                           full.tk_output)
    model.set_languages(sorted(read_as))

    def score(text: str) -> Dict[str, float]:
        features = model.instance2fv(text)
        if not features.any():  # none of the model's n-grams: its answer would be the class prior
            return {}
        return _merge(read_as, zip(model.nb_classes, (float(value) for value in model.nb_classprobs(features))))

    return score


def langdetect_scorer(languages: FrozenSet[str]) -> Scorer:
    """Log-probabilities of `languages` under langdetect, profiles loaded only for them, fixed seed."""
    read_as = _read_as(languages, _langdetect_languages(), "langdetect")
    factory = _langdetect_factory(frozenset(read_as))

    def score(text: str) -> Dict[str, float]:
        detector = factory.create()
        detector.append(text)
        try:
            found = {LANGDETECT_ALIASES.get(item.lang, item.lang): item.prob for item in detector.get_probabilities()}
        except LangDetectException:  # no letters langdetect knows
            return {}
        # langdetect drops languages under 10 %: they get LANGDETECT_FLOOR, not zero.
        return _merge(read_as, ((name, math.log(max(found.get(name, 0.0), LANGDETECT_FLOOR))) for name in read_as))

    return score


def _read_as(languages: FrozenSet[str], known: FrozenSet[str], backend: str) -> Dict[str, str]:
    """Backend language → bot language: each language the backend knows, and its stand-ins."""
    read_as: Dict[str, str] = {}
    for language in sorted(languages):
        if language in known:
            read_as[language] = language
        for kin in STAND_INS.get(language, ()):
            if kin in known and kin not in languages:
                read_as[kin] = language
    missing = sorted(languages - set(read_as.values()))
    if missing:
        other = next(name for name in BACKENDS if name != backend)
        raise InvalidConfigException(
            f"LanguageDetector: {backend} has no model for {', '.join(missing)}. Remove them from "
            f"`languages` or try `backend: {other}`."
        )
    return read_as


def _merge(read_as: Dict[str, str], scores: Iterable[Tuple[str, float]]) -> Dict[str, float]:
    """Backend log-scores → bot languages; a language read through several keeps its best."""
    merged: Dict[str, float] = {}
    for name, score in scores:
        language = read_as[name]
        merged[language] = max(score, merged.get(language, -math.inf))
    return merged


@lru_cache(maxsize=1)
def _langdetect_languages() -> FrozenSet[str]:
    return frozenset(LANGDETECT_ALIASES.get(name, name) for name in os.listdir(PROFILES_DIRECTORY))


@lru_cache(maxsize=8)
def _langdetect_factory(languages: FrozenSet[str]) -> DetectorFactory:
    """A langdetect factory that knows only `languages` (cached: loading takes ~1 s)."""
    files = {LANGDETECT_ALIASES.get(name, name): name for name in os.listdir(PROFILES_DIRECTORY)}
    profiles = []
    for language in sorted(languages):
        with open(os.path.join(PROFILES_DIRECTORY, files[language]), encoding="utf-8") as profile:
            profiles.append(profile.read())
    factory = DetectorFactory()
    factory.load_json_profile(profiles)
    factory.seed = 0
    return factory


BACKENDS: Dict[str, Callable[[FrozenSet[str]], Scorer]] = {
    "py3langid": py3langid_scorer,
    "langdetect": langdetect_scorer,
}


class LanguageIdentifier:
    """Identifies the language of a message among a fixed set of languages.

    >>> LanguageIdentifier(["en", "es", "zh"], "en").identify("¿Dónde está mi pedido?").language
    'es'
    """

    def __init__(
        self,
        languages: Iterable[str],
        default_language: str,
        backend: str = "py3langid",
        min_letters: int = 10,
        min_confidence: float = 0.9,
        temperature: float = 0.5,
    ) -> None:
        self.languages: List[str] = list(dict.fromkeys(languages))
        self.default_language = default_language
        self.backend = backend
        self.min_letters = min_letters
        self.min_confidence = min_confidence
        self.temperature = temperature
        self._latin_languages = frozenset(lang for lang in self.languages if not _has_own_script(lang))
        self._score = BACKENDS[backend](self._latin_languages) if len(self._latin_languages) > 1 else None

    def identify(self, text: str, hint: Optional[str] = None) -> LanguageGuess:
        """Returns the message's language, and whether the evidence is reliable.

        `hint` is a language the channel suggests (e.g. the browser's); it decides only
        between languages the text leaves open.
        """
        hint = hint if hint in self.languages else None
        text = _NO_LANGUAGE.sub(" ", text[:MAX_CHARS])
        profile = script_profile(text)
        letters = sum(profile.values())
        if not letters:
            return self._unknown(hint)
        own = [(weight, self._script_language(script)) for script, weight in profile.items()]
        own = [(weight, language) for weight, language in own if language]
        if own:
            weight, language = max(own)
            share = weight / letters
            if share >= SCRIPT_MIN_SHARE and weight >= SCRIPT_MIN_WEIGHT:
                return LanguageGuess(language, round(share, 4), True, "script")
        script, weight = max(profile.items(), key=lambda item: item[1])
        if script == "latin":
            return self._identify_latin(text.lower(), int(weight), weight / letters, hint)
        return self._unknown(hint)

    def _script_language(self, script: str) -> Optional[str]:
        """The first of the bot's languages written in `script`, if the script is one of its own."""
        return next((language for language in SCRIPT_LANGUAGES.get(script, ()) if language in self.languages), None)

    def _identify_latin(self, text: str, latin_letters: int, share: float, hint: Optional[str]) -> LanguageGuess:
        evidence = self._lexicon_evidence(text)
        if len(self._latin_languages) == 1:  # the only Latin language, once there is more than "ok"
            (only,) = self._latin_languages
            return LanguageGuess(only, round(share, 4), latin_letters >= self.min_letters or bool(evidence), "script")
        source = "lexicon"
        if latin_letters >= self.min_letters and self._score is not None:
            statistics = self._score(text)
            if statistics:
                source = self.backend
                for language, log_probability in statistics.items():
                    evidence[language] = evidence.get(language, 0.0) + self.temperature * log_probability
        if not evidence:
            return self._unknown(hint)
        language, probability = _best(evidence, self._latin_languages)
        confidence = round(probability * share, 4)
        if confidence >= self.min_confidence or hint not in self._latin_languages:
            return LanguageGuess(language, confidence, confidence >= self.min_confidence, source)
        evidence[hint] = evidence.get(hint, 0.0) + math.log(HINT_ODDS)
        language, probability = _best(evidence, self._latin_languages)
        confidence = round(probability * share, 4)
        if confidence < self.min_confidence:  # still open ("qwer asdf zxcv"): the channel's language
            return LanguageGuess(hint, confidence, False, "hint")
        return LanguageGuess(language, confidence, True, "hint")

    def _lexicon_evidence(self, text: str) -> Dict[str, float]:
        """log(LEXICON_ODDS) per word of the lexicon, for the word's language."""
        lexicon = load_lexicon()
        evidence: Dict[str, float] = {}
        for word in _WORD.findall(text):
            language = lexicon.get(word)
            if language in self._latin_languages:
                evidence[language] = evidence.get(language, 0.0) + math.log(LEXICON_ODDS)
        return evidence

    def _unknown(self, hint: Optional[str]) -> LanguageGuess:
        if hint:
            return LanguageGuess(hint, 0.0, False, "hint")
        return LanguageGuess(self.default_language, 0.0, False, "none")


def _best(evidence: Dict[str, float], languages: FrozenSet[str]) -> Tuple[str, float]:
    """The most likely language and its probability (softmax over log-scores; missing = 0)."""
    scores = {language: evidence.get(language, 0.0) for language in languages}
    top = max(scores.values())
    total = math.fsum(math.exp(score - top) for score in scores.values())
    language = max(sorted(scores), key=lambda name: scores[name])
    return language, 1.0 / total


def _has_own_script(language: str) -> bool:
    return any(language in langs for langs in SCRIPT_LANGUAGES.values())
