"""The text the TransformerClassifier reads: entity values it should not learn, as their type.

"ok, here it is: 264091" (a one-time code) and "ok, here it is: 26409" (an order number) differ
in one digit, which a sentence encoder barely sees, while the training data's regexes
(data/nlu/regex.yml) tell them apart exactly. With `entity_placeholders: [otp_code, order_number]`
the classifier reads "ok, here it is: [otp_code]", so it learns from the kind of value and never
from the value itself (an email address in the examples of one intent says nothing about the
next customer's).

The classifier matches the regexes itself, as cs_transformer.UnicodeRegexEntityExtractor does
(any script's digits, full-width forms), and keeps them in its model: training and serving read
the same text whatever the annotations or the pipeline's order. A 5-digit postcode is then
"[order_number]" in both, and the examples of addresses teach the classifier that too.
"""

from __future__ import annotations

from typing import Dict, List, Text

from rasa.shared.nlu.constants import ENTITY_ATTRIBUTE_END, ENTITY_ATTRIBUTE_START, ENTITY_ATTRIBUTE_TYPE
from rasa.shared.nlu.training_data.training_data import TrainingData

from cs_transformer.entities import RegexMatcher, training_regexes


class EntityPlaceholders:
    """Replaces the matches of some of the training data's regexes by `[name]`."""

    def __init__(self, patterns: List[Dict[Text, Text]]) -> None:
        self.patterns = patterns  # [{name, pattern}], persisted with the classifier
        self._matcher = RegexMatcher(patterns)

    @classmethod
    def from_training_data(cls, training_data: TrainingData, names: List[Text]) -> EntityPlaceholders:
        """The regexes named in `names` (`entity_placeholders`); a missing one is a clear error."""
        return cls(training_regexes(training_data, names, "TransformerClassifier", "entity_placeholders"))

    def apply(self, text: Text) -> Text:
        """`text` with each match replaced by its placeholder; of overlapping matches the
        earliest (then the longest) wins."""
        if not self.patterns:
            return text
        spans = sorted(
            (m[ENTITY_ATTRIBUTE_START], -m[ENTITY_ATTRIBUTE_END], m[ENTITY_ATTRIBUTE_TYPE]) for m in self._matcher.extract(text)
        )
        parts: List[Text] = []
        done = 0  # text[:done] is in `parts` already
        for start, negative_end, name in spans:
            if start < done:
                continue
            parts += [text[done:start], placeholder(name)]
            done = -negative_end
        return "".join(parts) + text[done:]


def placeholder(entity: Text) -> Text:
    """How a value of `entity` reads to the classifier."""
    return f"[{entity}]"
