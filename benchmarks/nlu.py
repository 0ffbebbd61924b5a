"""`make bench-nlu`: this project's NLU pipeline against stock Rasa, in the same run.

Both pipelines are trained with Rasa on the same data and evaluated on the held-out set in
`benchmarks/heldout/` (sentences never used for training, 6 languages, out-of-scope ones
among them). Both are graded as the bot runs (`cs_transformer.grading`): ours keeps
config.yml's FallbackClassifier, stock DIET gets one with the same threshold, a message that
falls back counts as wrong. Two settings: trained on all languages, and trained on English
only (cross-lingual transfer). Prints per-language accuracy, fallback rate, out-of-scope
rejection and macro-F1 (intent level, `faq` counted as one intent), training time,
one-message parse latency and the ratios; writes `benchmarks/results/nlu.md` and a
confusion-matrix PNG. Trained models are cached by their inputs (`training_cache.py`), so a
rerun trains only the pipelines whose code, config or data changed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
# Rasa would restore an unchanged pipeline from its training cache: every run really trains.
os.environ["RASA_MAX_CACHE_SIZE"] = "0"

import logging  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from rasa.core.agent import Agent  # noqa: E402
from rasa.shared.nlu.training_data.loading import load_data  # noqa: E402
from rasa.shared.utils.io import read_yaml_file, write_yaml  # noqa: E402
from rasa.utils.common import configure_logging_and_warnings  # noqa: E402
from rasa.utils.log_utils import configure_structlog  # noqa: E402
from sklearn.metrics import confusion_matrix, f1_score  # noqa: E402

from benchmarks.hardware import describe_hardware  # noqa: E402
from benchmarks.training_cache import train_cached  # noqa: E402
from cs_transformer import grading  # noqa: E402

LANGUAGES = ["en", "es", "de", "fr", "zh", "ar"]
HELDOUT = REPO / "benchmarks" / "heldout"
RESULTS = REPO / "benchmarks" / "results"
STOCK_CONFIG = REPO / "benchmarks" / "configs" / "stock_diet.yml"
# cs_transformer as config.yml has it (on CPU: the quantized ONNX fast path), the same with the
# eager torch backend, and stock Rasa.
PIPELINES = ["cs_transformer", "cs_transformer torch", "stock DIET"]
OURS, STOCK = "cs_transformer", "stock DIET"
LATENCY_MESSAGES = 200
LATENCY_BLOCK = 50
LATENCY_PAUSE_SECONDS = 0.5
WARM_UP_PARSES = 10


@dataclass
class RunResult:
    pipeline: str
    setting: str
    train_seconds: float
    accuracy: Dict[str, float] = field(default_factory=dict)
    macro_f1: Dict[str, float] = field(default_factory=dict)
    answer_accuracy: Dict[str, float] = field(default_factory=dict)
    fallback_rate: Dict[str, float] = field(default_factory=dict)
    oos_rejection: Dict[str, float] = field(default_factory=dict)
    cached: bool = False
    latency_ms: Tuple[float, float] = (0.0, 0.0)
    gold: List[str] = field(default_factory=list)
    predicted: List[str] = field(default_factory=list)


def heldout() -> Dict[str, List[Tuple[str, str, Optional[str]]]]:
    """language → [(text, intent, FAQ key or None)]."""
    sets = {}
    for language in LANGUAGES:
        examples = load_data(str(HELDOUT / f"{language}.yml")).intent_examples
        sets[language] = [(m.get("text"), m.get("intent"), m.get("intent_response_key") or None) for m in examples]
    return sets


def training_folder(languages: Sequence[str]) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="bench-nlu-data-"))
    for language in languages:
        shutil.copy(REPO / "data" / "nlu" / f"{language}.yml", folder)
    shutil.copy(REPO / "data" / "nlu" / "regex.yml", folder)
    return folder


def write_config(config: Dict, name: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix="bench-nlu-config-")) / f"{name}.yml"
    write_yaml(config, path)
    return path


def project_nlu_config(backend: str = "auto") -> Path:
    """config.yml's NLU pipeline as it is, FallbackClassifier included, without the policies."""
    config = read_yaml_file(REPO / "config.yml")
    for component in config["pipeline"]:
        if component["name"] == "cs_transformer.TransformerClassifier":
            component["inference_backend"] = backend
    config["policies"] = []
    return write_config(config, f"cs_transformer_{backend}")


def stock_config() -> Path:
    """Stock DIET with a FallbackClassifier of config.yml's threshold: both graded alike."""
    threshold = grading.fallback_threshold(read_yaml_file(REPO / "config.yml")["pipeline"])
    config = read_yaml_file(STOCK_CONFIG)
    if threshold is not None:
        config["pipeline"].append({"name": grading.FALLBACK_CLASSIFIER, "threshold": threshold})
    return write_config(config, "stock_diet")


