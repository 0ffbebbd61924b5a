"""Trained benchmark models kept by what they were trained from, so reruns skip DIET.

Stock DIET trains for minutes per model on 2 cores and does not change with this project's
code. A model is stored under the SHA-256 of its config, its training files, the Rasa
version and (for our pipeline) the source of `cs_transformer/`, with the seconds its
training took: a rerun with the same inputs loads it and reports that training time.
Rasa's own cache is bypassed (RASA_MAX_CACHE_SIZE=0 in the benchmarks), so every training
time is a real one. `make clean` empties the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Tuple

import rasa
from rasa.model_training import train_nlu

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "benchmarks" / ".models"
# Modules of cs_transformer/ that no trained model runs (as TRAINING_INPUTS in the Makefile; the
# tool packages cs_transformer/lint/ and evaluate/ are not globbed).
TOOL_MODULES = {"bot_config.py", "grading.py"}


def inputs_key(config: Path, data: Path) -> str:
    """What the model depends on; the component code only where the config uses it."""
    digest = hashlib.sha256(f"rasa {rasa.__version__}\n".encode())
    config_text = config.read_bytes()
    digest.update(config_text)
    for path in sorted(data.rglob("*.yml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    if b"cs_transformer." in config_text:
        for path in sorted((REPO / "cs_transformer").glob("*.py")):
            if path.name not in TOOL_MODULES:
                digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:20]


def train_cached(config: Path, data: Path, name: str) -> Tuple[Path, float, bool]:
    """(model, training seconds, whether it came from the cache) for `config` on `data`."""
    key = inputs_key(config, data)
    folder = CACHE / f"{name}-{key}"
    model, meta = folder / "model.tar.gz", folder / "training.json"
    if model.is_file() and meta.is_file():
        return model, float(json.loads(meta.read_text())["seconds"]), True
    output = Path(tempfile.mkdtemp(prefix="bench-train-"))
    started = time.perf_counter()
    # Rasa prints where it saved the (temporary) model: progress, not a result.
    with contextlib.redirect_stdout(sys.stderr):
        trained = train_nlu(str(config), str(data), str(output), fixed_model_name=name)
    seconds = time.perf_counter() - started
    if trained is None:
        raise SystemExit(f"training {name} with {config} failed")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.move(trained, model)
    meta.write_text(json.dumps({"seconds": seconds, "config": str(config)}))
    shutil.rmtree(output, ignore_errors=True)
    return model, seconds, False
