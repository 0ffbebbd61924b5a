"""One evaluation from start to end: plan the runs, train and test them, score, write the outputs."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Dict, List

from rasa.shared.utils.io import read_yaml_file, write_yaml

from cs_transformer import grading
from cs_transformer.bot_config import read_languages
from cs_transformer.evaluate.corpus import plan_crossval, plan_heldout, read_corpus, read_heldout
from cs_transformer.evaluate.metrics import score
from cs_transformer.evaluate.plots import plot_accuracy, plot_confusion
from cs_transformer.evaluate.report import format_report
from cs_transformer.evaluate.results import CROSSVAL, Evaluation, EvaluationError
from cs_transformer.evaluate.runner import execute, nlu_config, pool, progress
from cs_transformer.grading import Outcome, accuracy


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