def train(pipeline: str, languages: Sequence[str]) -> Tuple[Path, float, bool]:
    """(model, training seconds, whether it came from the cache)."""
    data = training_folder(languages)
    config = stock_config() if pipeline == STOCK else project_nlu_config("torch" if pipeline.endswith("torch") else "auto")
    return train_cached(config, data, "nlu-" + pipeline.replace(" ", "_"))


async def evaluate(pipeline: str, setting: str, agent: Agent, seconds: float, sets) -> RunResult:
    result = RunResult(pipeline, setting, seconds)
    for language, examples in sets.items():
        outcomes = [await grading.parse(agent, text, intent, answer) for text, intent, answer in examples]
        tested = grading.in_scope(outcomes)
        result.accuracy[language] = grading.accuracy(outcomes)
        result.fallback_rate[language] = grading.fallback_rate(outcomes)
        rejected = grading.oos_rejection(outcomes)
        if rejected is not None:
            result.oos_rejection[language] = rejected
        result.macro_f1[language] = f1_score([o.intent for o in tested], [o.predicted for o in tested],
                                             labels=sorted({o.intent for o in tested}), average="macro",
                                             zero_division=0)
        faq = [o for o in tested if o.answer]
        if faq:
            result.answer_accuracy[language] = sum(o.correct for o in faq) / len(faq)
        result.gold += [o.intent for o in outcomes]
        result.predicted += [o.predicted for o in outcomes]
    return result


async def measure_latency(agents: Dict[str, Agent], texts: Sequence[str]) -> Dict[str, Tuple[float, float]]:
    """p50/p95 ms of one-message parses.

    The pipelines take turns in blocks of LATENCY_BLOCK messages, so background load on the
    machine hits them alike, with a pause between blocks: a server runs one pipeline, and
    the thread pools that torch, TensorFlow and ONNX Runtime keep spinning after a call
    must not slow down the next pipeline (message-by-message turns had the torch pipeline
    at 90 ms p50 instead of 50)."""
    timings: Dict[str, List[float]] = {name: [] for name in agents}
    for agent in agents.values():
        for text in texts[:WARM_UP_PARSES]:
            await agent.parse_message(text)
    for start in range(0, len(texts), LATENCY_BLOCK):
        for name, agent in agents.items():
            await asyncio.sleep(LATENCY_PAUSE_SECONDS)
            for text in texts[start : start + LATENCY_BLOCK]:
                started = time.perf_counter()
                await agent.parse_message(text)
                timings[name].append((time.perf_counter() - started) * 1000)
    return {name: (statistics.median(t), statistics.quantiles(t, n=20)[18]) for name, t in timings.items()}


def mean(values: Dict[str, float], languages: Sequence[str] = LANGUAGES) -> float:
    """Mean over the languages that have a value (out-of-scope rejection may lack some)."""
    present = [values[l] for l in languages if l in values]
    return sum(present) / len(present) if present else float("nan")


def table(results: List[RunResult], sets) -> str:
    mean_chars = statistics.mean(len(t) for ex in sets.values() for t, _, _ in ex)
    lines = [
        "# NLU benchmark: cs_transformer vs stock Rasa DIET",
        "",
        f"- Hardware: {describe_hardware()}",
        f"- Held-out set: `benchmarks/heldout/` — {sum(len(e) for e in sets.values())} sentences, "
        f"{len(sets)} languages, mean length {mean_chars:.0f} characters; none is in the training data.",
        "- Graded as the bot runs: FallbackClassifier kept (stock DIET gets one with config.yml's threshold); "
        "accuracy is on in-scope sentences, a fallback counting as wrong; *fallback* is the share of in-scope "
        "sentences that fell back, *OOS rejected* the share of out-of-scope sentences declined (fell back or "
        "`out_of_scope`).",
        "- Accuracy and macro-F1 (in-scope intents) at intent level (`faq` is one intent); *answer acc.* is the "
        "share of FAQ questions that got the right answer (intent and response both right).",
        f"- Latency: one message at a time (batch size 1) through `Agent.parse_message`, {LATENCY_MESSAGES} held-out "
        f"messages across the 6 languages after {WARM_UP_PARSES} warm-up parses; the pipelines of a setting take turns "
        f"in blocks of {LATENCY_BLOCK} messages, so background load hits them alike, with a {LATENCY_PAUSE_SECONDS} s "
        "pause between blocks, so one pipeline's idle thread pools do not slow the next.",
        "- Reproduce: `make bench-nlu`",
        "",
    ]
    for setting in dict.fromkeys(r.setting for r in results):
        rows = [r for r in results if r.setting == setting]
        lines += [f"## Trained on {setting}", "", "| pipeline | " + " | ".join(LANGUAGES) + " | mean | non-English mean | fallback | OOS rejected | macro-F1 mean | answer acc. | train s | p50 ms | p95 ms |", "|---" * (len(LANGUAGES) + 10) + "|"]
        for r in rows:
            cells = [f"{r.accuracy[l]:.3f}" for l in LANGUAGES]
            lines.append(
                f"| {r.pipeline} | " + " | ".join(cells)
                + f" | **{mean(r.accuracy):.3f}** | {mean(r.accuracy, LANGUAGES[1:]):.3f} | {mean(r.fallback_rate):.3f}"
                + f" | {f'{mean(r.oos_rejection):.3f}' if r.oos_rejection else '—'} | {mean(r.macro_f1):.3f}"
                + f" | {f'{mean(r.answer_accuracy):.3f}' if r.answer_accuracy else '—'} | {r.train_seconds:.0f}{' (cached)' if r.cached else ''} | {r.latency_ms[0]:.1f} | {r.latency_ms[1]:.1f} |"
            )
        by_name = {r.pipeline: r for r in rows}
        stock = by_name.get(STOCK)
        for ours in (r for r in rows if r is not stock and stock is not None):
            lines.append("")
            lines.append(
                f"Ratios {ours.pipeline} / stock: accuracy {mean(ours.accuracy) / max(mean(stock.accuracy), 1e-9):.2f}x "
                f"({(mean(ours.accuracy) - mean(stock.accuracy)) * 100:+.1f} points), training time "
                f"{ours.train_seconds / stock.train_seconds:.2f}x, p95 latency {ours.latency_ms[1] / stock.latency_ms[1]:.2f}x; "
                f"fallback rate {mean(ours.fallback_rate):.3f} vs {mean(stock.fallback_rate):.3f}, out of scope rejected "
                f"{mean(ours.oos_rejection):.3f} vs {mean(stock.oos_rejection):.3f}."
            )
        lines.append("")
    lines += ["![confusion matrix](nlu_confusion_cs_transformer.png)", ""]
    return "\n".join(lines)


