"""`make bench-load`: the whole bot over REST, against the same bot with stock Rasa NLU.

For each pipeline — this project's config.yml and the same bot with Rasa's stock NLU
(WhitespaceTokenizer, CountVectorsFeaturizer word + char_wb 1–4, DIETClassifier and
ResponseSelector 100 epochs each; same policies, actions, domain, tracker store and channels) —
starts the action server and `rasa run` on 127.0.0.1 as `make run` has them (the redacting
tracker store of endpoints.yml, a freshly seeded SQLite store), then measures, over the REST
channel, each customer a new sender writing greet → order question → order number → FAQ →
thanks in one of six languages (held-out sentences):

- one customer alone: turn latency p50/p95;
- turn cost against conversation length: one customer at a time writing 52 turns (the script
  over and over); the median of turns 3–7 against turns 48–52;
- closed loop: 8 customers, no pause between a reply and the next message, 30 s: turns/s, p50/p95;
- 50 customers with 0.5–2 s pauses (a person reading and typing) for 60 s;
- and, with the servers stopped, the NLU-only parse rate of the same model in-process
  (`Agent.parse_message`, one message at a time) as the reference.

`--baseline REF` adds, in the same run, the bot of another git revision (e.g. `main` before a
change): its tree from `git archive` in a temporary folder, served with its own code and its own
model, `benchmarks/.models/baseline-<commit>.tar.gz` (trained there once if missing).
`--quick` shortens every phase (10 s closed loop, 20 s paced, 2 long conversations) for a check
on a busy machine; the report says so, and gives the load average before and after each bot.

Writes `benchmarks/results/load.md` and `benchmarks/results/load_latency.png` and prints ratios.
The customers are asyncio tasks on aiohttp (Rasa's own HTTP client), not Locust: the closed loop
and the per-turn-index figures need a few lines, Locust would need its own virtualenv, and its
reports round percentiles to two significant digits.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from rasa.shared.nlu.training_data.loading import load_data  # noqa: E402
from rasa.shared.utils.io import read_yaml_file, write_yaml  # noqa: E402

from benchmarks.hardware import describe_hardware  # noqa: E402
from tests.servers import ACTION_SERVER_TOKEN, BIN, running_bot, server_env  # noqa: E402

LANGUAGES = ["en", "es", "de", "fr", "zh", "ar"]
# One conversation per language: greet, ask about an order, give a number, an FAQ, thanks.
CONVERSATION_INTENTS = ["greet", "order_status", "inform_order_number", "faq/shipping_cost", "thank_you"]
STOCK_NLU = read_yaml_file(REPO / "benchmarks" / "configs" / "stock_diet.yml")["pipeline"]
MODELS = REPO / "benchmarks" / ".models"
RESULTS = REPO / "benchmarks" / "results"
PIPELINES = ["cs_transformer", "stock DIET"]
# The tracker store exactly as `make run` has it, as YAML for tests/servers.py (JSON values are YAML).
# Reading endpoints.yml expands its ${CS_ACTION_SERVER_TOKEN}: this run's token (the servers get it too).
os.environ.setdefault("CS_ACTION_SERVER_TOKEN", ACTION_SERVER_TOKEN)
TRACKER_STORE = "tracker_store:\n" + "".join(
    f"  {key}: {json.dumps(value)}\n" for key, value in read_yaml_file(REPO / "endpoints.yml")["tracker_store"].items()
)
REQUEST_TIMEOUT_S = 60
LONG_TURNS, EARLY, LATE = 52, range(3, 8), range(48, 53)  # turn numbers from 1


@dataclass
class Phase:
    """Latencies (ms) and failures of one measurement."""

    latencies: List[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0

    def record(self, elapsed_ms: Optional[float]) -> None:
        if elapsed_ms is None:
            self.errors += 1
        else:
            self.latencies.append(elapsed_ms)

    @property
    def turns_per_second(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, q: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[q - 1]


@dataclass(frozen=True)
class Bot:
    """A bot to measure: its name in the report, its trained model, the checkout whose code runs it."""

    name: str
    model: Path
    root: Path = REPO


@dataclass
class BotResult:
    pipeline: str
    single: Phase
    closed: Phase
    paced: Phase
    by_turn: Dict[int, List[float]]
    parse_per_second: float = 0.0
    errors_long: int = 0
    load_average: Tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after

    def turn_ms(self, turns: range) -> float:
        return statistics.median(ms for turn in turns for ms in self.by_turn.get(turn, []))

    @property
    def growth(self) -> float:
        return self.turn_ms(LATE) / self.turn_ms(EARLY)


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
    kept = [c for c in config["pipeline"] if c["name"] in ("cs_transformer.UnicodeRegexEntityExtractor", "cs_transformer.FrustrationScorer", "FallbackClassifier")]
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
    train(REPO, config_path, model)
    return model


def train(root: Path, config: Path, model: Path) -> None:
    subprocess.run(
        [str(BIN / "rasa"), "train", "--config", str(config), "--domain", "domain.yml", "--data", "data",
         "--out", str(model.parent), "--fixed-model-name", model.name[: -len(".tar.gz")]],
        cwd=root, env=server_env("", root=root), check=True,
    )


def baseline_bot(ref: str, work: Path) -> Bot:
    """The bot of git revision `ref`, its tree unpacked into `work`, with its model (trained once)."""
    commit = subprocess.run(["git", "rev-parse", "--verify", f"{ref}^{{commit}}"], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.strip()
    root = work / f"baseline-{commit[:12]}"
    archive = subprocess.run(["git", "archive", commit], cwd=REPO, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tree:
        tree.extractall(root)
    model = MODELS / f"baseline-{commit[:12]}.tar.gz"
    if not model.exists():
        MODELS.mkdir(parents=True, exist_ok=True)
        print(f"== training the bot of {ref} ({commit[:12]}) into {model.name}", flush=True)
        train(root, root / "config.yml", model)
    return Bot(f"{ref} ({commit[:8]})", model, root)


class Customer:
    """One sender writing one scripted conversation, turn after turn."""

    def __init__(self, session: aiohttp.ClientSession, base: str, script: List[str]) -> None:
        self.session, self.url, self.script = session, f"{base}/webhooks/rest/webhook", script
        self.sender = f"load-{uuid.uuid4().hex[:12]}"
        self.turn = 0

    async def write(self) -> Optional[float]:
        """Sends the next message; the round trip in ms, or None when the reply is not a non-empty list."""
        text = self.script[self.turn % len(self.script)]
        self.turn += 1
        start = time.perf_counter()
        try:
            async with self.session.post(self.url, json={"sender": self.sender, "message": text}) as response:
                replies = await response.json(content_type=None) if response.status == 200 else None
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            replies = None
        elapsed = (time.perf_counter() - start) * 1000
        return elapsed if isinstance(replies, list) and replies else None


async def customers_for(seconds: float, session: aiohttp.ClientSession, base: str, scripts: List[List[str]],
                        users: int, pause: Optional[tuple], rng: random.Random) -> Phase:
    """`users` customers for `seconds`; each starts a new conversation when its script ends."""
    phase = Phase()
    deadline = time.monotonic() + seconds

    async def customer(index: int) -> None:
        if pause:  # people arrive over the first seconds, not all at once
            await asyncio.sleep(rng.uniform(0, pause[1]))
        while time.monotonic() < deadline:
            person = Customer(session, base, rng.choice(scripts))
            for _ in person.script:
                if time.monotonic() >= deadline:
                    return
                phase.record(await person.write())
                if pause:
                    await asyncio.sleep(rng.uniform(*pause))

    start = time.monotonic()
    await asyncio.gather(*(customer(index) for index in range(users)))
    phase.seconds = time.monotonic() - start
    return phase


async def measure_bot(pipeline: str, base: str, scripts: List[List[str]], closed_s: int, paced_s: int,
                      long_conversations: int) -> BotResult:
    rng = random.Random(1)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as session:
        await customers_for(3, session, base, scripts, 1, None, rng)  # warm-up: first parses load lazily
        single = Phase()
        for script in scripts[:: len(scripts) // len(LANGUAGES)]:  # one conversation per language
            person = Customer(session, base, script)
            for _ in script:
                single.record(await person.write())
        by_turn: Dict[int, List[float]] = {}
        errors_long = 0
        for script in rng.sample(scripts, long_conversations):
            person = Customer(session, base, script)
            for turn in range(1, LONG_TURNS + 1):
                elapsed = await person.write()
                if elapsed is None:
                    errors_long += 1
                else:
                    by_turn.setdefault(turn, []).append(elapsed)
        print(f"   one customer p50 {single.percentile(50):.0f} ms; turns 3-7 vs 48-52 measured", flush=True)
        closed = await customers_for(closed_s, session, base, scripts, 8, None, rng)
        print(f"   closed loop: {closed.turns_per_second:.1f} turns/s, {closed.errors} errors", flush=True)
        paced = await customers_for(paced_s, session, base, scripts, 50, (0.5, 2.0), rng)
        print(f"   50 paced customers: p95 {paced.percentile(95):.0f} ms, {paced.errors} errors", flush=True)
    return BotResult(pipeline, single, closed, paced, by_turn, errors_long=errors_long)


PARSE_RATE_SCRIPT = """
import asyncio, json, sys, time
from rasa.core.agent import Agent
texts = json.load(open(sys.argv[2], encoding="utf-8"))
agent = Agent.load(sys.argv[1])
async def main():
    for text in texts[:20]:
        await agent.parse_message(text)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < float(sys.argv[3]):
        await agent.parse_message(texts[count % len(texts)])
        count += 1
    print("PARSES_PER_SECOND", count / (time.perf_counter() - start))
