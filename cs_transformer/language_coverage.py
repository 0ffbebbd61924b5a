"""`trainable_layers: auto`: fine-tune the encoder only when the examples cover the bot's languages.

Fine-tuned top layers win in the languages they were trained on (0.934 against 0.877 frozen on
the public benchmark), but pull the languages without examples away from them (0.743 against
0.788 when trained on English only). So: fine-tune when every language the LanguageDetector
serves has its share of examples, else stay frozen.
"""

from __future__ import annotations

import logging
from typing import Dict, List, Optional, Sequence, Text, Union

from rasa.engine.graph import ExecutionContext

from cs_transformer.language_detector import LanguageDetector
from cs_transformer.languages import LanguageIdentifier

logger = logging.getLogger(__name__)

# `trainable_layers: auto`: the top layers fine-tuned when the examples cover the bot's languages.
# 4 scored 0.932 against 2's 0.912 on the public benchmark's in-language fold 1; the shortcut they
# had learned on the demo data (an email address means `link_account`) went with handoff examples
# that carry contact details and `entity_placeholders` (README, "NLU on public data").
AUTO_TRAINABLE_LAYERS = 4
# A bot language counts as covered when it has at least this share of an even split of the
# examples whose language could be told.
LANGUAGE_COVERAGE_SHARE = 0.2


def trainable_layers(configured: Union[int, Text], execution_context: ExecutionContext, texts: Sequence[Text]) -> int:
    """`trainable_layers`, with `auto` decided from the languages of the examples."""
    if configured != "auto":
        return int(configured)
    languages = bot_languages(execution_context)
    if languages is None:
        logger.info("cs_transformer.train.auto_layers trainable_layers=%d reason='no LanguageDetector: "
                    "the bot serves the languages of its examples'", AUTO_TRAINABLE_LAYERS)
        return AUTO_TRAINABLE_LAYERS
    counts = example_languages(texts, languages)
    missing = uncovered_languages(counts, languages)
    layers = 0 if missing else AUTO_TRAINABLE_LAYERS
    logger.info(
        "cs_transformer.train.auto_layers trainable_layers=%d examples_per_language=%s uncovered=%s",
        layers, counts, missing,
    )
    return layers


def bot_languages(execution_context: ExecutionContext) -> Optional[List[Text]]:
    """The `languages` of the graph's LanguageDetector, or None when it has none.

    Rasa 3.6's training graph holds only trainable components, tokenizers and featurizers:
    the detector is found there only when it is registered as one of those."""
    for node in execution_context.graph_schema.nodes.values():
        if isinstance(node.uses, type) and issubclass(node.uses, LanguageDetector):
            return list(node.config.get("languages") or LanguageDetector.get_default_config()["languages"])
    return None


def example_languages(texts: Sequence[Text], languages: Sequence[Text]) -> Dict[Text, int]:
    """How many examples are reliably in each of `languages` (the rest cannot be told)."""
    identifier = LanguageIdentifier(languages, languages[0])
    counts = dict.fromkeys(languages, 0)
    for text in texts:
        guess = identifier.identify(text)
        if guess.reliable:
            counts[guess.language] += 1
    return counts


def uncovered_languages(counts: Dict[Text, int], languages: Sequence[Text]) -> List[Text]:
    """The languages with fewer examples than LANGUAGE_COVERAGE_SHARE of an even split."""
    needed = LANGUAGE_COVERAGE_SHARE * sum(counts.values()) / max(1, len(languages))
    return [language for language in languages if counts.get(language, 0) == 0 or counts[language] < needed]
