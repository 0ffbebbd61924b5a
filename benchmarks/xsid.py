"""`make bench-xsid`: the bot's NLU as configured against stock DIET on public xSID dev data.

Data: `../shared/data/xsid-dev/` (xSID 0.7, 11 languages, 16 intents; read its README). It is
development data: it is read from there and never copied into the product. Both pipelines keep
a FallbackClassifier with config.yml's threshold, and a message that falls back counts as
wrong. Protocols, each in the same run for both pipelines:

- `inlang`: k-fold over `train/` (default 5 folds stratified by intent, split by sentence `id`
  so a sentence and its translations stay on one side): train on the other folds of every
  language, test the fold. `--run-folds 1` runs the first fold only.
- `crosslingual`: train on `train/en` plus a sample of `train-large/en`, test on the 10 others.
- `oos`: every xSID sentence (none is a shop request) into the trained demo bot
  (`models/shop.tar.gz`): the share it declines (falls back or calls out_of_scope), per language.

Our pipeline is config.yml's with the LanguageDetector listing the xSID languages and without the
components and keys that need the shop's data (regexes and their placeholders, frustration).
Trained models are cached by their inputs (`benchmarks/training_cache.py`), so a rerun trains
only what changed. Writes
`benchmarks/results/xsid.md`, `xsid.json` and `xsid_accuracy.png`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import statistics
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
# Rasa would restore an unchanged pipeline from its training cache: every training is timed.
os.environ["RASA_MAX_CACHE_SIZE"] = "0"

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from rasa.core.agent import Agent  # noqa: E402
from rasa.shared.nlu.training_data.message import Message  # noqa: E402
from rasa.shared.nlu.training_data.training_data import TrainingData  # noqa: E402
from rasa.shared.utils.io import read_yaml_file, write_yaml  # noqa: E402
from rasa.utils.common import configure_logging_and_warnings  # noqa: E402
from rasa.utils.log_utils import configure_structlog  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402

from benchmarks.hardware import describe_hardware  # noqa: E402
from benchmarks.nlu import STOCK_CONFIG, measure_latency  # noqa: E402
from benchmarks.training_cache import train_cached  # noqa: E402
from cs_transformer import grading  # noqa: E402
from cs_transformer.grading import Outcome  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "xsid-dev"
RESULTS = REPO / "benchmarks" / "results"
DEMO_MODEL = REPO / "models" / "shop.tar.gz"
OURS, STOCK = "cs_transformer", "stock DIET"
PROTOCOLS = ["inlang", "crosslingual", "oos"]
SOURCE_LANGUAGE = "en"
# Components of config.yml that need the shop's own data, and the classifier's keys that do:
# xSID has no shop regexes (order numbers, one-time codes) to read as placeholders.
SHOP_ONLY_COMPONENTS = {"cs_transformer.UnicodeRegexEntityExtractor", "cs_transformer.FrustrationScorer"}
SHOP_ONLY_KEYS = {"entity_placeholders"}
DETECTOR = "cs_transformer.LanguageDetector"
LATENCY_TEXTS = 200


@dataclass(frozen=True)
class Sentence:
    id: str
    language: str
    text: str
    intent: str  # `/` replaced by `__`: Rasa reads `a/b` as a retrieval intent


@dataclass
class Graded:
    """One pipeline in one protocol: outcomes per language, pooled over folds."""

    pipeline: str
    outcomes: Dict[str, List[Outcome]] = field(default_factory=dict)
    train_seconds: List[float] = field(default_factory=list)
    cached: List[bool] = field(default_factory=list)
    latency_ms: Tuple[float, float] = (0.0, 0.0)

    def accuracy(self, language: str) -> float:
        return grading.accuracy(self.outcomes[language])

    def fallback(self, language: str) -> float:
        return grading.fallback_rate(self.outcomes[language])

    def mean(self, metric: str) -> float:
        return statistics.mean(getattr(self, metric)(language) for language in self.outcomes)

    def ece(self) -> float:
        return grading.expected_calibration_error([o for os_ in self.outcomes.values() for o in os_])

    def top_accuracy(self) -> float:
        return statistics.mean(grading.top_accuracy(o) for o in self.outcomes.values())


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- data


def read_sentences(folder: Path) -> List[Sentence]:
    sentences = []
    for line in folder.read_text(encoding="utf-8").splitlines() if folder.is_file() else []:
        row = json.loads(line)
        sentences.append(Sentence(row["id"], folder.stem, row["text"], row["intent"].replace("/", "__")))
    return sentences


def read_dev(data: Path) -> Dict[str, List[Sentence]]:
    """language -> its `train/` sentences."""
    files = sorted((data / "train").glob("*.jsonl"))
    if not files:
        raise SystemExit(f"no xSID dev data in {data}/train: pass --data <xsid-dev folder> "
                         "(see ../shared/data/xsid-dev/README.md)")
    return {path.stem: read_sentences(path) for path in files}


def id_folds(dev: Dict[str, List[Sentence]], folds: int, seed: int) -> List[set]:
    """The ids of each test fold, stratified by intent; a sentence's translations share its id."""
    intent_of = {s.id: s.intent for sentences in dev.values() for s in sentences}
    ids = sorted(intent_of)
    labels = [intent_of[i] for i in ids]
    # An intent with fewer sentences than folds (alarm/modify_alarm has one) lands in some folds only.
    counts = Counter(labels)
    safe = [label if counts[label] >= folds else "(rare)" for label in labels]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [{ids[i] for i in test} for _, test in splitter.split(np.zeros(len(ids)), safe)]


