"""Grading as the bot runs: fallbacks, out of scope and calibration on known outcomes, and
one real trained pipeline parsed through `grading.parse`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from matplotlib.colors import to_rgb
from rasa.core.agent import Agent
from rasa.model_training import train_nlu
from rasa.shared.utils.io import write_yaml

from cs_transformer import grading
from cs_transformer.grading import Outcome
from tests.cs_transformer.images import assert_png, pixels_of

# 4 in-scope sentences (one fell back though its top intent was right, one wrong) and
# 3 out-of-scope ones (one fell back, one classified out_of_scope, one taken as faq).
OUTCOMES = [
    Outcome("hi", "greet", "greet", 0.95),
    Outcome("hey you", "greet", "nlu_fallback", 0.25, top_intent="greet"),
    Outcome("bye", "goodbye", "greet", 0.55),
    Outcome("where is my parcel", "order_status", "order_status", 0.85),
    Outcome("play some jazz", "out_of_scope", "nlu_fallback", 0.15, top_intent="faq"),
    Outcome("set an alarm", "out_of_scope", "out_of_scope", 0.65),
    Outcome("tell me a joke", "out_of_scope", "faq", 0.45),
]


def test_a_fallback_counts_as_wrong_and_is_counted() -> None:
    assert grading.accuracy(OUTCOMES) == 2 / 4
    assert grading.top_accuracy(OUTCOMES) == 3 / 4
    assert grading.fallback_rate(OUTCOMES) == 1 / 4
    assert OUTCOMES[1].fell_back and not OUTCOMES[1].correct and OUTCOMES[1].classified == "greet"


def test_out_of_scope_is_rejected_by_a_fallback_or_its_intent() -> None:
    assert grading.oos_rejection(OUTCOMES) == 2 / 3
    assert [o.correct for o in OUTCOMES[4:]] == [True, True, False]
    assert grading.oos_rejection(OUTCOMES[:4]) is None


def test_reliability_bins_and_calibration_error() -> None:
    bins = grading.reliability(OUTCOMES)
    # one sentence per bin here: 0.15, 0.25, 0.45, 0.55, 0.65, 0.85, 0.95
    assert [b["count"] for b in bins] == [1] * 7
    assert [b["accuracy"] for b in bins] == [0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    gaps = [0.15, 0.75, 0.45, 0.55, 0.35, 0.15, 0.05]
    assert grading.expected_calibration_error(OUTCOMES) == pytest.approx(sum(gaps) / 7)
    perfect = [Outcome("a", "greet", "greet", 1.0), Outcome("b", "bye", "greet", 0.0)]
    assert grading.expected_calibration_error(perfect) == 0.0
    assert grading.expected_calibration_error([]) == 0.0


def test_fallback_threshold_is_read_from_the_pipeline() -> None:
    assert grading.fallback_threshold([{"name": "X"}, {"name": "FallbackClassifier", "threshold": 0.45}]) == 0.45
    assert grading.fallback_threshold([{"name": "FallbackClassifier"}]) == 0.3  # Rasa's default
    assert grading.fallback_threshold([{"name": "X"}]) is None


def test_reliability_diagram_draws_a_line_per_language(tmp_path: Path) -> None:
    both, english = tmp_path / "reliability.png", tmp_path / "english.png"
    grading.plot_reliability({"en": OUTCOMES, "es": OUTCOMES[:3]}, "calibration", both, threshold=0.3)
    grading.plot_reliability({"en": OUTCOMES}, "calibration", english, threshold=0.3)
    assert_png(both)
    # matplotlib's colour cycle: the first curve C0, the second C1
    first, second = to_rgb("C0"), to_rgb("C1")
    assert pixels_of(both, first) > 200 and pixels_of(english, first) > 200
    assert pixels_of(both, second) > 200 > pixels_of(english, second)


NLU = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello
    - hi there
    - good morning
    - hey
- intent: goodbye
  examples: |
    - bye
    - see you later
    - goodbye
    - take care
"""


def test_parse_reads_the_fallback_and_the_top_intent_under_it(tmp_path: Path) -> None:
    """A real Rasa pipeline whose threshold every message falls under: the bot acts on
    nlu_fallback, the grade keeps the classifier's top intent and its confidence."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "nlu.yml").write_text(NLU, encoding="utf-8")
    write_yaml({"recipe": "default.v1", "language": "en", "policies": [], "pipeline": [
        {"name": "WhitespaceTokenizer"}, {"name": "CountVectorsFeaturizer"},
        {"name": "LogisticRegressionClassifier"}, {"name": "FallbackClassifier", "threshold": 0.99}]},
        tmp_path / "config.yml")
    model = train_nlu(str(tmp_path / "config.yml"), str(tmp_path / "data"), str(tmp_path / "models"))
    outcome = asyncio.run(grading.parse(Agent.load(model), "hello", "greet"))
    assert outcome.fell_back and outcome.predicted == "nlu_fallback"
    assert outcome.classified in {"greet", "goodbye"} and 0.0 < outcome.confidence < 0.99
    assert grading.accuracy([outcome]) == 0.0
