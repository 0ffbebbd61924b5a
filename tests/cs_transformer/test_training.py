"""The fine-tuning loop on its own: it learns, stops early on the best epoch, and repeats itself."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import List, Tuple

import pytest
import torch

from cs_transformer.encoder import SentenceEncoder
from tests.cs_transformer.conftest import EXAMPLES
from cs_transformer.training import (
    ClassifierHead,
    FrozenPrefix,
    Trainer,
    TrainingReport,
    TrainingSettings,
    stratified_folds,
    stratified_split,
)

DIMENSION = 32
CLASSES = 3
PER_CLASS = 20
SETTINGS = TrainingSettings(
    epochs=30, batch_size=8, learning_rate=1e-3, head_learning_rate=5e-2, weight_decay=0.0, warmup_ratio=0.0,
    label_smoothing=0.0, validation_split=0.0, early_stopping_patience=2, random_seed=7,
)


@pytest.fixture(scope="module")
def frozen_encoder(tiny_model_dir: Path) -> SentenceEncoder:
    """No trainable layers: the head learns from given sentence vectors, the transformer never runs."""
    return SentenceEncoder.from_directory(tiny_model_dir, 0, "", 32)


def separable_toy_set(seed: int = 0) -> Tuple[List[str], List[int], torch.Tensor]:
    """Three well-separated clusters of sentence vectors: a linear head can get all of them right."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.eye(CLASSES, DIMENSION) * 6.0
    labels = [label for label in range(CLASSES) for _ in range(PER_CLASS)]
    vectors = centres[labels] + 0.5 * torch.randn(len(labels), DIMENSION, generator=generator)
    return [f"sentence {i}" for i in range(len(labels))], labels, vectors


def fit(encoder: SentenceEncoder, settings: TrainingSettings) -> Tuple[Trainer, ClassifierHead, TrainingReport]:
    texts, labels, vectors = separable_toy_set()
    torch.manual_seed(123)  # the head's initial weights; the seed under test is the trainer's own
    head = ClassifierHead(DIMENSION, CLASSES)
    trainer = Trainer(encoder, head, settings, torch.device("cpu"), None)
    return trainer, head, trainer.fit(texts, labels, frozen_features=vectors)


def test_the_head_learns_a_separable_toy_set(frozen_encoder: SentenceEncoder) -> None:
    texts, labels, vectors = separable_toy_set()
    torch.manual_seed(123)  # the head fit() starts from
    with torch.no_grad():
        untrained = ClassifierHead(DIMENSION, CLASSES).eval()(vectors).argmax(dim=-1)
    assert (untrained == torch.tensor(labels)).float().mean() < 0.9  # not right before training
    trainer, _, report = fit(frozen_encoder, SETTINGS)
    assert trainer.accuracy(texts, labels, range(len(labels))) == 1.0
    history = report.history
    assert len(history) == SETTINGS.epochs and history[-1]["loss"] < history[0]["loss"] / 4


def test_early_stopping_keeps_the_best_epoch(frozen_encoder: SentenceEncoder) -> None:
    """Validation accuracy reaches its best and stays there: no epoch beats it, so training stops
    `patience + 1` epochs later, and the weights of the best epoch are the ones kept."""
    settings = dataclasses.replace(SETTINGS, epochs=50, validation_split=0.3)
    trainer, _, report = fit(frozen_encoder, settings)
    assert report.best_validation_accuracy == 1.0
    assert report.epochs_run == report.best_epoch + settings.early_stopping_patience + 1 < settings.epochs
    assert [entry["epoch"] for entry in report.history] == list(range(1, report.epochs_run + 1))
    assert all("val_accuracy" in entry for entry in report.history)
    texts, labels, _ = separable_toy_set()
    _, validation = stratified_split(labels, settings.validation_split, settings.random_seed)
    assert trainer.accuracy(texts, labels, validation) == report.best_validation_accuracy


def test_without_a_validation_split_every_epoch_runs(frozen_encoder: SentenceEncoder) -> None:
    _, _, report = fit(frozen_encoder, dataclasses.replace(SETTINGS, epochs=5))
    assert (report.epochs_run, report.best_epoch, report.best_validation_accuracy) == (5, 5, None)


