"""Temperature scaling: confidences that mean what they say (Guo et al., 2017).

The classifier's blended probabilities rank intents well but their size is arbitrary: label
smoothing and the prototype blend squash them, so a fixed FallbackClassifier threshold cut
away correct answers. One temperature `T`, fitted on predictions for examples the scorer did
not train on, rescales them: `softmax(log(p) / T)`. The ranking never changes; only how
sure the top intent looks does, so that a threshold separates right from wrong.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

# log10(T) searched in [-1.5, 1.5]: T from 0.03 (sharpen a lot) to 32 (flatten a lot).
LOG10_TEMPERATURE_RANGE = (-1.5, 1.5)
GRID_POINTS = 301
# Keeps log(0) finite for labels a scorer gave no mass at all.
MIN_PROBABILITY = 1e-12


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in numpy: serving runs without torch."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Rows of `probabilities` rescaled by `temperature` (1.0 gives them back unchanged)."""
    if temperature == 1.0:
        return probabilities
    return softmax(np.log(np.maximum(probabilities, MIN_PROBABILITY)) / temperature).astype(probabilities.dtype)


def negative_log_likelihood(probabilities: np.ndarray, label_ids: Sequence[int]) -> float:
    picked = probabilities[np.arange(len(label_ids)), np.asarray(list(label_ids), dtype=np.int64)]
    return float(-np.log(np.maximum(picked, MIN_PROBABILITY)).mean())


def fit_temperature(probabilities: np.ndarray, label_ids: Sequence[int]) -> float:
    """The temperature that minimises the negative log-likelihood of the true labels.

    A grid over log T: one parameter, a few thousand rows, and no optimiser settings to pin."""
    low, high = LOG10_TEMPERATURE_RANGE
    candidates = [10 ** (low + (high - low) * i / (GRID_POINTS - 1)) for i in range(GRID_POINTS)]
    losses = [negative_log_likelihood(apply_temperature(probabilities, t), label_ids) for t in candidates]
    best = min(range(GRID_POINTS), key=lambda i: losses[i])
    return round(candidates[best], 4) if math.isfinite(losses[best]) else 1.0