asyncio.run(main())
"""


def parse_rate(bot: Bot, texts: Path, seconds: int) -> float:
    """Messages/s of the model's NLU alone, in its own process (the servers are stopped by then)."""
    done = subprocess.run([str(BIN / "python"), "-c", PARSE_RATE_SCRIPT, str(bot.model), str(texts), str(seconds)],
                          cwd=bot.root, env=server_env("", root=bot.root), capture_output=True, text=True, check=True)
    return float(next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("PARSES_PER_SECOND")))


def seeded_store(work: Path, root: Path) -> str:
    url = f"sqlite:///{work / 'store.db'}"
    subprocess.run([str(BIN / "python"), "-m", "cs_common.store.seed"], cwd=root, env=server_env(url, root=root),
                   check=True)
    return url


def report(results: List[BotResult], args: argparse.Namespace) -> str:
    loads = ", ".join(f"{r.pipeline} {r.load_average[0]:.1f} → {r.load_average[1]:.1f}" for r in results)
    lines = [
        "# Load test: the whole bot over REST" + (" (quick run: every phase shortened)" if args.quick else ""),
        "",
        f"- Command: `make bench-load` (benchmarks/load/run.py{' ' + ' '.join(sys.argv[1:]) if sys.argv[1:] else ''}).",
        f"- Hardware: {describe_hardware()}; one Rasa process, its action server and the load generator share it.",
        f"- Load average (1 min) before → after each bot: {loads}; above the core count ({os.cpu_count()}) "
        "other work shared the machine and every figure is a busy-machine figure.",
        "- Bot as `make run` has it: REST channel, redacting tracker store (memory), action server, SQLite store. "
        "Customers write greet → order question → order number → FAQ → thanks in one of 6 languages "
        "(held-out sentences); an error is a reply that is not a non-empty list.",
        "",
        "| pipeline | one customer p50 / p95 ms | closed loop, 8 customers, " + f"{args.closed_seconds} s: turns/s | p50 / p95 ms "
        f"| errors | 50 customers, 0.5–2 s pauses, {args.paced_seconds} s: turns/s | p50 / p95 ms | errors "
        "| turns 48–52 / turns 3–7 | NLU alone, parses/s | closed loop / NLU alone |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.pipeline} | {r.single.percentile(50):.0f} / {r.single.percentile(95):.0f} "
            f"| {r.closed.turns_per_second:.1f} | {r.closed.percentile(50):.0f} / {r.closed.percentile(95):.0f} | {r.closed.errors} "
            f"| {r.paced.turns_per_second:.1f} | {r.paced.percentile(50):.0f} / {r.paced.percentile(95):.0f} | {r.paced.errors} "
            f"| {r.turn_ms(LATE):.0f} / {r.turn_ms(EARLY):.0f} ms = {r.growth:.2f}x | {r.parse_per_second:.0f} "
            f"| {r.closed.turns_per_second / r.parse_per_second:.2f} |"
        )
    lines += ["", f"Turn cost: {args.long_conversations} conversations of {LONG_TURNS} turns, one customer at a time, "
              "median over the conversations and the five turns of each window; errors in them: "
              + ", ".join(f"{r.pipeline} {r.errors_long}" for r in results) + "."]
    lines += [ratios(results[0], other) for other in results[1:]]
    return "\n".join(lines) + "\n"


