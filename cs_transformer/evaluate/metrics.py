"""The scores of one language from its graded outcomes (`cs_transformer.grading`): accuracy,
fallback rate, out-of-scope rejection, calibration (ECE), macro-F1 and per-label scores."""

from __future__ import annotations

import statistics
from typing import Sequence

from sklearn.metrics import classification_report

from cs_transformer import grading
from cs_transformer.evaluate.results import EvaluationError, LanguageResult
from cs_transformer.grading import Outcome, accuracy


def score(language: str, outcomes: Sequence[Outcome], fold_accuracy: Sequence[float] = ()) -> LanguageResult:
    """Accuracy (intent level: `faq` is one intent), fallback rate, out-of-scope rejection,
    calibration, answer accuracy (the share of FAQ questions that got the right intent and
    answer), and per-label scores where every FAQ answer is its own label (`faq/warranty`).

    Macro-F1 averages every label tested or predicted, so a prediction into an intent the test
    set lacks counts (F1 0) instead of vanishing; `out_of_scope` (graded by its rejection rate)
    and `nlu_fallback` (a decline, already counted by the fallback rate and the recall of the
    tested intents) are listed but not averaged.
    """
    if not outcomes:
        raise EvaluationError(f"{language}: no test sentences")
    gold = [o.expected_label for o in outcomes]
    predicted = [o.predicted_label for o in outcomes]
    report = classification_report(gold, predicted, output_dict=True, zero_division=0)
    labels = sorted(set(gold) | set(predicted))
    intents = {
        label: {
            "precision": float(report[label]["precision"]),
            "recall": float(report[label]["recall"]),
            "f1": float(report[label]["f1-score"]),
            "support": int(report[label]["support"]),
        }
        for label in labels
    }
    averaged = [label for label in labels if label not in grading.REJECTIONS]
    faq = [o for o in outcomes if o.answer]
    return LanguageResult(
        language=language,
        sentences=len(outcomes),
        accuracy=accuracy(outcomes),
        macro_f1=statistics.mean(intents[label]["f1"] for label in averaged) if averaged else 0.0,
        answer_accuracy=sum(o.correct for o in faq) / len(faq) if faq else None,
        faq_questions=len(faq),
        intents=intents,
        errors=[
            {"text": o.text, "expected": o.expected_label, "predicted": o.predicted_label,
             "confidence": round(o.confidence, 4)}
            for o in outcomes if not o.correct
        ],
        fold_accuracy=list(fold_accuracy),
        fallback_rate=grading.fallback_rate(outcomes),
        top_accuracy=grading.top_accuracy(outcomes),
        oos_sentences=len(outcomes) - len(grading.in_scope(outcomes)),
        oos_rejection=grading.oos_rejection(outcomes),
        ece=grading.expected_calibration_error(outcomes),
        reliability=grading.reliability(outcomes),
    )
