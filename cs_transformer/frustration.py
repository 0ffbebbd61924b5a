"""Rasa component that scores how frustrated the customer sounds in each message.

It combines the transformer's view — the probability the classifier gives the bot's own
frustration intents (e.g. `complaint`), read from `intent_ranking`, so no second encoder
pass — with signals in the text: shouting in capitals (Latin scripts only), runs of `!!!`
or `???`, and words from a per-language profanity and insult list
(`cs_transformer/data/profanity.yml`, chosen by the message's language; when the language is
uncertain, only words that are insults in whichever language, never "con" (Spanish "with",
French insult) or "mist" (English fog, German crap)). It writes

    message.data["frustration"] = {"score": 0.72, "frustrated": True,
                                   "signals": ["intent:complaint", "caps", "profanity"]}

which Rasa keeps in the tracker's `parse_data`. The score is the weighted sum of the signals
(each between 0 and 1), capped at 1. Conversation-level signals (repeated fallbacks, the same
request again) belong to the dialogue: see `actions/frustration.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Pattern, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import read_yaml_file

from cs_transformer.config_validation import Option, list_of_strings, positive, probability, validate_config

FRUSTRATION = "frustration"
DEFAULT_PROFANITY_FILE = Path(__file__).parent / "data" / "profanity.yml"
_LATIN_LETTER = re.compile(r"[A-Za-zÀ-ÖØ-öø-ɏ]")
_LATIN_ENTRY = re.compile(r"^[\sA-Za-zÀ-ÖØ-öø-ɏ'\-]+$")
_WORD = re.compile(r"\w+(?:'\w+)?")
_WEIGHT_HELP = "a number between 0 and 1"
# The key of profanity.yml that lists words ordinary in another language (not a language).
AMBIGUOUS = "ambiguous"

CONFIG_SCHEMA: Dict[Text, Option] = {
    "frustration_intents": Option(list, "a non-empty list of intent names, e.g. [complaint]", list_of_strings),
    "intent_weight": Option((int, float), _WEIGHT_HELP, probability),
    "caps_weight": Option((int, float), _WEIGHT_HELP, probability),
    "punctuation_weight": Option((int, float), _WEIGHT_HELP, probability),
    "profanity_weight": Option((int, float), _WEIGHT_HELP, probability),
    "threshold": Option((int, float), "a number between 0 and 1 (score at which `frustrated` is true)", probability),
    "caps_ratio": Option((int, float), "a number between 0 and 1 (share of capital Latin letters)", probability),
    "min_caps_letters": Option(int, "a positive integer (Latin letters needed before capitals count)", positive),
    "min_repeated_marks": Option(int, "a whole number of 2 or more (a run of ! or ? that counts)", lambda v: v >= 2),
    "profanity_file": Option(str, "the path of a YAML file mapping language codes to word lists", nullable=True),
    "min_context_words": Option(
        int, "a positive integer (other words an ambiguous listed word needs beside it to count)", positive
    ),
}


# Also a MESSAGE_FEATURIZER (its `process_training_data` leaves the data alone) so that Rasa puts it
# in the training graph: its keys are then checked at `rasa train`, not first at load (issue 20).
@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER],
    is_trainable=False,
)
class FrustrationScorer(GraphComponent):
    """Per-message frustration score from the classifier's ranking and the message text.

    Place it after the intent classifier (it reads `intent_ranking`) and after
    `cs_transformer.LanguageDetector` (it reads `message.data["language"]`).
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "frustration_intents": ["complaint"],
            "intent_weight": 0.6,
            "caps_weight": 0.3,
            "punctuation_weight": 0.2,
            "profanity_weight": 0.6,
            "threshold": 0.5,
            "caps_ratio": 0.7,
            "min_caps_letters": 8,
            "min_repeated_marks": 3,
            "profanity_file": None,  # None: the lists shipped in cs_transformer/data/profanity.yml
            "min_context_words": 3,
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        validate_config(type(self).__name__, config, CONFIG_SCHEMA)
        self.config = {**self.get_default_config(), **config}
        self.profanity = load_profanity(self.config["profanity_file"] or str(DEFAULT_PROFANITY_FILE))
        marks = self.config["min_repeated_marks"]
        self._repeated_marks = re.compile(rf"[!?！？؟]{{{marks},}}")

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> FrustrationScorer:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            message.set(FRUSTRATION, self.score(message), add_to_output=True)
        return messages

    def score(self, message: Message) -> Dict[Text, Any]:
        """The weighted signals of one message; pure, so it is testable on its own."""
        text = message.get(TEXT) or ""
        config = self.config
        signals: List[Tuple[Text, float, float]] = []  # (name, strength, weight)
        ranking = message.get(INTENT_RANKING_KEY) or []
        for intent in ranking:
            if intent.get("name") in config["frustration_intents"] and intent.get("confidence", 0) > 0:
                signals.append((f"intent:{intent['name']}", float(intent["confidence"]), config["intent_weight"]))
        if self._shouting(text):
            signals.append(("caps", 1.0, config["caps_weight"]))
        if self._repeated_marks.search(text):
            signals.append(("punctuation", 1.0, config["punctuation_weight"]))
        if self._profane(text, message.get("language")):
            signals.append(("profanity", 1.0, config["profanity_weight"]))
        score = min(1.0, sum(strength * weight for _, strength, weight in signals))
        return {
            "score": round(score, 4),
            "frustrated": score >= config["threshold"],
            "signals": [name for name, strength, weight in signals if strength * weight > 0],
        }

    def _shouting(self, text: Text) -> bool:
        """Most Latin letters in capitals; scripts without case never count."""
        letters = _LATIN_LETTER.findall(text)
        if len(letters) < self.config["min_caps_letters"]:
            return False
        return sum(letter.isupper() for letter in letters) / len(letters) >= self.config["caps_ratio"]

    def _profane(self, text: Text, language: Optional[Dict[Text, Any]]) -> bool:
        """A listed word of the message's language; when it is uncertain, an unambiguous one of any list.

        A word that is ordinary in another language ("con", "mist", "nul") counts only in a
        message reliably in its list's language with `min_context_words` other words, so
        "Mist Grau bitte" (a colour) is calm and "c'est nul, où est ma commande ?" is not.
        """
        lists = self.profanity
        if not (language and language.get("reliable") and language.get("name") in lists.by_language):
            return any(pattern.search(text) for pattern in lists.unambiguous.values())
        name = language["name"]
        if name in lists.unambiguous and lists.unambiguous[name].search(text):
            return True
        found = {match.group(0).lower() for match in lists.by_language[name].finditer(text)}
        context = [word for word in _WORD.findall(text.lower()) if word not in found]
        return bool(found) and len(context) >= self.config["min_context_words"]