def training_folder(sentences: Sequence[Sentence]) -> Path:
    """Rasa NLU YAML of the sentences, each (text, intent) once, in a stable order."""
    unique = sorted({(s.intent, s.text) for s in sentences})
    folder = Path(tempfile.mkdtemp(prefix="bench-xsid-data-"))
    data = TrainingData(training_examples=[Message(data={"text": t, "intent": i}) for i, t in unique])
    (folder / "nlu.yml").write_text(data.nlu_as_yaml(), encoding="utf-8")
    return folder


def configs(languages: Sequence[str]) -> Dict[str, Path]:
    """Our pipeline as configured, with the xSID languages; stock DIET with the same fallback."""
    config = read_yaml_file(REPO / "config.yml")
    pipeline = [
        {key: value for key, value in c.items() if key not in SHOP_ONLY_KEYS}
        for c in config["pipeline"] if c["name"] not in SHOP_ONLY_COMPONENTS
    ]
    for component in pipeline:
        if component["name"] == DETECTOR:
            component["languages"] = list(languages)
            component["default_language"] = SOURCE_LANGUAGE
    threshold = grading.fallback_threshold(pipeline)
    if threshold is None:
        raise SystemExit("config.yml has no FallbackClassifier: this benchmark grades the bot as configured")
    stock = read_yaml_file(STOCK_CONFIG)
    stock["pipeline"] = [*stock["pipeline"], {"name": grading.FALLBACK_CLASSIFIER, "threshold": threshold}]
    folder = Path(tempfile.mkdtemp(prefix="bench-xsid-config-"))
    paths = {}
    for name, content in ((OURS, {**config, "pipeline": pipeline, "policies": []}), (STOCK, stock)):
        paths[name] = folder / f"{name.replace(' ', '_')}.yml"
        write_yaml(content, paths[name])
    return paths


# --------------------------------------------------------------------------- running


async def grade(agent: Agent, tests: Dict[str, List[Sentence]]) -> Dict[str, List[Outcome]]:
    graded = {}
    for language, sentences in tests.items():
        graded[language] = [await grading.parse(agent, s.text, s.intent) for s in sentences]
    return graded