def ratios(ours: BotResult, other: BotResult) -> str:
    return (
        f"\nRatios ({ours.pipeline} / {other.pipeline}): "
        f"one customer p50 {ours.single.percentile(50) / other.single.percentile(50):.2f}x, "
        f"closed-loop turns/s {ours.closed.turns_per_second / other.closed.turns_per_second:.2f}x, "
        f"closed-loop p95 {ours.closed.percentile(95) / other.closed.percentile(95):.2f}x, "
        f"paced p95 {ours.paced.percentile(95) / other.paced.percentile(95):.2f}x, "
        f"NLU parses/s {ours.parse_per_second / other.parse_per_second:.2f}x."
    )


def plot(results: List[BotResult], path: Path) -> None:
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    labels = ["one customer", "closed loop, 8", "50 with pauses"]
    width = 0.8 / len(results)
    for index, (result, colour) in enumerate(zip(results, ("tab:blue", "tab:orange", "tab:green"))):
        phases = [result.single, result.closed, result.paced]
        x = [i + index * width for i in range(len(phases))]
        left.bar(x, [p.percentile(95) for p in phases], width, color=colour, alpha=0.45, label=f"{result.pipeline} p95")
        left.bar(x, [p.percentile(50) for p in phases], width, color=colour, label=f"{result.pipeline} p50")
        turns = sorted(result.by_turn)
        right.plot(turns, [statistics.median(result.by_turn[t]) for t in turns], color=colour, label=result.pipeline)
    left.set_xticks([i + width * (len(results) - 1) / 2 for i in range(len(labels))], labels)
    left.set_ylabel("REST round trip, ms")
    left.set_title("Turn latency")
    left.legend(fontsize=8)
    right.set_xlabel("turn of the conversation")
    right.set_ylabel("median round trip, ms (one customer)")
    right.set_title("Turn cost against conversation length")
    right.set_ylim(bottom=0)
    right.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--closed-seconds", type=int, default=30)
    parser.add_argument("--paced-seconds", type=int, default=60)
    parser.add_argument("--long-conversations", type=int, default=6)
    parser.add_argument("--parse-seconds", type=int, default=20)
    parser.add_argument("--pipelines", nargs="+", default=PIPELINES, choices=PIPELINES)
    parser.add_argument("--baseline", metavar="REF", help="also measure the bot of this git revision, e.g. main")
    parser.add_argument("--quick", action="store_true", help="10 s closed loop, 20 s paced, 2 long conversations")
    args = parser.parse_args()
    if args.quick:
        args.closed_seconds, args.paced_seconds, args.long_conversations, args.parse_seconds = 10, 20, 2, 5
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    scripts = conversations()
    texts = work / "texts.json"
    texts.write_text(json.dumps([text for script in scripts for text in script], ensure_ascii=False), encoding="utf-8")
    # The stock bot and the baseline are trained (once per version) only when they are asked for.
    bots = [Bot(p, REPO / "models" / "shop.tar.gz") if p == "cs_transformer" else Bot(p, stock_bot_model())
            for p in args.pipelines]
    if args.baseline:
        bots.append(baseline_bot(args.baseline, work))
    results = []
    for bot in bots:
        pipeline = bot.name
        print(f"== {pipeline}", flush=True)
        run_dir = work / pipeline.replace(" ", "_").replace("/", "_")
        run_dir.mkdir()
        before = os.getloadavg()[0]
        with running_bot(run_dir, seeded_store(run_dir, bot.root), model=bot.model, root=bot.root,
                         credentials=bot.root / "credentials.yml", extra_endpoints=TRACKER_STORE) as base:
            result = asyncio.run(measure_bot(pipeline, base, scripts, args.closed_seconds, args.paced_seconds,
                                             args.long_conversations))
        result.load_average = (before, os.getloadavg()[0])
        result.parse_per_second = parse_rate(bot, texts, args.parse_seconds)
        print(f"   NLU alone {result.parse_per_second:.0f} parses/s; turn 48-52 / 3-7: {result.growth:.2f}x", flush=True)
        results.append(result)
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = report(results, args)
    (RESULTS / "load.md").write_text(text, encoding="utf-8")
    plot(results, RESULTS / "load_latency.png")
    print(text)


if __name__ == "__main__":
    main()