def plot_confusion(result: RunResult, path: Path) -> None:
    labels = sorted(set(result.gold) | set(result.predicted))
    matrix = confusion_matrix(result.gold, result.predicted, labels=labels)
    figure, axes = plt.subplots(figsize=(11, 9))
    image = axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=70, ha="right", fontsize=8)
    axes.set_yticks(range(len(labels)), labels, fontsize=8)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if matrix[i, j]:
                axes.text(j, i, matrix[i, j], ha="center", va="center", fontsize=7, color="white" if matrix[i, j] > matrix.max() / 2 else "black")
    axes.set_xlabel("predicted intent")
    axes.set_ylabel("true intent")
    axes.set_title(f"{result.pipeline}, trained on {result.setting}: held-out set, 6 languages")
    figure.colorbar(image)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", nargs="+", default=PIPELINES, choices=PIPELINES)
    parser.add_argument("--settings", nargs="+", default=["all", "en"], choices=["all", "en"])
    args = parser.parse_args()
    # Per-message debug logs would be timed too.
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    sets = heldout()
    results: List[RunResult] = []
    for setting in args.settings:
        languages = LANGUAGES if setting == "all" else ["en"]
        label = "all 6 languages" if setting == "all" else "English only"
        agents: Dict[str, Agent] = {}
        setting_results: Dict[str, RunResult] = {}
        for pipeline in args.pipelines:
            print(f"== training {pipeline} on {label}", flush=True)
            model, seconds, cached = train(pipeline, languages)
            agents[pipeline] = Agent.load(str(model))
            result = asyncio.run(evaluate(pipeline, label, agents[pipeline], seconds, sets))
            result.cached = cached
            print(
                f"   accuracy {mean(result.accuracy):.3f} (non-English {mean(result.accuracy, LANGUAGES[1:]):.3f}), "
                f"fallback {mean(result.fallback_rate):.3f}, out of scope rejected {mean(result.oos_rejection):.3f}, "
                f"train {seconds:.0f} s{' (cached model)' if cached else ''}",
                flush=True,
            )
            setting_results[pipeline] = result
        print(f"== one-message latency, {' / '.join(agents)} taking turns in blocks of {LATENCY_BLOCK}", flush=True)
        texts = [text for examples in sets.values() for text, _, _ in examples]
        texts = texts[:: max(1, len(texts) // LATENCY_MESSAGES)][:LATENCY_MESSAGES]
        for pipeline, latency in asyncio.run(measure_latency(agents, texts)).items():
            setting_results[pipeline].latency_ms = latency
            print(f"   {pipeline}: p50/p95 {latency[0]:.1f}/{latency[1]:.1f} ms", flush=True)
        results += setting_results.values()
        write_results(results, sets)


def write_results(results: List[RunResult], sets) -> None:
    """After each setting, so a long run that is stopped keeps what it measured."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = table(results, sets)
    (RESULTS / "nlu.md").write_text(report, encoding="utf-8")
    ours = next((r for r in results if r.pipeline == OURS and r.setting == "all 6 languages"), None)
    if ours is not None:
        plot_confusion(ours, RESULTS / "nlu_confusion_cs_transformer.png")
    print(report, flush=True)


if __name__ == "__main__":
    main()
