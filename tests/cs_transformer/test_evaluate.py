"""The per-language evaluation: metrics and reports on synthetic outcomes, and the real CLI."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import pytest
from matplotlib import colormaps
from matplotlib.colors import to_rgb
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from rasa.shared.utils.io import read_yaml_file

from cs_transformer.evaluate import CROSSVAL, HELDOUT, Evaluation, EvaluationError, LanguageResult, evaluate
from cs_transformer.evaluate.cli import main, parse_args
from cs_transformer.evaluate.corpus import Corpus, plan_crossval, read_corpus, stratified_folds
from cs_transformer.evaluate.metrics import score
from cs_transformer.evaluate.plots import ACCURACY_BARS, plot_accuracy, plot_confusion
from cs_transformer.evaluate.report import format_report, format_summary
from cs_transformer.evaluate.runner import nlu_config
from cs_transformer.grading import Outcome, fallback_threshold
from tests.conftest import REPO
from tests.cs_transformer.images import assert_png, pixels_of

# 8 sentences: 2 intent mistakes (greet -> goodbye, faq -> order_status) and one FAQ question
# with the right intent but the wrong answer.
OUTCOMES: List[Outcome] = [
    Outcome("hello", "greet", "greet", 0.9),
    Outcome("hi | there", "greet", "goodbye", 0.4),
    Outcome("bye", "goodbye", "goodbye", 0.8),
    Outcome("where is my order", "order_status", "order_status", 0.95),
    Outcome("how much is shipping", "faq", "faq", 0.9, "faq/shipping_cost", "faq/shipping_cost"),
    Outcome("shipping to spain?", "faq", "faq", 0.7, "faq/shipping_cost", "faq/international_shipping"),
    Outcome("when do you open", "faq", "faq", 0.8, "faq/opening_hours", "faq/opening_hours"),
    Outcome("are you open, where's my parcel", "faq", "order_status", 0.5, "faq/opening_hours", "faq/opening_hours"),
]


def result(language: str, accuracy: float, macro_f1: float, answer_accuracy: Optional[float] = None,
           fallback_rate: float = 0.0, oos_rejection: Optional[float] = None) -> LanguageResult:
    """A language's scores as the reports get them, without a model."""
    return LanguageResult(language, 10, accuracy, macro_f1, answer_accuracy, 4 if answer_accuracy is not None else 0,
                          {"greet": {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2}}, [],
                          fallback_rate=fallback_rate, oos_sentences=0 if oos_rejection is None else 4,
                          oos_rejection=oos_rejection, ece=0.05)


def evaluation(results: List[LanguageResult], mode: str = HELDOUT) -> Evaluation:
    return Evaluation(mode, "config.yml", ["en"], [r.language for r in results], "benchmarks/heldout",
                      5 if mode == CROSSVAL else None, "python -m cs_transformer.evaluate", results, 0.3)


# --------------------------------------------------------------------------- metrics


