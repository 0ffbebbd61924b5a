"""The two scorers that read the sentence vectors: a linear head and class prototypes.

Scoring is numpy, so serving needs no torch: the head's logits and the cosine similarity to
each label's prototype, blended by `retrieval_weight`. Fitting a head on cached vectors
(a `--finetune`, the calibration folds) imports torch inside `fit_head`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence, Tuple

import numpy as np

from cs_transformer.calibration import softmax

if TYPE_CHECKING:  # the torch side, imported where it is used
    import torch

    from cs_transformer.training import TrainingReport, TrainingSettings

# The linear head as numpy: weight [labels, dimension], bias [labels].
HeadArrays = Tuple[np.ndarray, np.ndarray]


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as torch's `normalize` does."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def class_prototypes(vectors: np.ndarray, label_ids: Sequence[int], labels: int) -> np.ndarray:
    """Mean (normalised) vector of each label's examples, L2-normalised."""
    prototypes = np.zeros((labels, vectors.shape[1]), dtype=np.float32)
    np.add.at(prototypes, np.asarray(list(label_ids), dtype=np.int64), vectors)
    return normalize(prototypes)


def blend(
    head: HeadArrays, prototypes: np.ndarray, tuned: np.ndarray, frozen: np.ndarray,
    retrieval_weight: float, retrieval_temperature: float,
) -> np.ndarray:
    """The linear head's and the prototypes' probabilities, mixed by `retrieval_weight`."""
    weight, bias = head
    head_probabilities = softmax(tuned @ weight.T + bias)
    if retrieval_weight == 0:
        return head_probabilities
    retrieval_probabilities = softmax(frozen @ prototypes.T / retrieval_temperature)
    return (1 - retrieval_weight) * head_probabilities + retrieval_weight * retrieval_probabilities


def head_arrays(head: "torch.nn.Module") -> HeadArrays:
    """A trained `ClassifierHead`'s linear layer as numpy (weight [labels, dimension], bias [labels])."""
    return (
        head.linear.weight.detach().float().cpu().numpy().copy(),
        head.linear.bias.detach().float().cpu().numpy().copy(),
    )


def fit_head(
    tuned: np.ndarray, label_ids: Sequence[int], labels: int, settings: TrainingSettings,
    device: "torch.device", dtype: Optional["torch.dtype"], start: Optional[HeadArrays] = None,
) -> Tuple[HeadArrays, TrainingReport]:
    """A head trained on cached sentence vectors only (no encoder pass), from `start` if given."""
    import torch

    from cs_transformer.training import ClassifierHead, Trainer

    head = ClassifierHead(tuned.shape[1], labels)
    if start is not None:
        head.load_state_dict({"linear.weight": torch.from_numpy(start[0]), "linear.bias": torch.from_numpy(start[1])})
    head.to(device)
    report = Trainer(None, head, settings, device, dtype).fit(
        [""] * len(label_ids), list(label_ids), frozen_features=torch.from_numpy(tuned)
    )
    return head_arrays(head), report
