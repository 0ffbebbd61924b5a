"""Fine-tuning loop for the transformer classifier: one job, no Rasa types.

AdamW with linear warm-up and decay, cross-entropy with label smoothing, a stratified
validation split with early stopping (the best epoch's weights are restored), fixed
seeds, autocast on CUDA. Progress is shown per epoch.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Text, Tuple

import numpy as np
import torch
from torch import nn
from tqdm import tqdm
from transformers import get_linear_schedule_with_warmup

from cs_transformer.encoder import SentenceEncoder, autocast

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingSettings:
    epochs: int
    batch_size: int
    learning_rate: float
    head_learning_rate: float
    weight_decay: float
    warmup_ratio: float
    label_smoothing: float
    validation_split: float
    early_stopping_patience: int
    random_seed: int


@dataclass
class TrainingReport:
    epochs_run: int = 0
    best_epoch: int = 0
    best_validation_accuracy: Optional[float] = None
    seconds: float = 0.0
    history: List[Dict[Text, float]] = field(default_factory=list)


def set_seeds(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def stratified_split(labels: Sequence[int], fraction: float, seed: int) -> Tuple[List[int], List[int]]:
    """(train indices, validation indices); classes with < 3 examples stay in training."""
    rng = random.Random(seed)
    by_label: Dict[int, List[int]] = {}
    for index, label in enumerate(labels):
        by_label.setdefault(label, []).append(index)
    train, validation = [], []
    for indices in by_label.values():
        rng.shuffle(indices)
        take = int(len(indices) * fraction) if len(indices) >= 3 else 0
        validation.extend(indices[:take])
        train.extend(indices[take:])
    return sorted(train), sorted(validation)


def stratified_folds(labels: Sequence[int], folds: int, seed: int) -> List[List[int]]:
    """`folds` lists of indices that together hold every example once, each label dealt round
    the folds in turn (so each fold sees every label that has `folds` examples or more)."""
    rng = random.Random(seed)
    by_label: Dict[int, List[int]] = {}
    for index, label in enumerate(labels):
        by_label.setdefault(label, []).append(index)
    assignment: List[List[int]] = [[] for _ in range(folds)]
    dealt = 0
    for indices in by_label.values():
        rng.shuffle(indices)
        for index in indices:
            assignment[dealt % folds].append(index)
            dealt += 1
    return [sorted(fold) for fold in assignment]


class ClassifierHead(nn.Module):
    """Dropout and a linear layer over the pooled sentence vector."""

    def __init__(self, dimension: int, labels: int) -> None:
        super().__init__()
        self.dropout = nn.Dropout(0.1)
        self.linear = nn.Linear(dimension, labels)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.linear(self.dropout(pooled))


class FrozenPrefix:
    """What the frozen layers make of each training sentence, computed once for all epochs.

    Only the top `trainable_layers` change during fine-tuning: the layers below give the same
    token vectors for a sentence at every epoch (they run without dropout here), so each step
    runs only the layers that learn. Pooling layers below the fine-tuned ones are kept pooled."""

    def __init__(self, encoder: SentenceEncoder, texts: Sequence[Text], device: torch.device, batch_size: int = 64) -> None:
        self.encoder = encoder
        self.tokens: List[torch.Tensor] = []
        frozen_pooled: Dict[int, List[torch.Tensor]] = {}
        self.frozen_indices = [i for i in map(encoder.hidden_index, encoder.pooling_layers) if i < encoder.frozen_depth]
        encoder.eval()
        with torch.no_grad():
            for start in tqdm(range(0, len(texts), batch_size), desc="cs_transformer frozen layers", unit="batch"):
                inputs = encoder.tokenize(texts[start : start + batch_size])
                ids, mask = inputs["input_ids"].to(device), inputs["attention_mask"].to(device)
                hidden = encoder.model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
                for row in range(ids.shape[0]):
                    self.tokens.append(hidden[encoder.frozen_depth][row][mask[row].bool()].clone())
                for index in self.frozen_indices:
                    frozen_pooled.setdefault(index, []).append(encoder.pool(hidden[index], mask))
        self.pooled = {index: torch.cat(parts) for index, parts in frozen_pooled.items()}

    def features(self, batch: Sequence[int]) -> torch.Tensor:
        """The sentence vectors of `batch` the head reads, the fine-tuned layers run on the cached tokens."""
        tokens = [self.tokens[i] for i in batch]
        width = max(len(t) for t in tokens)
        hidden = tokens[0].new_zeros((len(tokens), width, tokens[0].shape[-1]))
        mask = torch.zeros((len(tokens), width), dtype=torch.long, device=hidden.device)
        for row, token_vectors in enumerate(tokens):
            hidden[row, : len(token_vectors)] = token_vectors
            mask[row, : len(token_vectors)] = 1
        states = self.encoder.tuned_layers(hidden, mask)
        index = torch.tensor(list(batch), device=hidden.device)
        parts = [
            self.pooled[i][index] if i in self.pooled else self.encoder.pool(states[i], mask)
            for i in map(self.encoder.hidden_index, self.encoder.pooling_layers)
        ]
        return torch.cat(parts, dim=-1)

    def matches_forward(self, texts: Sequence[Text], device: torch.device, tolerance: float = 1e-4) -> bool:
        """Whether the cached path gives the encoder's own vectors (an architecture whose layers
        take other arguments does not, and trains without the cache)."""
        sample = list(range(min(8, len(texts))))
        self.encoder.eval()
        with torch.no_grad():
            inputs = self.encoder.tokenize([texts[i] for i in sample])
            expected, _ = self.encoder(inputs["input_ids"].to(device), inputs["attention_mask"].to(device))
            try:
                got = self.features(sample)
            except (TypeError, ValueError, RuntimeError) as error:
                logger.info("cs_transformer.train.frozen_prefix off reason=%r", error)
                return False
        difference = float((expected - got).abs().max())
        logger.info("cs_transformer.train.frozen_prefix max_difference=%.2e", difference)
        return difference <= tolerance


class Trainer:
    """Trains `encoder` (its trainable layers) and `head` together on (text, label) pairs;
    with `encoder=None`, only the head, on the vectors passed as `frozen_features`."""

    def __init__(
        self,
        encoder: Optional[SentenceEncoder],
        head: nn.Module,
        settings: TrainingSettings,
        device: torch.device,
        dtype: Optional[torch.dtype],
    ) -> None:
        self.encoder = encoder
        self.head = head
        self.settings = settings
        self.device = device
        self.dtype = dtype
        self._cache: Optional[torch.Tensor] = None
        self._prefix: Optional[FrozenPrefix] = None

    def fit(
        self, texts: Sequence[Text], labels: Sequence[int], frozen_features: Optional[torch.Tensor] = None
    ) -> TrainingReport:
        """Trains on `texts`; with a frozen encoder, pass its sentence vectors as `frozen_features`
        and every epoch reuses them instead of running the transformer again."""
        settings = self.settings
        # clone(): vectors computed under inference_mode cannot take part in autograd.
        self._cache = frozen_features.clone().to(self.device) if frozen_features is not None else None
        self._prefix: Optional[FrozenPrefix] = None
        if self._cache is None and self.encoder is not None and 0 < self.encoder.trainable_layers and self.encoder.frozen_depth > 0:
            prefix = FrozenPrefix(self.encoder, texts, self.device)
            self._prefix = prefix if prefix.matches_forward(texts, self.device) else None
        set_seeds(settings.random_seed)
        train_idx, val_idx = stratified_split(labels, settings.validation_split, settings.random_seed)
        steps_per_epoch = max(1, -(-len(train_idx) // settings.batch_size))
        optimizer = torch.optim.AdamW(
            [
                {"params": [p for p in self._encoder_parameters() if p.requires_grad], "lr": settings.learning_rate},
                {"params": list(self.head.parameters()), "lr": settings.head_learning_rate},
            ],
            weight_decay=settings.weight_decay,
        )
        total_steps = steps_per_epoch * settings.epochs
        scheduler = get_linear_schedule_with_warmup(optimizer, int(total_steps * settings.warmup_ratio), total_steps)
        loss_fn = nn.CrossEntropyLoss(label_smoothing=settings.label_smoothing)
        scaler = torch.amp.GradScaler("cuda", enabled=self.dtype == torch.float16)
        report = TrainingReport()
        best_state: Optional[Dict[Text, torch.Tensor]] = None
        best_accuracy, stale_epochs = -1.0, 0
        started = time.perf_counter()
        label_tensor = torch.tensor(list(labels), device=self.device)
        epochs = tqdm(range(1, settings.epochs + 1), desc="cs_transformer fine-tuning", unit="epoch")
        for epoch in epochs:
            loss = self._train_epoch(texts, label_tensor, train_idx, optimizer, scheduler, loss_fn, scaler)
            accuracy = self.accuracy(texts, labels, val_idx) if val_idx else None
            report.history.append({"epoch": epoch, "loss": loss, **({"val_accuracy": accuracy} if accuracy is not None else {})})
            epochs.set_postfix(loss=f"{loss:.3f}", val_acc="-" if accuracy is None else f"{accuracy:.3f}")
            logger.debug("cs_transformer.train.epoch epoch=%d loss=%.4f val_accuracy=%s", epoch, loss, accuracy)
            report.epochs_run = epoch
            if accuracy is None:
                continue
            if accuracy > best_accuracy:
                best_accuracy, stale_epochs, report.best_epoch = accuracy, 0, epoch
                best_state = self._snapshot()
            else:
                stale_epochs += 1
                if stale_epochs > settings.early_stopping_patience:
                    logger.info("cs_transformer.train.early_stop epoch=%d best_epoch=%d", epoch, report.best_epoch)
                    break
        if best_state is not None:
            self._restore(best_state)
            report.best_validation_accuracy = best_accuracy
        else:
            report.best_epoch = report.epochs_run
        report.seconds = time.perf_counter() - started
        return report

    def _encoder_parameters(self) -> List[nn.Parameter]:
        return [] if self.encoder is None else list(self.encoder.parameters())

    def _train_epoch(self, texts, label_tensor, indices, optimizer, scheduler, loss_fn, scaler) -> float:
        if self.encoder is not None:
            self.encoder.train()
        self.head.train()
        order = list(indices)
        random.shuffle(order)
        # The loss is summed on the device: reading it every step would sync a GPU each time.
        total, batches = torch.zeros((), device=self.device), 0
        for start in range(0, len(order), self.settings.batch_size):
            batch = order[start : start + self.settings.batch_size]
            with autocast(self.device, self.dtype):
                loss = loss_fn(self.head(self._features(texts, batch)).float(), label_tensor[batch])
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            total += loss.detach()
            batches += 1
        return float(total) / max(1, batches)

    @torch.no_grad()
    def accuracy(self, texts: Sequence[Text], labels: Sequence[int], indices: Sequence[int]) -> float:
        if self.encoder is not None:
            self.encoder.eval()
        self.head.eval()
        correct = 0
        for start in range(0, len(indices), 64):
            batch = list(indices[start : start + 64])
            with autocast(self.device, self.dtype):
                predicted = self.head(self._features(texts, batch)).argmax(dim=-1).cpu().tolist()
            correct += sum(int(p == labels[i]) for p, i in zip(predicted, batch))
        return correct / max(1, len(indices))

    def _features(self, texts: Sequence[Text], batch: List[int]) -> torch.Tensor:
        """Fine-tuned sentence vectors of `batch` (from the cache when the encoder is frozen)."""
        if self._cache is not None:
            return self._cache[batch]
        if self._prefix is not None:
            return self._prefix.features(batch)
        inputs = self.encoder.tokenize([texts[i] for i in batch])
        tuned, _ = self.encoder(inputs["input_ids"].to(self.device), inputs["attention_mask"].to(self.device))
        return tuned

    def _snapshot(self) -> Dict[Text, torch.Tensor]:
        encoder_state = self.encoder.trainable_state() if self.encoder is not None else {}
        state = {f"encoder.{k}": v.clone() for k, v in encoder_state.items()}
        state.update({f"head.{k}": v.detach().cpu().clone() for k, v in self.head.state_dict().items()})
        return state

    def _restore(self, state: Dict[Text, torch.Tensor]) -> None:
        if self.encoder is not None:
            self.encoder.load_trainable_state({k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")})
        self.head.load_state_dict({k[len("head."):]: v for k, v in state.items() if k.startswith("head.")})