def test_score_gives_every_faq_answer_its_own_row() -> None:
    scores = score("en", OUTCOMES)
    assert scores.sentences == 8
    assert scores.accuracy == 6 / 8  # intent level: the wrong FAQ answer is still the right intent
    assert scores.intents["greet"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert scores.intents["goodbye"] == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "support": 1}
    assert "faq" not in scores.intents
    assert scores.intents["faq/shipping_cost"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert scores.intents["faq/international_shipping"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert scores.intents["order_status"]["precision"] == 1 / 2
    labels = ("greet", "goodbye", "order_status", "faq/shipping_cost", "faq/opening_hours", "faq/international_shipping")
    assert set(scores.intents) == set(labels)
    assert scores.macro_f1 == pytest.approx(sum(scores.intents[label]["f1"] for label in labels) / len(labels))


def test_answer_accuracy_needs_the_right_intent_and_answer() -> None:
    scores = score("en", OUTCOMES)
    assert scores.faq_questions == 4
    assert scores.answer_accuracy == 2 / 4
    assert [(e["text"], e["expected"], e["predicted"]) for e in scores.errors] == [
        ("hi | there", "greet", "goodbye"),
        ("shipping to spain?", "faq/shipping_cost", "faq/international_shipping"),
        ("are you open, where's my parcel", "faq/opening_hours", "order_status"),
    ]


def test_a_prediction_into_an_untested_intent_lowers_macro_f1() -> None:
    right = [Outcome("hi", "greet", "greet", 0.9), Outcome("hey", "greet", "greet", 0.8),
             Outcome("bye", "goodbye", "goodbye", 0.9)]
    into_a_tested_intent = [*right[:1], Outcome("hey", "greet", "goodbye", 0.3), right[2]]
    into_an_untested_intent = [*right[:1], Outcome("hey", "greet", "ask_recommendation", 0.3), right[2]]
    scores = score("de", into_an_untested_intent)
    assert scores.intents["ask_recommendation"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert scores.macro_f1 == pytest.approx((2 / 3 + 1.0 + 0.0) / 3)
    assert scores.accuracy == score("de", into_a_tested_intent).accuracy == 2 / 3
    assert scores.macro_f1 < score("de", into_a_tested_intent).macro_f1 < score("de", right).macro_f1 == 1.0
    assert scores.answer_accuracy is None and scores.faq_questions == 0


def test_score_grades_as_the_bot_runs() -> None:
    outcomes = [
        Outcome("hi", "greet", "greet", 0.9),
        Outcome("hey you", "greet", "nlu_fallback", 0.25, top_intent="greet"),
        Outcome("bye", "goodbye", "nlu_fallback", 0.2, top_intent="greet"),
        Outcome("where is my parcel", "order_status", "order_status", 0.8),
        Outcome("play some jazz", "out_of_scope", "nlu_fallback", 0.2, top_intent="faq"),
        Outcome("set an alarm", "out_of_scope", "out_of_scope", 0.7),
        Outcome("tell me a joke", "out_of_scope", "faq", 0.6),
    ]
    scores = score("en", outcomes)
    assert scores.accuracy == 2 / 4  # in-scope sentences only; a fallback is wrong
    assert scores.top_accuracy == 3 / 4
    assert scores.fallback_rate == 2 / 4
    assert (scores.oos_sentences, scores.oos_rejection) == (3, 2 / 3)
    assert "out_of_scope" not in {e["expected"] for e in scores.errors if e["predicted"] == "nlu_fallback"}
    assert scores.intents["nlu_fallback"]["support"] == 0
    # `faq`, only predicted (for "tell me a joke"), is averaged; out_of_scope and nlu_fallback are not.
    averaged = [scores.intents[intent]["f1"] for intent in ("greet", "goodbye", "order_status", "faq")]
    assert scores.macro_f1 == pytest.approx(sum(averaged) / 4)
    assert 0.0 < scores.ece < 1.0 and sum(b["count"] for b in scores.reliability) == 7


def test_score_refuses_an_empty_language() -> None:
    with pytest.raises(EvaluationError, match="de: no test sentences"):
        score("de", [])


def test_folds_are_stratified_and_cover_every_example_once() -> None:
    labels = ["greet"] * 10 + ["faq/warranty"] * 5 + ["faq/gift_cards"] * 7
    folds = stratified_folds(labels, 5, seed=0)
    assert sorted(i for fold in folds for i in fold) == list(range(len(labels)))
    for fold in folds:
        assert {labels[i] for i in fold} == set(labels)
    assert folds == stratified_folds(labels, 5, seed=0)


def test_folds_need_as_many_examples_per_intent_as_folds() -> None:
    with pytest.raises(EvaluationError, match="faq/warranty has 3 example"):
        stratified_folds(["greet"] * 10 + ["faq/warranty"] * 3, 5, seed=0)


def test_crossval_trains_on_the_other_folds_of_the_train_languages_only() -> None:
    def examples(language: str) -> List[Message]:
        return [Message(data={"text": f"{language} {intent} {i}", "intent": intent})
                for intent in ("greet", "goodbye") for i in range(4)]

    corpus = Corpus({"en": examples("en"), "es": examples("es")}, TrainingData())
    runs = plan_crossval(corpus, ["en"], ["en", "es"], folds=2, seed=0)
    assert len(runs) == 2
    tested: Dict[str, List[str]] = {"en": [], "es": []}
    for run in runs:
        trained = {m.get("text") for m in run.train.intent_examples}
        assert all(text.startswith("en ") for text in trained) and len(trained) == 4
        for language, test in run.tests.items():
            texts = [m.get("text") for m in test.intent_examples]
            assert not trained & set(texts)
            tested[language] += texts
    assert sorted(tested["en"]) == sorted(m.get("text") for m in corpus.examples["en"])
    assert sorted(tested["es"]) == sorted(m.get("text") for m in corpus.examples["es"])


def test_nlu_config_keeps_the_fallback_and_drops_the_policies() -> None:
    pipeline = [{"name": "WhitespaceTokenizer"}, {"name": "FallbackClassifier", "threshold": 0.4}]
    config = {"language": "en", "pipeline": pipeline, "policies": [{"name": "RulePolicy"}]}
    assert nlu_config(config) == {"language": "en", "pipeline": pipeline, "policies": []}
    with pytest.raises(EvaluationError, match="no NLU pipeline"):
        nlu_config({"pipeline": [{"name": "FallbackClassifier"}]})


def test_read_corpus_shares_the_regexes_and_names_missing_languages() -> None:
    corpus = read_corpus(REPO / "data" / "nlu", ["en", "es"])
    assert set(corpus.examples) == {"en", "es"}
    assert all(m.get("intent") for m in corpus.examples["es"])
    assert sorted(r["name"] for r in corpus.shared.regex_features) == ["email", "order_number", "otp_code", "phone"]
    with pytest.raises(EvaluationError, match="no training data for it"):
        read_corpus(REPO / "data" / "nlu", ["en", "it"])


def test_missing_heldout_data_fails_before_training(tmp_path: Path) -> None:
    args = parse_args(["--languages", "en", "--heldout", str(tmp_path), "--out", str(tmp_path / "out"),
                       "--config", str(REPO / "config.yml"), "--domain", str(REPO / "domain.yml"),
                       "--data", str(REPO / "data" / "nlu")])
    with pytest.raises(EvaluationError, match="no held-out test data"):
        evaluate(args, "")


# --------------------------------------------------------------------------- reports


def test_summary_table_has_a_row_per_language_and_the_mean() -> None:
    table = format_summary(evaluation([result("en", 0.9, 0.8, 1.0, fallback_rate=0.1, oos_rejection=0.75),
                                       result("ar", 0.7, 0.6, fallback_rate=0.3)]))
    lines = table.splitlines()
    assert lines[2] == "| en | 10 | 0.900 | 0.100 | 0.750 (4) | 0.050 | 0.800 | 1.000 (4 FAQ) |"
    assert lines[3] == "| ar | 10 | 0.700 | 0.300 | — | 0.050 | 0.600 | — |"
    assert lines[4] == "| **mean** | 20 | **0.800** | 0.200 | 0.750 | 0.050 | 0.700 | 1.000 |"


def test_report_lists_intents_errors_and_folds() -> None:
    scores = score("en", OUTCOMES, fold_accuracy=[0.75, 0.5])
    report = format_report(evaluation([scores], CROSSVAL))
    assert "5-fold stratified cross-validation" in report
    assert "FallbackClassifier included (threshold 0.3)" in report
    assert "![reliability diagram](reliability.png)" in report
    assert "![confusion matrix, en](confusion_en.png)" in report
    assert "| greet | 1.000 | 0.500 | 0.667 | 2 |" in report
    assert "Accuracy per fold: 0.750, 0.500." in report
    assert "| hi \\| there | greet | goodbye | 0.40 |" in report
    assert "Wrong intent or FAQ answer: 3" in report


def test_json_report_means_answers_over_languages_with_faq() -> None:
    report = evaluation([result("en", 0.9, 0.8, 0.5, oos_rejection=1.0), result("ar", 0.7, 0.6)]).to_json()
    assert report["fallback_threshold"] == 0.3
    assert report["summary"] == {"accuracy": pytest.approx(0.8), "macro_f1": pytest.approx(0.7),
                                 "answer_accuracy": 0.5, "fallback_rate": 0.0, "oos_rejection": 1.0,
                                 "ece": pytest.approx(0.05), "top_accuracy": 0.0}
    assert report["languages"]["en"]["intents"]["greet"]["f1"] == pytest.approx(2 / 3)
    json.dumps(report)


def test_confusion_plot_colours_each_cell_by_its_share_of_the_expected_intent(tmp_path: Path) -> None:
    """A cell holding all of an intent's sentences is the darkest blue: OUTCOMES has two such
    rows (goodbye, order_status), the same sentences all answered right have five."""
    all_right = [dataclasses.replace(o, predicted=o.intent, predicted_answer=o.answer) for o in OUTCOMES]
    plot_confusion(OUTCOMES, "en", tmp_path / "confusion_en.png")
    plot_confusion(all_right, "en", tmp_path / "all_right.png")
    assert_png(tmp_path / "confusion_en.png")
    assert_png(tmp_path / "all_right.png")
    darkest = colormaps["Blues"](1.0)[:3]
    some_wrong, none_wrong = pixels_of(tmp_path / "confusion_en.png", darkest), pixels_of(tmp_path / "all_right.png", darkest)
    assert 0 < 2 * some_wrong < none_wrong


def test_accuracy_plot_draws_a_bar_per_score_and_language(tmp_path: Path) -> None:
    high, low, answered = tmp_path / "high.png", tmp_path / "low.png", tmp_path / "answered.png"
    # answer accuracy and fallback rate are bars too; a language without FAQ questions has none
    plot_accuracy([result("en", 0.9, 0.8, 0.5, fallback_rate=0.1), result("es", 0.7, 0.6)], "by language", high)
    plot_accuracy([result("en", 0.3, 0.8, 0.5, fallback_rate=0.1), result("es", 0.2, 0.6)], "by language", low)
    plot_accuracy([result("en", 0.9, 0.8, 0.5, fallback_rate=0.1), result("es", 0.7, 0.6, 1.0)], "by language",
                  answered)
    assert_png(high)
    area = {key: pixels_of(high, to_rgb(colour)) for key, _, colour in ACCURACY_BARS}
    assert all(pixels > 1000 for pixels in area.values()), area
    accuracy_colour, answer_colour = to_rgb(ACCURACY_BARS[0][2]), to_rgb(ACCURACY_BARS[2][2])
    assert pixels_of(high, accuracy_colour) > 2 * pixels_of(low, accuracy_colour)  # bar height is the score
    assert pixels_of(answered, answer_colour) > 2 * pixels_of(high, answer_colour)  # es got its answer bar


# --------------------------------------------------------------------------- the real CLI


@pytest.mark.slow  # trains the real pipeline twice: ~2.5 minutes on 2 idle cores
def test_cli_heldout_and_cross_lingual(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    heldout = tmp_path / "heldout"
    completed = subprocess.run(
        [sys.executable, "-m", "cs_transformer.evaluate", "--languages", "en,es", "--out", str(heldout)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "| **mean** |" in completed.stdout
    assert "[held-out] training on" in completed.stderr
    for name in ("confusion_en.png", "confusion_es.png", "accuracy_by_language.png", "reliability.png"):
        assert_png(heldout / name)
    report = json.loads((heldout / "report.json").read_text(encoding="utf-8"))
    assert report["mode"] == HELDOUT and list(report["languages"]) == ["en", "es"]
    # config.yml's FallbackClassifier is kept
    assert report["fallback_threshold"] == fallback_threshold(read_yaml_file(REPO / "config.yml")["pipeline"])
    for scores in report["languages"].values():
        assert 0.0 <= scores["accuracy"] <= 1.0 and scores["sentences"] > 0
        assert 0.0 <= scores["fallback_rate"] <= 1.0 and 0.0 <= scores["ece"] <= 1.0
        # the held-out set has out-of-scope sentences in every language
        assert scores["oos_sentences"] > 0 and 0.0 <= scores["oos_rejection"] <= 1.0
        assert "faq" not in scores["intents"] and any(label.startswith("faq/") for label in scores["intents"])
        assert all(0.0 <= intent["f1"] <= 1.0 for intent in scores["intents"].values())
    assert (heldout / "report.md").read_text(encoding="utf-8").startswith("# NLU evaluation per language")

    # In this process (Rasa is imported already): the import alone takes half a minute.
    cross = tmp_path / "cross"
    assert main(["--train-languages", "en", "--test-languages", "es", "--out", str(cross)]) == 0
    assert "never trained on es" in capsys.readouterr().out
    report = json.loads((cross / "report.json").read_text(encoding="utf-8"))
    assert (report["train_languages"], report["test_languages"]) == (["en"], ["es"])
    assert 0.0 <= report["languages"]["es"]["accuracy"] <= 1.0
    assert_png(cross / "confusion_es.png")
    assert not (cross / "confusion_en.png").exists()
