"""The conversation review on the command line, for CI and reports (README, "Conversation review").

    python -m bot.review_cli export [--db URL | --endpoints endpoints.yml] [--drafts data/drafts]
    python -m bot.review_cli report [--db URL | --endpoints endpoints.yml] [--out results/review]

`export` writes the labelled messages as `data/drafts/<language>.yml` (`make review-export`);
`report` writes `report.md` and one PNG per measure (`make review-report`). The tracker store is
`--db` (an SQLAlchemy URL) or else the `tracker_store:` of `--endpoints`, read as Rasa reads it
(`store: sql` under bot.tracker_store.RedactingTrackerStore, or Rasa's own `type: sql`).
Exit status 2 when the store cannot be read, with the fix in the message.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Text, Union

import sqlalchemy as sa
import yaml
from sqlalchemy.engine import URL
from rasa.core.tracker_store import SQLTrackerStore

from bot.review_data import LOW_CONFIDENCE, MEASURES, Review, chart_png, export_drafts, read_review, review_queue

SQL = "sql"
REPORT_QUEUE_ROWS = 20


class StoreNotConfigured(RuntimeError):
    """The tracker store is not SQL or not reachable; the message names the fix."""


def tracker_store_url(endpoints: Path) -> Union[Text, URL]:
    """The SQLAlchemy URL of the SQL tracker store configured in `endpoints`.

    Only `tracker_store:` is read, and only its own `${VAR}`s expanded: the review needs no
    action server secret.
    """
    try:
        config = (yaml.safe_load(endpoints.read_text(encoding="utf-8")) or {}).get("tracker_store")
    except (OSError, yaml.YAMLError) as error:
        raise StoreNotConfigured(f"cannot read {endpoints}: {error}") from None
    if not isinstance(config, dict):
        raise StoreNotConfigured(f"{endpoints} has no tracker_store: the review reads a SQL tracker store; pass --db URL.")
    settings = {key: os.path.expandvars(value) if isinstance(value, str) else value for key, value in config.items()}
    store = settings.get("type") if settings.get("type") == SQL else settings.get("store")
    if store != SQL:
        raise StoreNotConfigured(
            f"The tracker store in {endpoints} keeps conversations in {store or settings.get('type') or 'memory'}: "
            "set `store: sql` (with `dialect:`, `db:`, …) under tracker_store, or pass --db URL."
        )
    settings.setdefault("host", settings.get("url"))  # Rasa hands an endpoint's `url:` to the store as its host
    keys = ("dialect", "host", "port", "db", "username", "password", "login_db", "query")
    return SQLTrackerStore.get_db_url(**{key: settings[key] for key in keys if key in settings})


def markdown_report(review: Review) -> Text:
    """The daily measures per language as a table, and the head of the queue."""
    lines = ["# Conversation review", "", "| day | language | messages | conversations | fallback rate | "
             "handoff rate | frustration offers | mean confidence |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for stats in review.days:
        values = stats.values()
        lines.append(
            f"| {values['day']} | {values['language']} | {values['messages']} | {values['conversations']} | "
            f"{values['fallback_rate']:.3f} | {values['handoff_rate']:.3f} | {values['frustration_offers']} | "
            f"{values['mean_confidence']:.3f} |"
        )
    queue = review_queue(review)
    lines += ["", f"## Queue: {len(queue)} unlabelled messages worth a look (first {REPORT_QUEUE_ROWS})", "",
              "| language | conversation | message | why | top intents |", "|---|---|---|---|---|"]
    for message in queue[:REPORT_QUEUE_ROWS]:
        top = ", ".join(f"{name} {confidence:.2f}" for name, confidence in message.top_intents)
        text = message.text.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {message.language} | {message.conversation} | {text} | {', '.join(message.reasons(LOW_CONFIDENCE))} | {top} |")
    lines += ["", *[f"![{label}]({measure}.png)" for measure, label in MEASURES.items()], ""]
    return "\n".join(lines)


def write_report(review: Review, out: Path) -> List[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "report.md"]
    written[0].write_text(markdown_report(review), encoding="utf-8")
    for measure in MEASURES:
        path = out / f"{measure}.png"
        path.write_bytes(chart_png(review.days, measure))
        written.append(path)
    return written


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.review_cli", description="Conversation review: drafts and reports.")
    parser.add_argument("command", choices=("export", "report"))
    parser.add_argument("--db", help="SQLAlchemy URL of the tracker store (default: from --endpoints)")
    parser.add_argument("--endpoints", type=Path, default=Path("endpoints.yml"))
    parser.add_argument("--nlu", type=Path, nargs="+", default=[Path("data/nlu")], help="existing examples (deduplication)")
    parser.add_argument("--drafts", type=Path, default=Path("data/drafts"))
    parser.add_argument("--out", type=Path, default=Path("results/review"))
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        engine = sa.create_engine(args.db or tracker_store_url(args.endpoints))
        review = read_review(engine)
    except (StoreNotConfigured, sa.exc.SQLAlchemyError) as error:
        print(f"review: cannot read the tracker store: {error}", file=sys.stderr)
        return 2
    if args.command == "export":
        written: Dict[Text, Path] = export_drafts(review, args.nlu, args.drafts)
        for language, path in written.items():
            print(f"{language}: {path}")
        if not written:
            print("No labelled messages that data/nlu lacks: nothing to export.")
    else:
        for path in write_report(review, args.out):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