def test_the_same_seed_gives_the_same_weights(frozen_encoder: SentenceEncoder) -> None:
    settings = dataclasses.replace(SETTINGS, epochs=3)
    _, first, _ = fit(frozen_encoder, settings)
    _, again, _ = fit(frozen_encoder, settings)
    _, other_seed, _ = fit(frozen_encoder, dataclasses.replace(settings, random_seed=8))
    for name, weights in first.state_dict().items():
        assert torch.equal(weights, again.state_dict()[name]), name
    assert not torch.equal(first.linear.weight, other_seed.linear.weight)


def test_the_validation_split_is_stratified_and_spares_rare_classes() -> None:
    labels = [0] * 10 + [1] * 5 + [2] * 2
    train, validation = stratified_split(labels, 0.2, seed=0)
    assert sorted(train + validation) == list(range(len(labels)))
    assert sorted(labels[i] for i in validation) == [0, 0, 1]  # 20 % of each class; a class of 2 stays
    assert stratified_split(labels, 0.2, seed=0) == (train, validation)


def test_folds_hold_every_example_once_and_deal_each_label_round() -> None:
    labels = [0] * 9 + [1] * 3 + [2] * 2
    folds = stratified_folds(labels, 3, seed=0)
    assert sorted(i for fold in folds for i in fold) == list(range(len(labels)))
    assert [sorted(labels[i] for i in fold).count(0) for fold in folds] == [3, 3, 3]
    assert all(1 in {labels[i] for i in fold} for fold in folds)


@pytest.mark.parametrize("pooling_layers", [(-1,), (-2, -1), (-3, -1)])
def test_the_frozen_prefix_gives_the_encoders_own_vectors(tiny_model_dir: Path, pooling_layers: Tuple[int, ...]) -> None:
    """The top layer fine-tuned over the cached output of the layer below (and, for -3, the pooled
    embeddings kept as they are): the same vectors as the whole encoder, for any batch."""
    encoder = SentenceEncoder.from_directory(tiny_model_dir, 1, "", 32, pooling_layers)
    texts = [text for text, _ in EXAMPLES]
    prefix = FrozenPrefix(encoder, texts, torch.device("cpu"), batch_size=5)
    assert prefix.matches_forward(texts, torch.device("cpu"))
    batch = [7, 0, 3, len(texts) - 1]
    inputs = encoder.tokenize([texts[i] for i in batch])
    with torch.no_grad():
        expected, _ = encoder.eval()(inputs["input_ids"], inputs["attention_mask"])
        assert torch.allclose(prefix.features(batch), expected, atol=1e-5)


def test_fine_tuning_runs_the_tuned_layers_on_the_prefix_and_learns(tiny_model_dir: Path) -> None:
    encoder = SentenceEncoder.from_directory(tiny_model_dir, 1, "", 32, (-2, -1))
    texts = [text for text, _ in EXAMPLES]
    names = sorted({intent for _, intent in EXAMPLES})
    labels = [names.index(intent) for _, intent in EXAMPLES]
    trainer = Trainer(encoder, ClassifierHead(encoder.dimension, len(names)), SETTINGS, torch.device("cpu"), None)
    before = {name: p.clone() for name, p in encoder.trainable_state().items()}
    trainer.fit(texts, labels)
    assert trainer._prefix is not None
    assert any(not torch.equal(before[name], p) for name, p in encoder.trainable_state().items()), "the top layer learned"
    assert trainer.accuracy(texts, labels, list(range(len(texts)))) > 0.9


def test_layers_the_prefix_cannot_drive_train_the_whole_way(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = SentenceEncoder.from_directory(tiny_model_dir, 1, "", 32)
    monkeypatch.setattr(encoder, "tuned_layers", lambda hidden, mask: (_ for _ in ()).throw(TypeError("other layer arguments")))
    texts = [text for text, _ in EXAMPLES]
    assert not FrozenPrefix(encoder, texts, torch.device("cpu")).matches_forward(texts, torch.device("cpu"))
