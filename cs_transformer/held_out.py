"""The confidence temperature, fitted on predictions for examples the scorer did not train on.

Over a frozen encoder the sentence vectors are cached, so k-fold cross-validation only
retrains the small head k times (seconds). Fine-tuned layers are too costly to train k times:
the validation split they held back for early stopping is used instead.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from cs_transformer.calibration import apply_temperature, fit_temperature, negative_log_likelihood
from cs_transformer.head import HeadArrays, class_prototypes, fit_head

if TYPE_CHECKING:
    import torch

    from cs_transformer.training import TrainingSettings

logger = logging.getLogger(__name__)

# (head, prototypes, head vectors, prototype vectors) -> probabilities: cs_transformer.head.blend.
Scorer = Callable[[HeadArrays, np.ndarray, np.ndarray, np.ndarray], np.ndarray]
Predictions = Tuple[np.ndarray, List[int], str]


def calibrate(
    score: Scorer, head: HeadArrays, tuned: np.ndarray, frozen: np.ndarray, label_ids: List[int], labels: int,
    settings: TrainingSettings, folds: int, frozen_encoder: bool, device: "torch.device", dtype: Optional["torch.dtype"],
) -> Tuple[float, Dict[str, Any]]:
    """(temperature, what it was fitted on) for `meta.json`; 1.0 when there is nothing to fit on."""
    if frozen_encoder:
        probabilities, targets, source = out_of_fold(score, tuned, frozen, label_ids, labels, settings, folds, device, dtype)
    else:
        probabilities, targets, source = validation_split(score, head, tuned, frozen, label_ids, labels, settings, folds)
    if len(targets) == 0:
        logger.info("cs_transformer.calibration.skipped reason='%s'", source)
        return 1.0, {"method": "none", "reason": source}
    temperature = fit_temperature(probabilities, targets)
    calibrated = apply_temperature(probabilities, temperature)
    result = {
        "method": "temperature",
        "temperature": temperature,
        "source": source,
        "examples": len(targets),
        "held_out_accuracy": round(float((probabilities.argmax(-1) == np.asarray(targets)).mean()), 4),
        "nll_before": round(negative_log_likelihood(probabilities, targets), 4),
        "nll_after": round(negative_log_likelihood(calibrated, targets), 4),
        "mean_confidence_before": round(float(probabilities.max(-1).mean()), 4),
        "mean_confidence_after": round(float(calibrated.max(-1).mean()), 4),
    }
    logger.info("cs_transformer.calibration.done %s", " ".join(f"{k}={v}" for k, v in result.items()))
    return temperature, result


def out_of_fold(
    score: Scorer, tuned: np.ndarray, frozen: np.ndarray, label_ids: List[int], labels: int,
    settings: TrainingSettings, folds: int, device: "torch.device", dtype: Optional["torch.dtype"],
) -> Predictions:
    from cs_transformer.training import stratified_folds

    if folds == 0 or len(label_ids) < folds:
        return np.empty(0), [], "calibration_folds is 0" if folds == 0 else "fewer examples than folds"
    rows, targets = [], []
    for fold in stratified_folds(label_ids, folds, settings.random_seed):
        held_out = set(fold)
        train = [i for i in range(len(label_ids)) if i not in held_out]
        train_labels = [label_ids[i] for i in train]
        head, _ = fit_head(tuned[train], train_labels, labels, settings, device, dtype)
        prototypes = class_prototypes(frozen[train], train_labels, labels)
        rows.append(score(head, prototypes, tuned[fold], frozen[fold]))
        targets += [label_ids[i] for i in fold]
    return np.concatenate(rows), targets, f"{folds}-fold out-of-fold predictions"


def validation_split(
    score: Scorer, head: HeadArrays, tuned: np.ndarray, frozen: np.ndarray, label_ids: List[int], labels: int,
    settings: TrainingSettings, folds: int,
) -> Predictions:
    """The trained head on the split training held back (the same stratified split)."""
    from cs_transformer.training import stratified_split

    if folds == 0:
        return np.empty(0), [], "calibration_folds is 0"
    train, validation = stratified_split(label_ids, settings.validation_split, settings.random_seed)
    if not validation:
        return np.empty(0), [], "no validation split to calibrate on (validation_split is 0)"
    prototypes = class_prototypes(frozen[train], [label_ids[i] for i in train], labels)
    probabilities = score(head, prototypes, tuned[validation], frozen[validation])
    return probabilities, [label_ids[i] for i in validation], "validation split"
