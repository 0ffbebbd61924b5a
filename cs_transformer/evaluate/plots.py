"""The PNG plots of report.md: a confusion matrix per language and the scores by language
(the reliability diagram is `cs_transformer.grading.plot_reliability`)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import confusion_matrix

from cs_transformer.evaluate.results import LanguageResult
from cs_transformer.grading import Outcome


def plot_confusion(outcomes: Sequence[Outcome], title: str, path: Path) -> None:
    """Counts in the cells, colour by share of the expected intent's sentences (its recall
    on the diagonal), so intents with few test sentences are as visible as the others. Every
    FAQ answer is a row and a column of its own: a wrong answer is off the diagonal."""
    gold = [o.expected_label for o in outcomes]
    predicted = [o.predicted_label for o in outcomes]
    labels = sorted(set(gold) | set(predicted))
    matrix = confusion_matrix(gold, predicted, labels=labels)
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    side = max(5.0, 0.42 * len(labels) + 2.5)
    figure = Figure(figsize=(side + 1.5, side))
    axes = figure.subplots()
    image = axes.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    axes.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=9)
    axes.set_yticks(range(len(labels)), labels, fontsize=9)
    for i, j in zip(*np.nonzero(matrix)):
        axes.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                  color="white" if share[i, j] > 0.5 else "black")
    axes.set_xlabel("predicted intent")
    axes.set_ylabel("expected intent")
    axes.set_title(title, fontsize=11)
    figure.colorbar(image, ax=axes, fraction=0.04, label="share of the expected intent's sentences")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


ACCURACY_BARS = (
    ("accuracy", "accuracy", "tab:blue"),
    ("macro_f1", "macro-F1", "tab:orange"),
    ("answer_accuracy", "answer accuracy (FAQ)", "tab:green"),
    ("fallback_rate", "fallback rate", "tab:gray"),
)


def plot_accuracy(results: Sequence[LanguageResult], title: str, path: Path) -> None:
    """Accuracy, macro-F1, answer accuracy and fallback rate side by side per language, dashed
    lines at their means (a language without FAQ questions has no answer-accuracy bar)."""
    x = np.arange(len(results))
    width = 0.8 / len(ACCURACY_BARS)
    figure = Figure(figsize=(max(7.0, 1.6 * len(results) + 2.5), 5))
    axes = figure.subplots()
    for index, (key, label, colour) in enumerate(ACCURACY_BARS):
        values = [getattr(r, key) for r in results]
        shown = [np.nan if value is None else value for value in values]
        bars = axes.bar(x + (index - (len(ACCURACY_BARS) - 1) / 2) * width, shown, width=width * 0.95,
                        label=label, color=colour)
        axes.bar_label(bars, labels=["" if value is None else f"{value:.2f}" for value in values], fontsize=7,
                       padding=2, zorder=3, bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
        present = [value for value in values if value is not None]
        if present:
            mean = statistics.mean(present)
            axes.axhline(mean, linestyle="--", linewidth=1, color=colour, label=f"mean {label} {mean:.3f}")
    axes.set_xticks(x, [r.language for r in results])
    axes.set_ylim(0, 1.1)
    axes.set_ylabel("score (fallback rate: share of in-scope sentences)")
    axes.set_title(title, fontsize=11)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=4, fontsize=7, frameon=False)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
