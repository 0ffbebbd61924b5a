"""Grading NLU as the bot runs: FallbackClassifier kept, out of scope as an outcome.

What a customer sees is what the whole pipeline decides, so a message that falls back
(`nlu_fallback`) is answered "please rephrase" and counts as wrong. Shared by
`cs_transformer.evaluate`, `benchmarks/nlu.py` and `benchmarks/xsid.py`:

- accuracy: share of in-scope sentences whose intent the bot acts on is right;
- fallback rate: share of in-scope sentences that fell back;
- out-of-scope rejection: share of out-of-scope sentences that fell back or were
  classified `out_of_scope` (either way the bot declines instead of acting);
- expected calibration error (ECE) of the classifier's own top intent and confidence,
  read from the ranking under the fallback, so it grades the scores the threshold cuts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure
from rasa.core.agent import Agent
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME

OUT_OF_SCOPE = "out_of_scope"
# The intents the bot declines with: out_of_scope answers what the bot can do, a fallback asks to rephrase.
REJECTIONS = frozenset({OUT_OF_SCOPE, DEFAULT_NLU_FALLBACK_INTENT_NAME})
FALLBACK_CLASSIFIER = "FallbackClassifier"
CALIBRATION_BINS = 10
# What a pipeline without an intent classifier predicts; shown as a label of its own.
NO_INTENT = "(none)"


@dataclass(frozen=True)
class Outcome:
    """One test sentence: its labels and what the bot decided."""

    text: str
    intent: str  # `faq` for every FAQ question; `out_of_scope` for what the bot does not handle
    predicted: str  # what the bot acts on: `nlu_fallback` when it fell back
    confidence: float  # the classifier's confidence in its top intent (under the fallback)
    answer: Optional[str] = None  # the FAQ key, `faq/warranty`; None for other intents
    predicted_answer: Optional[str] = None  # the response selector's key for this sentence
    top_intent: Optional[str] = None  # the classifier's top intent; None: the same as `predicted`

    @property
    def classified(self) -> str:
        """The classifier's own best intent, whether or not the bot fell back."""
        return self.top_intent or self.predicted

    @property
    def fell_back(self) -> bool:
        return self.predicted == DEFAULT_NLU_FALLBACK_INTENT_NAME

    @property
    def in_scope(self) -> bool:
        return self.intent != OUT_OF_SCOPE

    @property
    def expected_label(self) -> str:
        return self.answer or self.intent

    @property
    def predicted_label(self) -> str:
        """The predicted FAQ key when a retrieval intent was predicted, else the intent."""
        if self.predicted_answer and self.predicted_answer.startswith(self.predicted + "/"):
            return self.predicted_answer
        return self.predicted

    @property
    def correct(self) -> bool:
        """What the customer sees: the right intent and, for an FAQ, the right answer; an
        out-of-scope sentence is handled right when the bot declines it."""
        if not self.in_scope:
            return self.predicted in REJECTIONS
        return self.predicted_label == self.expected_label


def in_scope(outcomes: Sequence[Outcome]) -> List[Outcome]:
    return [o for o in outcomes if o.in_scope]


def accuracy(outcomes: Sequence[Outcome]) -> float:
    """Intent-level accuracy on in-scope sentences, a fallback counting as wrong (an FAQ
    question with the wrong answer still counts as right)."""
    tested = in_scope(outcomes)
    return sum(o.intent == o.predicted for o in tested) / len(tested) if tested else 0.0


def top_accuracy(outcomes: Sequence[Outcome]) -> float:
    """The classifier's top intent alone, as if there were no fallback: what the threshold costs."""
    tested = in_scope(outcomes)
    return sum(o.intent == o.classified for o in tested) / len(tested) if tested else 0.0


def fallback_rate(outcomes: Sequence[Outcome]) -> float:
    tested = in_scope(outcomes)
    return sum(o.fell_back for o in tested) / len(tested) if tested else 0.0


