"""What one evaluation produces: the scores of each test language, and the run around them."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

HELDOUT = "heldout"


CROSSVAL = "crossval"


class EvaluationError(Exception):
    """The inputs cannot be evaluated (missing file, too few examples): exit 2."""


@dataclass(frozen=True)
class LanguageResult:
    """The scores of one test language."""

    language: str
    sentences: int
    accuracy: float
    macro_f1: float
    answer_accuracy: Optional[float]  # None when no FAQ question was tested
    faq_questions: int
    intents: Dict[str, Dict[str, float]]  # intent -> precision, recall, f1, support
    errors: List[Dict[str, Any]]  # sentences whose intent or FAQ answer was wrong
    fold_accuracy: List[float] = field(default_factory=list)  # crossval only
    fallback_rate: float = 0.0  # share of in-scope sentences that fell back
    top_accuracy: float = 0.0  # the classifier's top intent, as if there were no fallback
    oos_sentences: int = 0
    oos_rejection: Optional[float] = None  # None when no out-of-scope sentence was tested
    ece: float = 0.0  # expected calibration error of the classifier's top intent
    reliability: List[Dict[str, float]] = field(default_factory=list)  # the bins behind `ece`


@dataclass(frozen=True)
class Evaluation:
    """One run of the tool: what was trained and tested, and the results."""

    mode: str
    config: str
    train_languages: List[str]
    test_languages: List[str]
    test_data: str
    folds: Optional[int]
    command: str
    results: List[LanguageResult]
    fallback_threshold: Optional[float] = None  # None: the config has no FallbackClassifier

    def summary(self) -> Dict[str, Optional[float]]:
        """Means over the test languages: every language weighs the same."""
        answers = [r.answer_accuracy for r in self.results if r.answer_accuracy is not None]
        rejections = [r.oos_rejection for r in self.results if r.oos_rejection is not None]
        return {
            "accuracy": statistics.mean(r.accuracy for r in self.results),
            "fallback_rate": statistics.mean(r.fallback_rate for r in self.results),
            "oos_rejection": statistics.mean(rejections) if rejections else None,
            "ece": statistics.mean(r.ece for r in self.results),
            "top_accuracy": statistics.mean(r.top_accuracy for r in self.results),
            "macro_f1": statistics.mean(r.macro_f1 for r in self.results),
            "answer_accuracy": statistics.mean(answers) if answers else None,
        }

    def to_json(self) -> Dict[str, Any]:
        return {
            "mode": self.mode,
            "config": self.config,
            "fallback_threshold": self.fallback_threshold,
            "train_languages": self.train_languages,
            "test_languages": self.test_languages,
            "test_data": self.test_data,
            "folds": self.folds,
            "command": self.command,
            "languages": {r.language: {k: v for k, v in asdict(r).items() if k != "language"} for r in self.results},
            "summary": self.summary(),
        }
