"""Per-language NLU evaluation for multilingual Rasa bots.

An average over all languages hides a bot that is good in English and poor in Arabic. This
trains the bot's NLU pipeline with Rasa and scores it one language at a time, with Rasa's
own evaluation loop (`rasa.nlu.test.get_eval_data`, what `rasa test nlu` runs):

    python -m cs_transformer.evaluate [--mode heldout|crossval] [--folds 5]
                                      [--languages en,es] [--train-languages en] [--test-languages es,de]
                                      [--config config.yml] [--domain domain.yml] [--data data/nlu]
                                      [--heldout benchmarks/heldout] [--out results/eval]

- `heldout` (default): train on `<data>/<language>.yml` of the train languages, test on
  `<heldout>/<language>.yml` of the test languages (sentences never trained on).
- `crossval`: stratified K-fold per language over the training data. Fold k trains on the
  other folds of every train language and tests fold k of every test language, so each
  sentence is tested once; the per-language scores pool all folds.
- Cross-lingual: `--train-languages en --test-languages es,de` (either mode).

Regexes, lookup tables and synonyms of every NLU file in `--data` are always trained on;
intent examples only from the files named after a train language. The pipeline is the
config's as it is, FallbackClassifier included: the bot is graded as it runs
(`cs_transformer.grading`), a message that falls back counts as wrong, and `out_of_scope`
test sentences count as handled when the bot declines them. Per language: accuracy,
fallback rate, out-of-scope rejection, expected calibration error, per-intent scores.
Writes to `--out`: report.md, report.json, confusion_<language>.png,
accuracy_by_language.png and reliability.png. Exit status: 2 when the inputs cannot be
evaluated, else 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import statistics
import sys
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure
from rasa.core.agent import Agent
from rasa.model_training import train_nlu
from rasa.shared.data import get_data_files, is_nlu_file
from rasa.shared.exceptions import RasaException
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import read_yaml_file, write_yaml
from rasa.utils.common import configure_logging_and_warnings
from rasa.utils.log_utils import configure_structlog
from sklearn.metrics import classification_report, confusion_matrix
from sklearn.model_selection import StratifiedKFold

from cs_transformer import grading
from cs_transformer.grading import Outcome, accuracy
from cs_transformer.lint import LintError, read_languages

HELDOUT = "heldout"
CROSSVAL = "crossval"
REPORT_TEXT_CHARS = 80


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


@dataclass(frozen=True)
class Corpus:
    """The training data by language, and what every language shares."""

    examples: Dict[str, List[Message]]  # language -> intent examples of <data>/<language>.yml
    shared: TrainingData  # regexes, lookup tables and synonyms of every NLU file


@dataclass(frozen=True)
class Run:
    """One model to train and the sentences to test it on, by language."""

    name: str
    train: TrainingData
    tests: Dict[str, TrainingData]


# --------------------------------------------------------------------------- metrics


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


def stratified_folds(labels: Sequence[str], folds: int, seed: int) -> List[List[int]]:
    """The test indices of each fold, every intent (each FAQ key) spread over all folds."""
    counts = Counter(labels)
    rarest = min(counts, key=lambda label: (counts[label], label))
    if counts[rarest] < folds:
        raise EvaluationError(f"{rarest} has {counts[rarest]} example(s), fewer than --folds {folds}: "
                              "add examples or use fewer folds")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [sorted(test.tolist()) for _, test in splitter.split(np.zeros(len(labels)), labels)]


# --------------------------------------------------------------------------- inputs


def read_corpus(data: Path, languages: Sequence[str]) -> Corpus:
    """Examples of `<data>/<language>.yml` for `languages`, shared data of every NLU file."""
    if not data.exists():
        raise EvaluationError(f"no such data folder: {data}")
    files = [Path(name) for name in sorted(get_data_files([str(data)], is_nlu_file))]
    loaded = {path: load_data(str(path)) for path in files}
    examples = {p.stem: list(t.intent_examples) for p, t in loaded.items() if p.stem in languages}
    missing = [language for language in languages if language not in examples]
    if missing:
        raise EvaluationError(f"no training data for {', '.join(missing)}: expected "
                              + ", ".join(str(data / f"{language}.yml") for language in missing))
    shared = TrainingData().merge(*(TrainingData(
        regex_features=t.regex_features, lookup_tables=t.lookup_tables, entity_synonyms=t.entity_synonyms
    ) for t in loaded.values()))
    return Corpus(examples, shared)


def read_heldout(folder: Path, languages: Sequence[str]) -> Dict[str, TrainingData]:
    """`<folder>/<language>.yml` for each test language."""
    paths = {language: folder / f"{language}.yml" for language in languages}
    missing = [str(path) for path in paths.values() if not path.is_file()]
    if missing:
        raise EvaluationError(f"no held-out test data: {', '.join(missing)}")
    return {language: load_data(str(path)) for language, path in paths.items()}


def nlu_config(config: Dict[str, Any]) -> Dict[str, Any]:
    """The NLU pipeline as configured (FallbackClassifier kept), without the policies."""
    pipeline = list(config.get("pipeline") or [])
    if not [c for c in pipeline if c.get("name") != grading.FALLBACK_CLASSIFIER]:
        raise EvaluationError("the config has no NLU pipeline")
    return {**config, "pipeline": pipeline, "policies": []}


def training_data(corpus: Corpus, examples: List[Message]) -> TrainingData:
    return TrainingData(
        training_examples=examples,
        regex_features=corpus.shared.regex_features,
        lookup_tables=corpus.shared.lookup_tables,
        entity_synonyms=corpus.shared.entity_synonyms,
    )


def plan_heldout(corpus: Corpus, train_languages: Sequence[str], tests: Dict[str, TrainingData]) -> List[Run]:
    """One model on all the training data of the train languages."""
    examples = [m for language in train_languages for m in corpus.examples[language]]
    return [Run("held-out", training_data(corpus, examples), tests)]


def plan_crossval(
    corpus: Corpus, train_languages: Sequence[str], test_languages: Sequence[str], folds: int, seed: int
) -> List[Run]:
    """Fold k: train on the other folds of the train languages, test fold k of the test languages."""
    split = {}
    for language in dict.fromkeys([*train_languages, *test_languages]):
        try:
            split[language] = stratified_folds(
                [m.get_full_intent() for m in corpus.examples[language]], folds, seed)
        except EvaluationError as error:
            raise EvaluationError(f"{language}: {error}") from None
    runs = []
    for k in range(folds):
        held_back = {language: set(split[language][k]) for language in train_languages}
        train = [
            m for language in train_languages for i, m in enumerate(corpus.examples[language])
            if i not in held_back[language]
        ]
        tests = {
            language: TrainingData(training_examples=[corpus.examples[language][i] for i in split[language][k]])
            for language in test_languages
        }
        runs.append(Run(f"fold {k + 1}/{folds}", training_data(corpus, train), tests))
    return runs


# --------------------------------------------------------------------------- running


def execute(runs: Sequence[Run], config: Path, domain: Path, workdir: Path) -> List[Dict[str, List[Outcome]]]:
    """Trains each run's model with Rasa and tests it; the outcomes per run and language.

    The domain gives the FAQ answers (`utter_faq/...`), as in `rasa train`: without them Rasa
    warns about every FAQ example.
    """
    outcomes = []
    for index, run in enumerate(runs):
        data = workdir / f"data-{index}"
        data.mkdir()
        (data / "nlu.yml").write_text(run.train.nlu_as_yaml(), encoding="utf-8")
        progress(f"[{run.name}] training on {len(run.train.intent_examples)} examples")
        # Rasa prints where it saved the (temporary) model: progress, not a result.
        with contextlib.redirect_stdout(sys.stderr):
            model = train_nlu(str(config), str(data), str(workdir / "models"), fixed_model_name=f"run-{index}",
                              domain=str(domain))
        if model is None:
            raise EvaluationError(f"[{run.name}] training failed")
        agent = Agent.load(model)
        outcomes.append(asyncio.run(test_model(agent, run)))
    return outcomes


async def test_model(agent: Agent, run: Run) -> Dict[str, List[Outcome]]:
    """Each test sentence through the whole pipeline, as the bot reads it (`rasa test nlu`
    would undo the fallback's predictions)."""
    by_language = {}
    for language, test in run.tests.items():
        progress(f"[{run.name}] testing {language}: {len(test.intent_examples)} sentences")
        by_language[language] = [
            await grading.parse(agent, m.get("text"), m.get("intent"), m.get("intent_response_key") or None)
            for m in test.intent_examples
        ]
    return by_language


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pool(language: str, per_run: Sequence[Dict[str, List[Outcome]]]) -> List[Outcome]:
    return [o for outcomes in per_run for o in outcomes[language]]


# --------------------------------------------------------------------------- reports


def describe(evaluation: Evaluation) -> List[str]:
    """The report's header: what was trained and tested, and how to rerun it."""
    if evaluation.mode == CROSSVAL:
        method = f"{evaluation.folds}-fold stratified cross-validation per language over `{evaluation.test_data}`"
    else:
        method = f"held-out test set `{evaluation.test_data}` (never trained on)"
    unseen = [language for language in evaluation.test_languages if language not in evaluation.train_languages]
    lines = [
        f"- Method: {method}",
        f"- Trained on: {', '.join(evaluation.train_languages)}; tested on: {', '.join(evaluation.test_languages)}",
        f"- Pipeline: `{evaluation.config}` as configured, {fallback_note(evaluation.fallback_threshold)}",
        "- Accuracy (in-scope sentences, a fallback counts as wrong) is at intent level (`faq` is one intent); "
        "the per-intent scores and the confusion matrices give every FAQ answer its own row (`faq/warranty`); "
        "*fallback* is the share of in-scope sentences that fell back; "
        "*OOS rejected* the share of `out_of_scope` sentences the bot declined (fell back or called them "
        "out_of_scope); *ECE* the expected calibration error of the classifier's top intent (10 bins, "
        "reliability.png); macro-F1 averages every label tested or predicted (a prediction into an intent the "
        "test set lacks counts), except `out_of_scope` and `nlu_fallback`; *answer accuracy* is the "
        "share of FAQ questions that got the right intent and the right answer",
        f"- Reproduce: `{evaluation.command}`",
    ]
    if unseen:
        lines.insert(2, f"- Cross-lingual: never trained on {', '.join(unseen)}")
    return lines


def fallback_note(threshold: Optional[float]) -> str:
    if threshold is None:
        return "which has no FallbackClassifier: every message gets an intent"
    return f"FallbackClassifier included (threshold {threshold:g}): a message that falls back counts as wrong"


def format_summary(evaluation: Evaluation) -> str:
    """One row per test language and the mean: the table printed and atop report.md."""
    lines = ["| language | sentences | accuracy | fallback | OOS rejected | ECE | macro-F1 | answer accuracy |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in evaluation.results:
        answers = "—" if r.answer_accuracy is None else f"{r.answer_accuracy:.3f} ({r.faq_questions} FAQ)"
        rejected = "—" if r.oos_rejection is None else f"{r.oos_rejection:.3f} ({r.oos_sentences})"
        lines.append(f"| {r.language} | {r.sentences} | {r.accuracy:.3f} | {r.fallback_rate:.3f} | {rejected} "
                     f"| {r.ece:.3f} | {r.macro_f1:.3f} | {answers} |")
    mean = evaluation.summary()
    answers = "—" if mean["answer_accuracy"] is None else f"{mean['answer_accuracy']:.3f}"
    rejected = "—" if mean["oos_rejection"] is None else f"{mean['oos_rejection']:.3f}"
    lines.append(f"| **mean** | {sum(r.sentences for r in evaluation.results)} | **{mean['accuracy']:.3f}** "
                 f"| {mean['fallback_rate']:.3f} | {rejected} | {mean['ece']:.3f} | {mean['macro_f1']:.3f} "
                 f"| {answers} |")
    return "\n".join(lines)


def format_report(evaluation: Evaluation) -> str:
    """report.md: header, summary, then per language the plot, the intents and the errors."""
    lines = ["# NLU evaluation per language", "", *describe(evaluation), "", "## Summary", "",
             format_summary(evaluation), "", "![accuracy by language](accuracy_by_language.png)", "",
             "![reliability diagram](reliability.png)"]
    for r in evaluation.results:
        lines += ["", f"## {r.language}", "", f"Accuracy {r.accuracy:.3f} ({r.top_accuracy:.3f} without the "
                  f"fallback), fallback rate {r.fallback_rate:.3f}, ECE {r.ece:.3f}, macro-F1 {r.macro_f1:.3f}"
                  + ("" if r.answer_accuracy is None else f", answer accuracy {r.answer_accuracy:.3f}")
                  + ("" if r.oos_rejection is None else f", out of scope rejected {r.oos_rejection:.3f}")
                  + f" on {r.sentences} sentences."]
        if r.fold_accuracy:
            lines[-1] += " Accuracy per fold: " + ", ".join(f"{a:.3f}" for a in r.fold_accuracy) + "."
        lines += ["", f"![confusion matrix, {r.language}](confusion_{r.language}.png)", "",
                  "| intent | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {name} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['support']} |"
                  for name, s in r.intents.items()]
        lines += ["", f"Wrong intent or FAQ answer: {len(r.errors)}"]
        if r.errors:
            lines += ["", "| sentence | expected | predicted | confidence |", "|---|---|---|---:|"]
            lines += [f"| {_cell(e['text'])} | {e['expected']} | {e['predicted']} | {e['confidence']:.2f} |"
                      for e in r.errors]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    short = text if len(text) <= REPORT_TEXT_CHARS else text[: REPORT_TEXT_CHARS - 1] + "…"
    return short.replace("|", "\\|").replace("\n", " ")


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


def write_outputs(evaluation: Evaluation, outcomes: Dict[str, List[Outcome]], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(format_report(evaluation), encoding="utf-8")
    (out / "report.json").write_text(json.dumps(evaluation.to_json(), ensure_ascii=False, indent=2) + "\n",
                                     encoding="utf-8")
    method = f"{evaluation.folds}-fold cross-validation" if evaluation.mode == CROSSVAL else "held-out set"
    setting = f"trained on {', '.join(evaluation.train_languages)}; {method}"
    for r in evaluation.results:
        plot_confusion(outcomes[r.language], f"{r.language}: accuracy {r.accuracy:.3f} ({setting})",
                       out / f"confusion_{r.language}.png")
    plot_accuracy(evaluation.results, f"NLU scores by language ({setting})", out / "accuracy_by_language.png")
    grading.plot_reliability(outcomes, f"Calibration by language ({setting})", out / "reliability.png",
                             evaluation.fallback_threshold)


# --------------------------------------------------------------------------- run


def evaluate(args: argparse.Namespace, command: str) -> Evaluation:
    """Plans, trains and tests, writes the outputs to `args.out`; returns the evaluation."""
    for path in (args.config, args.domain):
        if not path.is_file():
            raise EvaluationError(f"no such file: {path}")
    languages = args.languages or read_languages(args.config)[0]
    train_languages = args.train_languages or languages
    test_languages = args.test_languages or languages
    if args.mode == CROSSVAL:
        if args.folds < 2:
            raise EvaluationError("--folds must be 2 or more")
        corpus = read_corpus(args.data, list(dict.fromkeys([*train_languages, *test_languages])))
        runs = plan_crossval(corpus, train_languages, test_languages, args.folds, args.seed)
        test_data = str(args.data)
    else:
        corpus = read_corpus(args.data, train_languages)
        runs = plan_heldout(corpus, train_languages, read_heldout(args.heldout, test_languages))
        test_data = str(args.heldout)
    progress(f"{len(runs)} model(s) to train on {', '.join(train_languages)}, "
             f"tested on {', '.join(test_languages)}")
    pipeline = nlu_config(read_yaml_file(args.config) or {})
    with tempfile.TemporaryDirectory(prefix="cs-eval-") as workdir:
        config = Path(workdir) / "config.yml"
        write_yaml(pipeline, config)
        per_run = execute(runs, config, args.domain, Path(workdir))
    outcomes = {language: pool(language, per_run) for language in test_languages}
    results = [
        score(language, outcomes[language],
              [accuracy(run[language]) for run in per_run] if len(per_run) > 1 else ())
        for language in test_languages
    ]
    evaluation = Evaluation(args.mode, str(args.config), list(train_languages), list(test_languages), test_data,
                            args.folds if args.mode == CROSSVAL else None, command, results,
                            grading.fallback_threshold(pipeline["pipeline"]))
    write_outputs(evaluation, outcomes, args.out)
    return evaluation


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m cs_transformer.evaluate",
        description="Per-language NLU evaluation as configured: accuracy, fallback rate, out-of-scope "
                    "rejection, calibration, per-intent F1, confusion matrices.",
    )
    parser.add_argument("--mode", choices=[HELDOUT, CROSSVAL], default=HELDOUT)
    parser.add_argument("--folds", type=int, default=5, help="crossval: folds per language")
    parser.add_argument("--seed", type=int, default=42, help="crossval: how the folds are shuffled")
    parser.add_argument("--config", type=Path, default=Path("config.yml"), help="the pipeline to evaluate")
    parser.add_argument("--domain", type=Path, default=Path("domain.yml"), help="for the FAQ answers")
    parser.add_argument("--data", type=Path, default=Path("data/nlu"), help="training data, <language>.yml each")
    parser.add_argument("--heldout", type=Path, default=Path("benchmarks/heldout"),
                        help="heldout: test data, <language>.yml each")
    parser.add_argument("--languages", type=_language_list,
                        help="e.g. en,es; default: the LanguageDetector's in --config")
    parser.add_argument("--train-languages", type=_language_list, help="default: --languages")
    parser.add_argument("--test-languages", type=_language_list, help="default: --languages")
    parser.add_argument("--out", type=Path, default=Path("results/eval"))
    return parser.parse_args(argv)


def _language_list(value: str) -> List[str]:
    languages = list(dict.fromkeys(language.strip() for language in value.split(",") if language.strip()))
    if not languages:
        raise argparse.ArgumentTypeError("expected language codes, e.g. en,es")
    return languages


def main(argv: Optional[Sequence[str]] = None) -> int:
    """CLI entry point; returns the exit status."""
    args = parse_args(argv)
    command = " ".join(["python -m cs_transformer.evaluate", *(sys.argv[1:] if argv is None else argv)])
    try:
        evaluation = evaluate(args, command)
    except (EvaluationError, LintError, RasaException) as error:
        print(f"cs_transformer.evaluate: {error}", file=sys.stderr)
        return 2
    print("\n".join(describe(evaluation)) + "\n\n" + format_summary(evaluation))
    print(f"\nReport: {args.out / 'report.md'} (and report.json); plots: {args.out}/confusion_<language>.png, "
          f"{args.out / 'accuracy_by_language.png'}, {args.out / 'reliability.png'}")
    return 0


if __name__ == "__main__":
    # Process-wide settings, so that main() can also run inside a test process.
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    # Rasa's per-component info logs would bury the progress lines.
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    sys.exit(main())
