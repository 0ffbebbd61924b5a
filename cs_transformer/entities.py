"""Rasa component that tags order numbers, emails and phone numbers in any script.

Rasa's RegexEntityExtractor matches the regexes of the training data (data/nlu/regex.yml)
against the raw text, so "طلبي رقم ١٠٠٠٢" yields the value "١٠٠٠٢" (no order has that
number) and full-width "１０００２" or "ｍａｒｉａ＠ｅｘａｍｐｌｅ．ｃｏｍ" match nothing; its
word boundaries (`\\b`) also never fall between "订单" and "10002", both being word characters.

This extractor matches the same regexes against a copy of the text in which every decimal
digit of any script (Arabic-Indic ٠-٩, Persian ۰-۹, Devanagari, full-width ０-９, ...) is an
ASCII digit and every full-width ASCII form (Ａ, ＠, ．) its ASCII character. Each character
maps to exactly one character, so `start`/`end` point into the text as typed, while `value`
is the normalised span: "10002", whatever the customer's keyboard. The regexes bring their
own boundaries (`(?<!\\d)\\d{5}(?!\\d)`), none is added.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any, Dict, List, Optional, Pattern, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from cs_transformer.config_validation import Option, list_of_strings, validate_config
from cs_transformer.storage import read_saved

logger = logging.getLogger(__name__)

PATTERNS_FILE = "patterns.json"
# Full-width ASCII forms (U+FF01-U+FF5E) sit at a fixed offset from ASCII (U+0021-U+007E).
_FULL_WIDTH_OFFSET = 0xFEE0
_FULL_WIDTH = range(0xFF01, 0xFF5F)

CONFIG_SCHEMA: Dict[Text, Option] = {
    "entities": Option(
        list,
        "a non-empty list of regex names from the training data (e.g. [order_number, email]), "
        "or null for all of them",
        list_of_strings,
        nullable=True,
    ),
    "case_sensitive": Option(bool, "true or false"),
}


def _ascii_table() -> Dict[int, Text]:
    """One character for one character: decimal digits of every script and full-width forms."""
    table = {code: chr(code - _FULL_WIDTH_OFFSET) for code in _FULL_WIDTH}
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if code > 0x7F and unicodedata.category(char) == "Nd":
            table[code] = str(unicodedata.decimal(char))
    return table


_ASCII = _ascii_table()


def to_ascii(text: Text) -> Text:
    """`text` with every digit and full-width form as ASCII, same length (١٠٠٠٢ → 10002)."""
    return text.translate(_ASCII)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class UnicodeRegexEntityExtractor(GraphComponent, EntityExtractorMixin):
    """RegexEntityExtractor for every script: the training data's regexes on ASCII-normalised text."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "entities": None,  # None: every regex in the training data
            "case_sensitive": False,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        patterns: Optional[List[Dict[Text, Text]]] = None,
    ) -> None:
        validate_config(type(self).__name__, config, CONFIG_SCHEMA)
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._use(patterns or [])

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> UnicodeRegexEntityExtractor:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Keeps the training data's regexes for the configured entities; fails on a missing one."""
        patterns = training_regexes(training_data, self.config["entities"], "UnicodeRegexEntityExtractor", "entities")
        self._use(patterns)
        with self._model_storage.write_to(self._resource) as directory:
            (Path(directory) / PATTERNS_FILE).write_text(json.dumps(patterns, ensure_ascii=False), encoding="utf-8")
        logger.debug("entities.trained patterns=%d", len(patterns))
        return self._resource

    def _use(self, patterns: List[Dict[Text, Text]]) -> None:
        self.patterns = patterns
        self._matcher = RegexMatcher(patterns, self.config["case_sensitive"])

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> UnicodeRegexEntityExtractor:
        """The trained patterns; an untrained extractor (nothing saved) extracts nothing."""
        patterns = read_saved(model_storage, resource, lambda directory: json.loads((directory / PATTERNS_FILE).read_text(encoding="utf-8")))
        if patterns is None:
            logger.warning("entities.untrained resource=%s", resource.name)
            return cls.create(config, model_storage, resource, execution_context)
        if not isinstance(patterns, list) or not all(isinstance(p, dict) and {"name", "pattern"} <= set(p) for p in patterns):
            raise InvalidConfigException(
                f"UnicodeRegexEntityExtractor: {PATTERNS_FILE} in the model is not a list of "
                "{name, pattern}; retrain with `rasa train`."
            )
        return cls(config, model_storage, resource, patterns)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            found = self.add_extractor_name(self.extract(message.get(TEXT) or ""))
            message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages

    def extract(self, text: Text) -> List[Dict[Text, Any]]:
        """Entities in `text`: offsets into `text`, values in ASCII. No side effects."""
        return self._matcher.extract(text)


class RegexMatcher:
    """The training data's regexes matched on ASCII-normalised text (the extractor's, and what
    the TransformerClassifier reads as placeholders, cs_transformer.placeholders)."""

    def __init__(self, patterns: List[Dict[Text, Text]], case_sensitive: bool = False) -> None:
        flags = 0 if case_sensitive else re.IGNORECASE
        self._compiled: List[Tuple[Text, Pattern]] = [(p["name"], _compiled(p, flags)) for p in patterns]

    def extract(self, text: Text) -> List[Dict[Text, Any]]:
        """Entities in `text`: offsets into `text`, values in ASCII."""
        normalised = to_ascii(text)
        return [
            {
                ENTITY_ATTRIBUTE_TYPE: name,
                ENTITY_ATTRIBUTE_START: match.start(),
                ENTITY_ATTRIBUTE_END: match.end(),
                ENTITY_ATTRIBUTE_VALUE: match.group(),
            }
            for name, pattern in self._compiled
            for match in pattern.finditer(normalised)
        ]


def training_regexes(
    training_data: TrainingData, wanted: Optional[List[Text]], component: Text, key: Text
) -> List[Dict[Text, Text]]:
    """The training data's regexes named in `wanted` (None: all), or an error naming the missing ones."""
    patterns = [
        {"name": regex["name"], "pattern": regex["pattern"]}
        for regex in training_data.regex_features
        if wanted is None or regex["name"] in wanted
    ]
    missing = sorted(set(wanted or ()) - {pattern["name"] for pattern in patterns})
    if missing:
        raise InvalidConfigException(
            f"{component}: no regex named {', '.join(missing)} in the training data. "
            f"Add `- regex: <name>` entries to data/nlu/regex.yml or remove the names from `{key}`."
        )
    return patterns


def _compiled(pattern: Dict[Text, Text], flags: int) -> Pattern:
    try:
        return re.compile(pattern["pattern"], flags)
    except re.error as error:
        raise InvalidConfigException(
            f"The training data's regex '{pattern['name']}' does not compile ({error}); "
            "fix it in data/nlu/regex.yml."
        ) from error
