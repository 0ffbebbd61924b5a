"""`make bench-load`: the whole bot under concurrent conversations, against stock Rasa.

For each pipeline — this project's config.yml and the same bot with Rasa's stock NLU
(WhitespaceTokenizer, CountVectorsFeaturizer word + char_wb 1–4, DIETClassifier and
ResponseSelector 100 epochs each; same policies, actions, store and domain) — starts
the action server and `rasa run` on 127.0.0.1 with a freshly seeded SQLite store, then
runs Locust headless: N users, each a new customer writing a short conversation in one of
the six languages (held-out sentences), 0.5–2 s between messages, over the REST channel. Reports
requests/s, p50/p95/p99 latency and errors, their ratios, and writes
`benchmarks/results/load.md` and `benchmarks/results/load_latency.png`.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from rasa.shared.nlu.training_data.loading import load_data  # noqa: E402
from rasa.shared.utils.io import read_yaml_file, write_yaml  # noqa: E402

from benchmarks.hardware import describe_hardware  # noqa: E402
from tests.servers import BIN, running_bot, server_env  # noqa: E402

LANGUAGES = ["en", "es", "de", "fr", "zh", "ar"]
# One conversation per language: greet, ask about an order, give a number, an FAQ, thanks.
CONVERSATION_INTENTS = ["greet", "order_status", "inform_order_number", "faq/shipping_cost", "thank_you"]
STOCK_NLU = read_yaml_file(REPO / "benchmarks" / "configs" / "stock_diet.yml")["pipeline"]
MODELS = REPO / "benchmarks" / ".models"
RESULTS = REPO / "benchmarks" / "results"
LOCUST = REPO / ".venv-load" / "bin" / "locust"
PIPELINES = ["cs_transformer", "stock DIET"]


@dataclass
class LoadResult:
    pipeline: str
    requests: int
    failures: int
    requests_per_second: float
    p50: float
    p95: float
    p99: float
    history: List[Dict[str, float]]


def conversations() -> List[List[str]]:
    """Per language, several scripted conversations drawn from the held-out sentences."""
    scripts = []
    rng = random.Random(0)
    for language in LANGUAGES:
        by_label: Dict[str, List[str]] = {}
        for message in load_data(str(REPO / "benchmarks" / "heldout" / f"{language}.yml")).intent_examples:
            label = message.get("intent_response_key") or message.get("intent")
            by_label.setdefault(label, []).append(message.get("text"))
        for _ in range(4):
            scripts.append([rng.choice(by_label[label]) for label in CONVERSATION_INTENTS])
    return scripts


def stock_bot_config() -> Dict:
    """config.yml with its NLU components replaced by stock Rasa's; everything else equal."""
    config = read_yaml_file(REPO / "config.yml")
    # Entities, frustration score and fallback work on any classifier's output: kept as they are.
    kept = [c for c in config["pipeline"] if c["name"] in ("RegexEntityExtractor", "cs_transformer.FrustrationScorer", "FallbackClassifier")]
    # The stock bot answers FAQs the stock way: DIET picks the intent `faq`, Rasa's
    # ResponseSelector picks the answer (the NLU benchmark scores intents only and leaves it out).
    config["pipeline"] = STOCK_NLU + [{"name": "ResponseSelector", "epochs": 100, "random_seed": 1}] + kept
    return config


def stock_bot_model() -> Path:
    """Trains the stock-NLU bot once per content of config, domain and data (DIET takes a while)."""
    config = stock_bot_config()
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    for path in [REPO / "domain.yml", *sorted((REPO / "data").rglob("*.yml"))]:
        digest.update(path.read_bytes())
    model = MODELS / f"stock_bot-{digest.hexdigest()[:12]}.tar.gz"
    if model.exists():
        return model
    MODELS.mkdir(parents=True, exist_ok=True)
    config_path = MODELS / "stock_bot_config.yml"
    write_yaml(config, config_path)
    print(f"== training the stock-NLU bot (DIET, 100 epochs) into {model.name}", flush=True)
    subprocess.run(
        [str(BIN / "rasa"), "train", "--config", str(config_path), "--domain", "domain.yml", "--data", "data",
         "--out", str(MODELS), "--fixed-model-name", model.name[: -len(".tar.gz")]],
        cwd=REPO, env=server_env(""), check=True,
    )
    return model


