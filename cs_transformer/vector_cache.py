"""The sentence vectors of a model's training examples, kept in the model archive.

`rasa train --finetune` keeps the encoder as it was, so a text it has already encoded has the
same vectors: only new or changed examples are encoded again. A text's key is the sha256 of the
encoder's identity (the serving graph, or the torch weights) and the text as the encoder sees
it (prefix included), so vectors of another encoder never match. Stored as float16: the demo
bot's ~2,970 examples take a few MB beside an 82 MB graph.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Text, Tuple

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

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

    def rows(self) -> Dict[bytes, int]:
        return {key: row for row, key in enumerate(self.keys)}

    def vectors(self, row: int) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        return self.tuned[row], None if self.frozen is None else self.frozen[row]

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