def run_protocol(name: str, splits: List[Tuple[List[Sentence], Dict[str, List[Sentence]]]],
                 config_paths: Dict[str, Path], pipelines: Sequence[str]) -> List[Graded]:
    """Trains and tests every pipeline on each split; latency on the last split's models."""
    graded = {p: Graded(p) for p in pipelines}
    agents: Dict[str, Agent] = {}
    for index, (train, tests) in enumerate(splits):
        data = training_folder(train)
        for pipeline in pipelines:
            tag = f"[{name} {index + 1}/{len(splits)}] {pipeline}"
            progress(f"{tag}: training on {len(train)} sentences")
            model, seconds, cached = train_cached(config_paths[pipeline], data, f"xsid-{pipeline.replace(' ', '_')}")
            progress(f"{tag}: {'cached model, trained in' if cached else 'trained in'} {seconds:.0f} s; "
                     f"testing {sum(len(t) for t in tests.values())} sentences")
            agents[pipeline] = Agent.load(str(model))
            for language, outcomes in asyncio.run(grade(agents[pipeline], tests)).items():
                graded[pipeline].outcomes.setdefault(language, []).extend(outcomes)
            graded[pipeline].train_seconds.append(seconds)
            graded[pipeline].cached.append(cached)
            progress(f"{tag}: accuracy {graded[pipeline].mean('accuracy'):.3f}, "
                     f"fallback {graded[pipeline].mean('fallback'):.3f} so far")
    texts = [s.text for sentences in splits[-1][1].values() for s in sentences]
    texts = texts[:: max(1, len(texts) // LATENCY_TEXTS)][:LATENCY_TEXTS]
    progress(f"[{name}] one-message latency, {' / '.join(agents)} taking turns")
    for pipeline, latency in asyncio.run(measure_latency(agents, texts)).items():
        graded[pipeline].latency_ms = latency
    return list(graded.values())


def inlang_splits(dev, folds: int, run_folds: int, seed: int):
    for test_ids in id_folds(dev, folds, seed)[:run_folds]:
        train = [s for sentences in dev.values() for s in sentences if s.id not in test_ids]
        tests = {language: [s for s in sentences if s.id in test_ids] for language, sentences in dev.items()}
        yield train, tests


def crosslingual_split(dev, data: Path, large_sample: int, seed: int):
    large = read_sentences(data / "train-large" / f"{SOURCE_LANGUAGE}.jsonl")
    sample = random.Random(seed).sample(large, min(large_sample, len(large)))
    tests = {language: sentences for language, sentences in dev.items() if language != SOURCE_LANGUAGE}
    return [(dev[SOURCE_LANGUAGE] + sample, tests)]


async def out_of_scope(model: Path, dev: Dict[str, List[Sentence]], per_language: int, seed: int):
    """Per language: share declined, and what the rest was taken as."""
    agent = Agent.load(str(model))
    report = {}
    for language, sentences in dev.items():
        sample = random.Random(seed).sample(sentences, min(per_language, len(sentences)))
        progress(f"[oos] {language}: {len(sample)} sentences into {model.name}")
        outcomes = [await grading.parse(agent, s.text, grading.OUT_OF_SCOPE) for s in sample]
        taken = Counter(o.predicted for o in outcomes if o.predicted not in grading.REJECTIONS)
        report[language] = {
            "sentences": len(outcomes),
            "declined": grading.oos_rejection(outcomes),
            "fell_back": sum(o.fell_back for o in outcomes) / len(outcomes),
            "out_of_scope": sum(o.predicted == grading.OUT_OF_SCOPE for o in outcomes) / len(outcomes),
            "taken_as": dict(taken.most_common(5)),
        }
    return report


# --------------------------------------------------------------------------- reports


def protocol_table(title: str, method: str, results: List[Graded]) -> List[str]:
    languages = list(results[0].outcomes)
    lines = [f"## {title}", "", method, "",
             "| pipeline | " + " | ".join(languages) + " | **mean** | fallback rate | top intent, no fallback | ECE "
             "| train s | p50 ms | p95 ms |", "|---" * (len(languages) + 8) + "|"]
    for r in results:
        lines.append(f"| {r.pipeline} | " + " | ".join(f"{r.accuracy(l):.3f}" for l in languages)
                     + f" | **{r.mean('accuracy'):.3f}** | {r.mean('fallback'):.3f} | {r.top_accuracy():.3f} "
                     f"| {r.ece():.3f} | {statistics.mean(r.train_seconds):.0f} | {r.latency_ms[0]:.1f} "
                     f"| {r.latency_ms[1]:.1f} |")
    lines += ["", "Fallback rate per language: " + "; ".join(
        f"{r.pipeline} " + ", ".join(f"{l} {r.fallback(l):.3f}" for l in languages) for r in results) + "."]
    by_name = {r.pipeline: r for r in results}
    if OURS in by_name and STOCK in by_name:
        ours, stock = by_name[OURS], by_name[STOCK]
        lines += ["", f"Ratios {OURS} / {STOCK}: accuracy {ours.mean('accuracy') / max(stock.mean('accuracy'), 1e-9):.2f}x "
                  f"({(ours.mean('accuracy') - stock.mean('accuracy')) * 100:+.1f} points), training time "
                  f"{statistics.mean(ours.train_seconds) / statistics.mean(stock.train_seconds):.2f}x, "
                  f"p95 latency {ours.latency_ms[1] / max(stock.latency_ms[1], 1e-9):.2f}x."]
    if any(c for r in results for c in r.cached):
        lines += ["", "Training times of models loaded from `benchmarks/.models` are those measured when they "
                  "were trained."]
    return lines + [""]


def oos_table(report: Dict[str, Dict], model: Path) -> List[str]:
    """The demo bot's share declined per language, and what it took the rest for."""
    languages = list(report)
    mean = statistics.mean(report[l]["declined"] for l in languages)
    lines = ["## Out of scope: xSID sentences into the demo bot", "",
             f"Every sentence is something a shop's support bot does not handle; `{model}` "
             "declines it when it falls back or calls it `out_of_scope`.", "",
             "| | " + " | ".join(languages) + " | **mean** |", "|---" * (len(languages) + 2) + "|"]
    for key, label in (("declined", "declined"), ("fell_back", "fell back"), ("out_of_scope", "out_of_scope")):
        lines.append(f"| {label} | " + " | ".join(f"{report[l][key]:.3f}" for l in languages)
                     + (f" | **{mean:.3f}** |" if key == "declined" else " | |"))
    taken = Counter()
    for l in languages:
        taken.update(report[l]["taken_as"])
    lines += ["", "Taken as (top 5 per language, summed): " + ", ".join(f"`{k}` {v}" for k, v in taken.most_common(8))
              + ".", ""]
    return lines


def plot_accuracy(protocols: Dict[str, List[Graded]], path: Path) -> None:
    figure = Figure(figsize=(12, 4.5 * len(protocols)))
    for axes, (title, results) in zip(np.atleast_1d(figure.subplots(len(protocols), 1)), protocols.items()):
        languages = list(results[0].outcomes)
        x = np.arange(len(languages))
        width = 0.8 / len(results)
        for i, r in enumerate(results):
            axes.bar(x + (i - (len(results) - 1) / 2) * width, [r.accuracy(l) for l in languages], width,
                     label=f"{r.pipeline} (mean {r.mean('accuracy'):.3f}, fallback {r.mean('fallback'):.3f})")
        axes.set_xticks(x, languages)
        axes.set_ylim(0, 1.05)
        axes.set_ylabel("accuracy, fallback counted wrong")
        axes.set_title(title, fontsize=11)
        axes.legend(loc="lower left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the xsid-dev folder")
    parser.add_argument("--protocols", nargs="+", choices=PROTOCOLS, default=PROTOCOLS)
    parser.add_argument("--pipelines", nargs="+", choices=[OURS, STOCK], default=[OURS, STOCK])
    parser.add_argument("--folds", type=int, default=5, help="inlang: folds over the sentence ids")
    parser.add_argument("--run-folds", type=int, help="inlang: run only the first N folds (default all)")
    parser.add_argument("--large-sample", type=int, default=2000,
                        help="crosslingual: sentences sampled from train-large/en")
    parser.add_argument("--oos-per-language", type=int, default=300, help="oos: sentences per language")
    parser.add_argument("--model", type=Path, default=DEMO_MODEL, help="oos: the trained demo bot")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    run_folds = min(args.run_folds or args.folds, args.folds)
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    dev = read_dev(args.data)
    config_paths = configs(list(dev))
    command = "python benchmarks/xsid.py " + " ".join(sys.argv[1:] if argv is None else argv)
    lines = ["# xSID dev data: the bot's NLU as configured vs stock DIET", "",
             f"- Hardware: {describe_hardware()}",
             f"- Data: `{args.data.name}` (xSID 0.7 dev, {len(dev)} languages, "
             f"{sum(len(s) for s in dev.values())} sentences); both pipelines keep a FallbackClassifier with "
             f"threshold {grading.fallback_threshold(read_yaml_file(config_paths[OURS])['pipeline'])}; "
             "accuracy counts a fallback as wrong; means weigh every language alike.",
             "- *top intent, no fallback*: the classifier's own top intent (what the threshold costs); "
             "ECE: expected calibration error of that top intent's confidence, 10 bins.",
             "- Parse latency: one message at a time through `Agent.parse_message`, the pipelines taking turns "
             f"in blocks, up to {LATENCY_TEXTS} test sentences of the last split.",
             f"- Reproduce: `{command}`", ""]
    protocols: Dict[str, List[Graded]] = {}
    report: Dict[str, object] = {"command": command, "hardware": describe_hardware()}
    if "inlang" in args.protocols:
        title = f"In-language: {run_folds} of {args.folds} folds"
        splits = list(inlang_splits(dev, args.folds, run_folds, args.seed))
        protocols[title] = run_protocol("inlang", splits, config_paths, args.pipelines)
        lines += protocol_table(title, f"Trained on {args.folds - 1}/{args.folds} of every language (split by "
                                f"sentence id, stratified by intent), tested on the rest; {run_folds} fold(s) run, "
                                "outcomes pooled.", protocols[title])
    if "crosslingual" in args.protocols:
        title = "Cross-lingual: trained on English only"
        splits = crosslingual_split(dev, args.data, args.large_sample, args.seed)
        protocols[title] = run_protocol("crosslingual", splits, config_paths, args.pipelines)
        lines += protocol_table(title, f"Trained on train/en ({len(dev[SOURCE_LANGUAGE])}) + {args.large_sample} "
                                "sentences sampled from train-large/en; tested on every sentence of the other "
                                f"{len(dev) - 1} languages.", protocols[title])
    for title, results in protocols.items():
        report[title] = {r.pipeline: {
            "accuracy": {l: r.accuracy(l) for l in r.outcomes}, "fallback_rate": {l: r.fallback(l) for l in r.outcomes},
            "mean_accuracy": r.mean("accuracy"), "mean_fallback_rate": r.mean("fallback"),
            "top_intent_accuracy": r.top_accuracy(), "ece": r.ece(), "train_seconds": r.train_seconds,
            "cached": r.cached, "parse_p50_ms": r.latency_ms[0], "parse_p95_ms": r.latency_ms[1]} for r in results}
    if "oos" in args.protocols:
        if not args.model.is_file():
            raise SystemExit(f"no trained demo bot at {args.model}: run `make train` first")
        report["out_of_scope"] = asyncio.run(out_of_scope(args.model, dev, args.oos_per_language, args.seed))
        lines += oos_table(report["out_of_scope"], args.model)
    args.out.mkdir(parents=True, exist_ok=True)
    if protocols:
        plot_accuracy(protocols, args.out / "xsid_accuracy.png")
        lines += ["![accuracy per language](xsid_accuracy.png)", ""]
    (args.out / "xsid.md").write_text("\n".join(lines), encoding="utf-8")
    (args.out / "xsid.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
