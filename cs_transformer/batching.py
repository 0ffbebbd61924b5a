"""Batches of similar-length texts, shared by the torch and the ONNX paths (no torch here)."""

from typing import List, Sequence, Text


def length_buckets(texts: Sequence[Text], batch_size: int) -> List[List[int]]:
    """Indices in batches of similar length, so padding (wasted compute) stays small."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