def run_locust(base: str, users: int, seconds: int, scripts: Path, prefix: Path) -> None:
    subprocess.run(
        [str(LOCUST), "-f", str(REPO / "benchmarks" / "load" / "locustfile.py"), "--headless",
         "--users", str(users), "--spawn-rate", str(max(1, users // 5)), "--run-time", f"{seconds}s",
         "--host", base, "--csv", str(prefix), "--csv-full-history", "--only-summary", "--loglevel", "WARNING"],
        cwd=REPO, env={"LOAD_CONVERSATIONS": str(scripts), "PATH": "/usr/bin:/bin"}, check=False,
    )


def read_result(pipeline: str, prefix: Path) -> LoadResult:
    with open(f"{prefix}_stats.csv", encoding="utf-8") as stats:
        total = next(row for row in csv.DictReader(stats) if row["Name"] == "Aggregated")
    with open(f"{prefix}_stats_history.csv", encoding="utf-8") as history_file:
        history = [
            {"second": float(row["Timestamp"]), "p50": float(row["50%"]), "p95": float(row["95%"])}
            for row in csv.DictReader(history_file)
            if row["Name"] == "Aggregated" and row["50%"] not in ("N/A", "0", "")
        ]
    start = history[0]["second"] if history else 0.0
    for point in history:
        point["second"] -= start
    return LoadResult(
        pipeline,
        int(total["Request Count"]),
        int(total["Failure Count"]),
        float(total["Requests/s"]),
        float(total["50%"]),
        float(total["95%"]),
        float(total["99%"]),
        history,
    )


def seeded_store(work: Path) -> str:
    url = f"sqlite:///{work / 'store.db'}"
    subprocess.run([str(BIN / "python"), "-m", "actions.store.seed"], cwd=REPO, env=server_env(url), check=True)
    return url


def report(results: List[LoadResult], users: int, seconds: int) -> str:
    lines = [
        "# Load test: the whole bot over REST",
        "",
        f"- Command: `make bench-load` ({users} concurrent conversations for {seconds} s per pipeline, Locust headless).",
        f"- Hardware: {describe_hardware()}.",
        "- Each user is a new customer writing greet → order question → order number → FAQ → thanks in one of "
        "6 languages (held-out sentences, 10–60 characters), 0.5–2 s between messages; one Rasa process, "
        "action server and SQLite store on the same machine; batch size 1 (Rasa parses one message at a time).",
        "",
        "| pipeline | requests | errors | requests/s | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {r.pipeline} | {r.requests} | {r.failures} | {r.requests_per_second:.1f} | {r.p50:.0f} | {r.p95:.0f} | {r.p99:.0f} |")
    if len(results) == 2 and results[1].p95:
        ours, stock = results
        lines += [
            "",
            f"Ratios (cs_transformer / stock): requests/s {ours.requests_per_second / stock.requests_per_second:.2f}x, "
            f"p50 {ours.p50 / stock.p50:.2f}x, p95 {ours.p95 / stock.p95:.2f}x, p99 {ours.p99 / stock.p99:.2f}x.",
        ]
    return "\n".join(lines) + "\n"


def plot(results: List[LoadResult], path: Path) -> None:
    figure, axis = plt.subplots(figsize=(8, 4.2))
    for result, colour in zip(results, ("tab:blue", "tab:orange")):
        seconds = [p["second"] for p in result.history]
        axis.plot(seconds, [p["p50"] for p in result.history], color=colour, label=f"{result.pipeline} p50")
        axis.plot(seconds, [p["p95"] for p in result.history], color=colour, linestyle="--", label=f"{result.pipeline} p95")
    axis.set_xlabel("seconds into the test")
    axis.set_ylabel("response time (ms, cumulative percentile)")
    axis.set_title("REST round trip under concurrent conversations")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--pipelines", nargs="+", default=PIPELINES, choices=PIPELINES)
    args = parser.parse_args()
    if not LOCUST.exists():
        raise SystemExit("Locust is missing: run `make bench-load` (it creates .venv-load).")
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    scripts = work / "conversations.json"
    scripts.write_text(json.dumps(conversations(), ensure_ascii=False), encoding="utf-8")
    results = []
    for pipeline in args.pipelines:
        # The stock bot is trained (once per data version) only when it is asked for.
        model = REPO / "models" / "shop.tar.gz" if pipeline == "cs_transformer" else stock_bot_model()
        print(f"== {pipeline}: {args.users} conversations for {args.seconds} s", flush=True)
        run_dir = work / pipeline.replace(" ", "_")
        run_dir.mkdir()
        with running_bot(run_dir, seeded_store(run_dir), model=model) as base:
            run_locust(base, args.users, args.seconds, scripts, run_dir / "locust")
        result = read_result(pipeline, run_dir / "locust")
        print(f"   {result.requests} requests, {result.failures} errors, {result.requests_per_second:.1f}/s, "
              f"p50/p95/p99 {result.p50:.0f}/{result.p95:.0f}/{result.p99:.0f} ms", flush=True)
        results.append(result)
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = report(results, args.users, args.seconds)
    (RESULTS / "load.md").write_text(text, encoding="utf-8")
    plot(results, RESULTS / "load_latency.png")
    print(text)


if __name__ == "__main__":
    main()