def oos_rejection(outcomes: Sequence[Outcome]) -> Optional[float]:
    """Share of out-of-scope sentences the bot declined; None when none was tested."""
    tested = [o for o in outcomes if not o.in_scope]
    return sum(o.predicted in REJECTIONS for o in tested) / len(tested) if tested else None


def reliability(outcomes: Sequence[Outcome], bins: int = CALIBRATION_BINS) -> List[Dict[str, float]]:
    """Equal-width confidence bins of the classifier's top intent: mean confidence, share
    right and count of each non-empty bin."""
    confidences = np.array([o.confidence for o in outcomes], dtype=float)
    right = np.array([o.classified == o.intent for o in outcomes], dtype=float)
    # Bin b holds (b/bins, (b+1)/bins]; a confidence of 0 goes to the first.
    index = np.clip(np.ceil(confidences * bins).astype(int) - 1, 0, bins - 1)
    return [
        {"confidence": float(confidences[index == b].mean()), "accuracy": float(right[index == b].mean()),
         "count": int((index == b).sum())}
        for b in range(bins) if (index == b).any()
    ]


def expected_calibration_error(outcomes: Sequence[Outcome], bins: int = CALIBRATION_BINS) -> float:
    """Mean gap between confidence and accuracy over the bins, weighted by their counts."""
    total = len(outcomes)
    if not total:
        return 0.0
    return sum(b["count"] / total * abs(b["accuracy"] - b["confidence"]) for b in reliability(outcomes, bins))


def fallback_threshold(pipeline: Sequence[Mapping[str, Any]]) -> Optional[float]:
    """The FallbackClassifier's threshold in a config's pipeline (Rasa's default 0.3), or None."""
    for component in pipeline:
        if component.get("name") == FALLBACK_CLASSIFIER:
            return float(component.get("threshold", 0.3))
    return None


async def parse(agent: Agent, text: str, intent: str, answer: Optional[str] = None) -> Outcome:
    """One message through the whole NLU pipeline, graded as the bot would act on it."""
    parsed = await agent.parse_message(text)
    predicted = (parsed.get("intent") or {}).get("name") or NO_INTENT
    ranking = [r for r in parsed.get("intent_ranking") or [] if r.get("name") != DEFAULT_NLU_FALLBACK_INTENT_NAME]
    top = ranking[0] if ranking else parsed.get("intent") or {}
    top_intent = top.get("name") or predicted
    selector = parsed.get("response_selector") or {}
    selected = (selector.get(top_intent) or selector.get("default") or {}).get("response") or {}
    return Outcome(
        text=text,
        intent=intent,
        predicted=predicted,
        confidence=float(top.get("confidence") or 0.0),
        answer=answer,
        predicted_answer=selected.get("intent_response_key"),
        top_intent=top_intent,
    )


def plot_reliability(curves: Mapping[str, Sequence[Outcome]], title: str, path: Path,
                     threshold: Optional[float] = None) -> None:
    """Accuracy against confidence per bin, a line per language (or pipeline); the diagonal
    is perfect calibration, the dotted line the fallback threshold."""
    figure = Figure(figsize=(7.5, 6))
    axes = figure.subplots()
    axes.plot([0, 1], [0, 1], color="grey", linewidth=1, label="perfectly calibrated")
    for name, outcomes in curves.items():
        points = reliability(outcomes)
        axes.plot([p["confidence"] for p in points], [p["accuracy"] for p in points], marker="o", markersize=4,
                  label=f"{name} (ECE {expected_calibration_error(outcomes):.3f})")
    if threshold is not None:
        axes.axvline(threshold, linestyle=":", color="black", label=f"fallback threshold {threshold:g}")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel(f"confidence of the classifier's top intent ({CALIBRATION_BINS} bins)")
    axes.set_ylabel("share of those intents that were right")
    axes.set_title(title, fontsize=11)
    axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
