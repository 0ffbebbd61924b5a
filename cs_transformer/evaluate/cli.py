"""`python -m cs_transformer.evaluate`: options, the summary on stdout, exit status 2 when the
inputs cannot be evaluated."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from rasa.shared.exceptions import RasaException

from cs_transformer.bot_config import BotConfigError, language_list
from cs_transformer.evaluate.report import describe, format_summary
from cs_transformer.evaluate.results import CROSSVAL, HELDOUT, EvaluationError
from cs_transformer.evaluate.run import evaluate


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
    parser.add_argument("--languages", type=language_list,
                        help="e.g. en,es; default: the LanguageDetector's in --config")
    parser.add_argument("--train-languages", type=language_list, help="default: --languages")
    parser.add_argument("--test-languages", type=language_list, help="default: --languages")
    parser.add_argument("--out", type=Path, default=Path("results/eval"))
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """CLI entry point; returns the exit status."""
    args = parse_args(argv)
    command = " ".join(["python -m cs_transformer.evaluate", *(sys.argv[1:] if argv is None else argv)])
    try:
        evaluation = evaluate(args, command)
    except (EvaluationError, BotConfigError, RasaException) as error:
        print(f"cs_transformer.evaluate: {error}", file=sys.stderr)
        return 2
    print("\n".join(describe(evaluation)) + "\n\n" + format_summary(evaluation))
    print(f"\nReport: {args.out / 'report.md'} (and report.json); plots: {args.out}/confusion_<language>.png, "
          f"{args.out / 'accuracy_by_language.png'}, {args.out / 'reliability.png'}")
    return 0
