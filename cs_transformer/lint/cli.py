"""`python -m cs_transformer.lint`: options, exit status (1: issues at or above --fail-on, 2:
unreadable inputs), the table on stdout and the JSON report."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional, Sequence

from rasa.shared.exceptions import RasaException

from cs_transformer.bot_config import BotConfigError, language_list
from cs_transformer.lint.findings import ERROR, WARNING, LintError
from cs_transformer.lint.linter import lint
from cs_transformer.lint.report import format_report

DEFAULT_PAGE_TEXTS = Path("bot/static/locales")


DEFAULT_HELDOUT = Path("benchmarks/heldout")


DEFAULT_WORD_LISTS = [Path("actions/language_names.yml")]


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m cs_transformer.lint",
        description="Translation coverage of a multilingual Rasa bot: responses, examples, languages.",
    )
    parser.add_argument("--domain", type=Path, default=Path("domain.yml"))
    parser.add_argument("--data", type=Path, nargs="+", default=[Path("data")], help="NLU files or folders")
    parser.add_argument("--config", type=Path, default=Path("config.yml"))
    parser.add_argument("--languages", type=language_list, help="e.g. en,es (the first is the default); "
                        "overrides the LanguageDetector's in --config")
    parser.add_argument("--min-examples", type=int, default=10, help="per intent and language")
    parser.add_argument("--page-texts", type=Path, default=DEFAULT_PAGE_TEXTS,
                        help="the chat page's <language>.json files (skipped when the folder does not exist)")
    parser.add_argument("--heldout", type=Path, default=DEFAULT_HELDOUT,
                        help="make eval's held-out <language>.yml files (skipped when the folder does not exist)")
    parser.add_argument("--word-lists", type=Path, nargs="*", default=DEFAULT_WORD_LISTS,
                        help="more YAML files mapping every bot language to words, e.g. the names customers "
                             "give the languages (those that do not exist are skipped)")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    parser.add_argument("--fail-on", choices=[WARNING, ERROR], default=ERROR)
    return parser.parse_args(argv)


def _if_folder(path: Path) -> Optional[Path]:
    return path if path.is_dir() else None


def main(argv: Optional[Sequence[str]] = None) -> int:
    """CLI entry point; returns the exit status."""
    args = parse_args(argv)
    try:
        report = lint(args.domain, args.data, args.config, args.languages, args.min_examples,
                      _if_folder(args.page_texts), _if_folder(args.heldout),
                      [path for path in args.word_lists if path.is_file()])
    except (LintError, BotConfigError, RasaException) as error:
        print(f"cs_transformer.lint: {error}", file=sys.stderr)
        return 2
    print(format_report(report, args.fail_on))
    if args.json:
        args.json.write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 1 if report.failed(args.fail_on) else 0
