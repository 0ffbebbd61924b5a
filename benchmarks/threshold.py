"""Where to put the FallbackClassifier threshold: a sweep over the served bot's confidences.

Loads `models/shop.tar.gz` (what `make run` serves), parses the held-out set
(`benchmarks/heldout/`, in scope and its out-of-scope sentences) and a fixed sample of the
public xSID dev sentences (`../shared/data/xsid-dev/train/`, all out of the shop's scope), and
for each threshold reports what `config.yml`'s pipeline would do with it: held-out accuracy
(a message under the threshold falls back and counts as wrong), in-scope fallback rate, and the
share of out-of-scope messages rejected (under the threshold, or classified `out_of_scope`).
The classifier's calibrated top confidence is read under Rasa's `nlu_fallback` entry, so one
pass serves every threshold. Not a test: `make bench-threshold` (about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import sys
from pathlib import Path
from typing import Dict, List, Tuple

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rasa.core.agent import Agent  # noqa: E402
from rasa.shared.nlu.training_data.loading import load_data  # noqa: E402
from rasa.utils.common import configure_logging_and_warnings  # noqa: E402
from rasa.utils.log_utils import configure_structlog  # noqa: E402

from benchmarks.hardware import describe_hardware  # noqa: E402
from cs_transformer.grading import OUT_OF_SCOPE  # noqa: E402

LANGUAGES = ["en", "es", "de", "fr", "zh", "ar"]
THRESHOLDS = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
XSID_PER_LANGUAGE = 40
SEED = 0
Scored = Tuple[float, bool]  # (classifier's top confidence, right / rejected-worthy)


def classifier_top(parse: dict) -> dict:
    ranking = [entry for entry in parse.get("intent_ranking") or [] if entry["name"] != "nlu_fallback"]
    return ranking[0] if ranking else parse["intent"]


async def score(model: Path, xsid: Path) -> Tuple[Dict[str, List[Scored]], Dict[str, List[Tuple[float, str]]]]:
    agent = Agent.load(str(model))
    in_scope: Dict[str, List[Scored]] = {}
    out_of_scope: Dict[str, List[Tuple[float, str]]] = {}
    for language in LANGUAGES:
        for message in load_data(str(REPO / "benchmarks" / "heldout" / f"{language}.yml")).intent_examples:
            parse = await agent.parse_message(message.get("text"))
            top = classifier_top(parse)
            if message.get("intent") == OUT_OF_SCOPE:
                out_of_scope.setdefault(f"own {language}", []).append((top["confidence"], top["name"]))
                continue
            if message.get("intent") == "faq":
                selected = parse.get("response_selector", {}).get("faq", {}).get("response", {})
                right = top["name"] == "faq" and selected.get("intent_response_key") == message.get_full_intent()
            else:
                right = top["name"] == message.get("intent")
            in_scope.setdefault(language, []).append((top["confidence"], right))
    rng = random.Random(SEED)
    for path in sorted(xsid.glob("*.jsonl")):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for row in rng.sample(rows, min(XSID_PER_LANGUAGE, len(rows))):
            top = classifier_top(await agent.parse_message(row["text"]))
            out_of_scope.setdefault(f"xSID {path.stem}", []).append((top["confidence"], top["name"]))
    return in_scope, out_of_scope


def mean(values: List[float]) -> float:
    return sum(values) / len(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO / "models" / "shop.tar.gz")
    parser.add_argument("--xsid", type=Path, default=REPO.parent / "shared" / "data" / "xsid-dev" / "train")
    args = parser.parse_args()
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    print(describe_hardware())
    in_scope, out_of_scope = asyncio.run(score(args.model, args.xsid))
    print(f"{args.model}: {sum(map(len, in_scope.values()))} in-scope held-out, "
          f"{sum(map(len, out_of_scope.values()))} out-of-scope messages\n")
    print("| threshold | held-out accuracy (mean of 6) | in-scope fallback | own out-of-scope rejected | xSID rejected (mean of 11) |")
    print("|---:|---:|---:|---:|---:|")
    for threshold in THRESHOLDS:
        accuracy = mean([mean([float(right and c >= threshold) for c, right in v]) for v in in_scope.values()])
        fallback = mean([mean([float(c < threshold) for c, _ in v]) for v in in_scope.values()])
        rejected = {k: mean([float(c < threshold or name == OUT_OF_SCOPE) for c, name in v]) for k, v in out_of_scope.items()}
        own = mean([v for k, v in rejected.items() if k.startswith("own")])
        public = mean([v for k, v in rejected.items() if k.startswith("xSID")])
        print(f"| {threshold} | {accuracy:.3f} | {fallback:.3f} | {own:.3f} | {public:.3f} |")


if __name__ == "__main__":
    main()
