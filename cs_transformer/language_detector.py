"""Rasa component that tags every message with its language.

It writes `message.data["language"] = {"name": "es", "confidence": 0.98, "reliable": True,
"source": "langdetect"}` on every message, and adds a `language` entity only when the
evidence is reliable. A slot filled `from_entity: language` therefore switches language
on "¿Dónde está mi pedido?" and keeps it on "ok", "👍" or "12345"; conditional response
variations on that slot make the bot answer in the customer's language.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import (
    ENTITIES,
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

from cs_transformer.config_validation import Option, list_of_strings, positive, probability, validate_config
from cs_transformer.languages import LanguageIdentifier

LANGUAGE = "language"

CONFIG_SCHEMA: Dict[Text, Option] = {
    "languages": Option(list, "a non-empty list of ISO 639-1 codes, e.g. [en, es, zh]", list_of_strings),
    "default_language": Option(str, "one of `languages`, or null for the first of them", nullable=True),
    "min_letters": Option(int, "a positive integer (Latin letters needed before langdetect is trusted)", positive),
    "min_confidence": Option(float, "a number between 0 and 1", probability),
    "entity_name": Option(str, "a non-empty entity name", bool),
}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class LanguageDetector(GraphComponent, EntityExtractorMixin):
    """Per-message language identification restricted to the bot's languages."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "languages": ["en"],
            "default_language": None,  # None: the first of `languages`
            "min_letters": 10,
            "min_confidence": 0.75,
            "entity_name": LANGUAGE,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["langdetect"]

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
            min_letters=self.config["min_letters"],
            min_confidence=self.config["min_confidence"],
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
        guess = self.identifier.identify(text)
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