@dataclass(frozen=True)
class ProfanityLists:
    """The lists of `profanity.yml`, as patterns: every word per language, and the unambiguous ones."""

    by_language: Dict[Text, Pattern[Text]]
    unambiguous: Dict[Text, Pattern[Text]]


@lru_cache(maxsize=8)
def load_profanity(path: Text) -> ProfanityLists:
    """One pattern per language: whole words for Latin-script entries, substrings otherwise."""
    if not Path(path).is_file():
        raise InvalidConfigException(
            f"FrustrationScorer: profanity_file '{path}' does not exist. Point `profanity_file` at a YAML "
            f"file mapping language codes to word lists, or remove the key to use the shipped lists."
        )
    lists = read_yaml_file(path) or {}
    if not isinstance(lists, dict) or not all(isinstance(words, list) for words in lists.values()):
        raise InvalidConfigException(
            f"FrustrationScorer: {path} must map language codes to lists of words, e.g. `en: [damn, idiot]`."
        )
    ambiguous = frozenset(str(word).lower() for word in lists.pop(AMBIGUOUS, []))
    words = {str(language): [str(word) for word in entries] for language, entries in lists.items() if entries}
    clear = {
        language: [word for word in entries if word.lower() not in ambiguous] for language, entries in words.items()
    }
    return ProfanityLists(
        by_language={language: _pattern(entries) for language, entries in words.items()},
        unambiguous={language: _pattern(entries) for language, entries in clear.items() if entries},
    )


def _pattern(words: List[Text]) -> Pattern[Text]:
    alternatives = [
        rf"(?<!\w){re.escape(word)}(?!\w)" if _LATIN_ENTRY.match(word) else re.escape(word)
        for word in sorted(words, key=len, reverse=True)
    ]
    return re.compile("|".join(alternatives), re.IGNORECASE)
