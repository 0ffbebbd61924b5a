"""The classifier's scores in Rasa's output format: `intent`, `intent_ranking` and `response_selector`.

Retrieval intents (`faq/...`) are labels of their own. The intent ranking scores a retrieval
intent by its best answer, and `response_selector` gets Rasa's exact format, so `utter_faq`
and RulePolicy work unchanged.
"""

from __future__ import annotations

import hashlib
from typing import Any, Dict, List, Sequence, Text

from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, INTENT_RESPONSE_KEY
from rasa.shared.nlu.training_data.message import Message

RETRIEVAL_DELIMITER = "/"
RESPONSE_SELECTOR = "response_selector"


def label_of(message: Message) -> Text:
    """The full label: `faq/shipping_cost` for retrieval intents, else the intent."""
    return message.get(INTENT_RESPONSE_KEY) or message.get(INTENT)


def retrieval_intents(labels: Sequence[Text]) -> List[Text]:
    return sorted({label.split(RETRIEVAL_DELIMITER, 1)[0] for label in labels if RETRIEVAL_DELIMITER in label})


def intent_confidences(by_label: Dict[Text, float]) -> Dict[Text, float]:
    """Per-intent confidences that sum to 1; a retrieval intent scores its best answer.

    Summing the answers of `faq` instead would add up the small probability every one of
    them gets for any message, so out-of-scope messages would land on `faq` and never
    reach the FallbackClassifier.
    """
    scores: Dict[Text, float] = {}
    for label, confidence in by_label.items():
        intent = label.split(RETRIEVAL_DELIMITER, 1)[0]
        scores[intent] = max(scores.get(intent, 0.0), confidence)
    total = sum(scores.values()) or 1.0
    return {intent: score / total for intent, score in scores.items()}


def annotate_untrained(message: Message) -> None:
    """What DIET sets when untrained, so FallbackClassifier and the policies read an intent that
    is surely below any threshold."""
    message.set(INTENT, {"name": None, "confidence": 0.0}, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [], add_to_output=True)


def annotate(
    message: Message,
    labels: Sequence[Text],
    probabilities: Sequence[float],
    responses: Dict[Text, List[Dict[Text, Any]]],
    ranking_length: int,
) -> None:
    """`intent`, `intent_ranking` (cut at `ranking_length`, 0 = all) and one `response_selector`
    entry per retrieval intent."""
    by_label = dict(zip(labels, probabilities))
    intents = intent_confidences(by_label)
    ranking = sorted(({"name": n, "confidence": c} for n, c in intents.items()), key=lambda r: -r["confidence"])
    message.set(INTENT, dict(ranking[0]), add_to_output=True)
    message.set(INTENT_RANKING_KEY, _cut(ranking, ranking_length), add_to_output=True)
    all_retrieval_intents = retrieval_intents(labels)
    for retrieval_intent in all_retrieval_intents:
        _set_response_selection(message, retrieval_intent, all_retrieval_intents, by_label, responses, ranking_length)


def _set_response_selection(
    message: Message,
    retrieval_intent: Text,
    all_retrieval_intents: List[Text],
    by_label: Dict[Text, float],
    responses: Dict[Text, List[Dict[Text, Any]]],
    ranking_length: int,
) -> None:
    """Rasa's `response_selector` output, with confidences conditional on the retrieval intent."""
    prefix = retrieval_intent + RETRIEVAL_DELIMITER
    total = sum(p for k, p in by_label.items() if k.startswith(prefix))
    ranking = sorted(
        ({INTENT_RESPONSE_KEY: k, "confidence": p / total if total else 0.0, "id": _label_id(k)} for k, p in by_label.items() if k.startswith(prefix)),
        key=lambda r: -r["confidence"],
    )
    best = ranking[0]
    utter_action = f"utter_{best[INTENT_RESPONSE_KEY]}"
    selector = message.get(RESPONSE_SELECTOR) or {}
    selector["all_retrieval_intents"] = all_retrieval_intents
    selector[retrieval_intent] = {
        "response": {
            "responses": responses.get(utter_action, []),
            "confidence": best["confidence"],
            INTENT_RESPONSE_KEY: best[INTENT_RESPONSE_KEY],
            "utter_action": utter_action,
        },
        "ranking": _cut(ranking, ranking_length),
    }
    message.set(RESPONSE_SELECTOR, selector, add_to_output=True)


def _cut(ranking: List[Dict[Text, Any]], length: int) -> List[Dict[Text, Any]]:
    return ranking[:length] if length else ranking


def _label_id(label: Text) -> int:
    """A stable id for a label, as Rasa's rankings carry one."""
    return int(hashlib.sha256(label.encode()).hexdigest()[:8], 16)
