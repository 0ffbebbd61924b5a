"""Rasa component that tags every message with its language.

It writes `message.data["language"] = {"name": "es", "confidence": 0.98, "reliable": True,
"source": "py3langid"}` on every message, and adds a `language` entity only when the
evidence is reliable. A slot filled `from_entity: language` therefore switches language
on "¿Dónde está mi pedido?" and keeps it on "ok", "👍" or "12345" (conversation-level
stickiness: only reliable evidence switches); conditional response variations on that slot
make the bot answer in the customer's language.

Channels put a language hint into the message's metadata, which Rasa 3.6 hands to the NLU
as `message.data["metadata"]` (NLUMessageConverter): `language_hint` (SMS: the number's
country) or `locale` (web page: `navigator.language`; Slack: the user's locale). The hint
is a prior for texts the detector cannot decide alone, never an override.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import (
    ENTITIES,
    METADATA,
    ENTITY_ATTRIBUTE_CONFIDENCE,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    EXTRACTOR,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from cs_transformer.config_validation import Option, list_of_strings, one_of, positive, probability, validate_config
from cs_transformer.languages import BACKENDS, LanguageIdentifier, is_language_code, locale_language

LANGUAGE = "language"
# Metadata keys the channels write a language hint under, most specific first.
HINT_KEYS = ("language_hint", "locale")

CONFIG_SCHEMA: Dict[Text, Option] = {
    "languages": Option(
        list, "a non-empty list of ISO 639 language codes known to CLDR (babel), e.g. [en, es, zh]",
        lambda v: list_of_strings(v) and all(is_language_code(code) for code in v),
    ),
    "default_language": Option(str, "one of `languages`, or null for the first of them", nullable=True),
    "backend": Option(
        str, f"one of {', '.join(BACKENDS)} (statistics for Latin-script languages)", one_of(*BACKENDS)
    ),
    "min_letters": Option(int, "a positive integer (Latin letters needed before the backend is asked)", positive),
    "min_confidence": Option(
        (int, float), "a number between 0 and 1 (probability at which a guess switches)", probability
    ),
    "temperature": Option((int, float), "a positive number (scales the backend's log-probabilities)", positive),
    "entity_name": Option(str, "a non-empty entity name", bool),
}


# Also a MESSAGE_FEATURIZER (its `process_training_data` leaves the data alone) so that Rasa puts it
# in the training graph, where the classifier's `trainable_layers: auto` reads its `languages`.
@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER],
    is_trainable=False,
)
class LanguageDetector(GraphComponent, EntityExtractorMixin):
    """Per-message language identification restricted to the bot's languages."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "languages": ["en"],
            "default_language": None,  # None: the first of `languages`
            "backend": "py3langid",
            "min_letters": 10,
            "min_confidence": 0.9,
            "temperature": 0.5,
            "entity_name": LANGUAGE,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["py3langid", "langdetect"]

    def __init__(self, config: Dict[Text, Any]) -> None:
        validate_config(type(self).__name__, config, CONFIG_SCHEMA)
        self.config = {**self.get_default_config(), **config}
        languages = self.config["languages"]
        default_language = self.config["default_language"] or languages[0]
        if default_language not in languages:
            raise InvalidConfigException(
                f"LanguageDetector: default_language '{default_language}' is not in languages "
                f"{languages}. Add it to `languages` or pick one of them."
            )
        self.identifier = LanguageIdentifier(
            languages,
            default_language,
            backend=self.config["backend"],
            min_letters=self.config["min_letters"],
            min_confidence=self.config["min_confidence"],
            temperature=self.config["temperature"],
        )

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageDetector:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Leaves training data alone: the language entity must not be learned by DIET."""
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._annotate(message)
        return messages

    def _annotate(self, message: Message) -> None:
        text = message.get(TEXT) or ""
        guess = self.identifier.identify(text, hint=channel_hint(message.get(METADATA)))
        message.set(
            LANGUAGE,
            {"name": guess.language, "confidence": guess.confidence, "reliable": guess.reliable, "source": guess.source},
            add_to_output=True,
        )
        if not guess.reliable:
            return
        entity = {
            ENTITY_ATTRIBUTE_TYPE: self.config["entity_name"],
            ENTITY_ATTRIBUTE_VALUE: guess.language,
            ENTITY_ATTRIBUTE_START: 0,
            ENTITY_ATTRIBUTE_END: len(text),
            ENTITY_ATTRIBUTE_CONFIDENCE: guess.confidence,
            EXTRACTOR: type(self).__name__,
        }
        message.set(ENTITIES, message.get(ENTITIES, []) + [entity], add_to_output=True)


def channel_hint(metadata: Any) -> Optional[Text]:
    """The language a channel suggests for the message (see HINT_KEYS), if any."""
    if not isinstance(metadata, dict):
        return None
    hints = (locale_language(metadata.get(key)) for key in HINT_KEYS)
    return next((language for language in hints if language), None)
