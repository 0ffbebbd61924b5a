"""The sentence vectors of a model's training examples, kept in the model archive.

`rasa train --finetune` keeps the encoder as it was, so a text it has already encoded has the
same vectors: only new or changed examples are encoded again. A text's key is the sha256 of the
encoder's identity (the serving graph, or the torch weights) and the text as the encoder sees
it (prefix included), so vectors of another encoder never match. Stored as float16: the demo
bot's 2,958 examples take 6.9 MB beside its 82 MB graph (README, `rasa train --finetune`).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Text, Tuple

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from cs_transformer.head import normalize

logger = logging.getLogger(__name__)

VECTORS_FILE = "vectors.safetensors"
KEY_BYTES = 32


def text_key(encoder_identity: Text, text_as_encoded: Text) -> bytes:
    """The cache key of one text for one encoder."""
    return hashlib.sha256(encoder_identity.encode() + b"\0" + text_as_encoded.encode()).digest()


@dataclass(frozen=True)
class VectorCache:
    """Rows of (head vector, prototype vector) by text key.

    `frozen` is None when the encoder has no fine-tuned layers: the prototype vectors are then
    the head vectors normalised, and are not stored twice."""

    keys: List[bytes]
    tuned: np.ndarray
    frozen: Optional[np.ndarray]

    @classmethod
    def build(cls, keys: Sequence[bytes], tuned: np.ndarray, frozen: Optional[np.ndarray]) -> VectorCache:
        """One row per distinct key (the first of duplicate texts), in float16."""
        first: Dict[bytes, int] = {}
        for row, key in enumerate(keys):
            first.setdefault(key, row)
        rows = np.fromiter(first.values(), dtype=np.int64, count=len(first))
        return cls(
            [keys[i] for i in rows],
            tuned[rows].astype(np.float16),
            None if frozen is None else frozen[rows].astype(np.float16),
        )

    def save(self, directory: Path) -> None:
        tensors = {"keys": np.frombuffer(b"".join(self.keys), dtype=np.uint8).reshape(-1, KEY_BYTES), "tuned": self.tuned}
        if self.frozen is not None:
            tensors["frozen"] = self.frozen
        save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(directory / VECTORS_FILE))

    @classmethod
    def load(cls, directory: Path) -> Optional[VectorCache]:
        """The saved cache; None for a model saved before the cache existed or a damaged file
        (a finetune then encodes every example once, which is slower but right)."""
        path = directory / VECTORS_FILE
        if not path.is_file():
            return None
        try:
            tensors = load_file(str(path))
            keys = [bytes(row) for row in tensors["keys"]]
            return cls(keys, tensors["tuned"], tensors.get("frozen"))
        except (OSError, KeyError, SafetensorError) as error:
            logger.warning("cs_transformer.vector_cache.unreadable file=%s error='%s' (every example is encoded again)", path, error)
            return None


def cached_vectors(
    cache: Optional[VectorCache], keys: Sequence[bytes], texts: Sequence[Text],
    encode: Callable[[List[Text]], Tuple[np.ndarray, np.ndarray]], one_space: bool,
) -> Tuple[np.ndarray, np.ndarray]:
    """(head vectors, prototype vectors) of `texts`: from `cache`, encoding only the texts not in it.

    `one_space`: the encoder has no fine-tuned layers, so the prototype vectors are the head
    vectors normalised. Every row goes through float16 like the cached ones, so a text's vector
    is the same whichever way it came."""
    usable = cache is not None and (one_space or cache.frozen is not None)
    known = {key: row for row, key in enumerate(cache.keys)} if usable else {}
    new = sorted({key: i for i, key in enumerate(keys) if key not in known}.values())
    logger.info("cs_transformer.finetune.encode new_examples=%d cached_examples=%d", len(new), len(texts) - len(new))
    encoded = dict(zip([keys[i] for i in new], zip(*encode([texts[i] for i in new])))) if new else {}
    rows = [
        encoded[key] if key in encoded else (cache.tuned[known[key]], None if one_space else cache.frozen[known[key]])
        for key in keys
    ]
    tuned = np.stack([row[0] for row in rows]).astype(np.float16).astype(np.float32)
    if one_space:
        return tuned, normalize(tuned)
    return tuned, np.stack([row[1] for row in rows]).astype(np.float16).astype(np.float32)
