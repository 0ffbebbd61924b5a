"""`cs_transformer.TransformerClassifier`: intents and retrieval intents from one encoder pass.

Each message is encoded once by a multilingual transformer whose lower layers stay frozen.
Two scorers share that pass (cs_transformer.head): a linear head on the fine-tuned top layer
(accurate in the languages it was trained on) and the nearest class prototype in the frozen
layer's space (keeps the cross-lingual alignment, so examples in one language carry to the
others), blended with `retrieval_weight`. Retrieval intents (`faq/...`) are labels of their own;
the output is Rasa's (cs_transformer.rasa_output), so `utter_faq` and RulePolicy work unchanged.

This module is the life cycle, top to bottom: train → process → persist → load. Its parts have
homes of their own: the config (classifier_config), the encoder behind one `encode`
(backends), the scorers (head), the calibration (held_out), the archive (classifier_artifact,
vector_cache), `trainable_layers: auto` (language_coverage).

Serving on CPU needs only onnxruntime, numpy and tokenizers: torch, transformers and the base
model are imported only to train, to `--finetune` or to serve on torch
(`cs_transformer.dependencies` says which extra installs them), inside the methods that need them.
"""

from __future__ import annotations

import copy
import logging
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Text, Tuple

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from cs_transformer import backends, language_coverage
from cs_transformer.calibration import apply_temperature
from cs_transformer.classifier_artifact import Artifact, fingerprint, read_artifact, write_artifact
from cs_transformer.classifier_config import CONFIG_SCHEMA, DEFAULT_CONFIG, training_settings
from cs_transformer.config_validation import validate_config
from cs_transformer.dependencies import SERVING_MODULES, TORCH_SERVING_MODULES, TRAIN_INSTALL, TRAINING_MODULES, require
from cs_transformer.errors import CsTransformerError
from cs_transformer.head import HeadArrays, blend, class_prototypes, fit_head, head_arrays
from cs_transformer.held_out import calibrate
from cs_transformer.placeholders import EntityPlaceholders
from cs_transformer.rasa_output import annotate, annotate_untrained, label_of
from cs_transformer.storage import read_saved
from cs_transformer.vector_cache import VectorCache, cached_vectors, text_key

if TYPE_CHECKING:  # the torch side, imported at run time only where it is used (see the docstring)
    from cs_transformer.encoder import SentenceEncoder
    from cs_transformer.onnx_backend import OnnxSentenceEncoder
    from cs_transformer.training import TrainingReport, TrainingSettings

logger = logging.getLogger(__name__)

# Rasa's recipe validator warns "does not include a response selector component" whenever the
# pipeline lacks its own ResponseSelector class (rasa/graph_components/validators/
# default_recipe_validator.py compares exact classes; no registration type changes that).
# This classifier selects the responses, so in any pipeline that imports it the warning is false.
warnings.filterwarnings(
    "ignore", message="You have defined training data with examples for training a response selector"
)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class TransformerClassifier(GraphComponent, IntentClassifier):
    """Multilingual intent classification and response selection with a fine-tuned transformer."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return copy.deepcopy(DEFAULT_CONFIG)

    @staticmethod
    def required_packages() -> List[Text]:
        """What serving a trained model needs (Rasa checks these at train and at load); training
        needs more, checked in `create` (see cs_transformer.dependencies)."""
        return list(SERVING_MODULES)

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[Text]:
        return fingerprint(config)

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
        self.labels = labels or []
        self.responses = responses or {}
        # The torch encoder (training, torch serving) or the ONNX graph serves (cs_transformer.backends).
        self.encoder: Optional[SentenceEncoder] = None
        self.onnx_encoder: Optional[OnnxSentenceEncoder] = None
        self.onnx_graph: Optional[bytes] = None
        self.tokenizer_json: Optional[Text] = None
        self.pad_token_id = 0
        self.trainable_layers = 0
        # The fine-tuned layers as saved, persisted again when the ONNX graph serves a --finetune.
        self.saved_encoder_tensors: Dict[Text, np.ndarray] = {}
        # Identity of the base weights the head was trained on (see cs_transformer.model_resolver).
        self.base_weights_sha256: Optional[Text] = None
        # The scorers as numpy: the linear head [labels, dimension] + [labels], the prototypes.
        self.head: Optional[HeadArrays] = None
        self.prototypes: Optional[np.ndarray] = None
        # Confidence temperature fitted at training time (see cs_transformer.calibration).
        self.temperature = 1.0
        self.calibration: Dict[Text, Any] = {}
        # The training examples' sentence vectors, so a --finetune encodes only new examples.
        self.vector_cache: Optional[VectorCache] = None
        # Values read as their type, `entity_placeholders` (see cs_transformer.placeholders).
        self.placeholders = EntityPlaceholders([])

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
        instance = cls(config, model_storage, resource, execution_context)
        # Now, not after the data is read: `device: cuda` without a GPU names its fix at once.
        instance._resolve_device()
        return instance

    # ------------------------------------------------------------------ training

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if m.get(TEXT)]
        keys = [label_of(m) for m in examples]
        if len(set(keys)) < 2:
            logger.warning("cs_transformer.train.skipped reason='fewer than two intents in the training data'")
            return self._resource
        finetuning = bool(self._execution_context.is_finetuning and self.head is not None)
        if not finetuning:  # a --finetune keeps the text as the served encoder reads it
            self.placeholders = EntityPlaceholders.from_training_data(training_data, self.config["entity_placeholders"])
        texts = [self.placeholders.apply(m.get(TEXT)) for m in examples]
        if finetuning:
            unknown = sorted(set(keys) - set(self.labels))
            if unknown:
                raise CsTransformerError(
                    f"`rasa train --finetune` cannot add intents ({', '.join(unknown)}); "
                    "retrain from scratch with `rasa train`."
                )
        else:
            self.labels = sorted(set(keys))
            layers = language_coverage.trainable_layers(
                self.config["trainable_layers"], self._execution_context, [m.get(TEXT) for m in examples]
            )
            self.encoder = self._load_encoder(layers)
            self.trainable_layers = self.encoder.trainable_layers
        self.responses = training_data.responses
        index = {label: i for i, label in enumerate(self.labels)}
        label_ids = [index[key] for key in keys]
        settings = training_settings(self.config, self.trainable_layers, finetuning)
        if finetuning:
            # The encoder stays exactly as it serves (no encoder training, no re-export): only the
            # texts it has not encoded yet are encoded, the rest come from the archive.
            one_space = self.trainable_layers == 0
            tuned, frozen = cached_vectors(self.vector_cache, self._text_keys(texts), texts, self._encode, one_space)
            self.head, report = fit_head(tuned, label_ids, len(self.labels), settings, self.device, self.dtype, start=self.head)
        else:
            (tuned, frozen), report = self._train_encoder_and_head(texts, label_ids, settings)
        self.prototypes = class_prototypes(frozen, label_ids, len(self.labels))
        self.temperature, self.calibration = calibrate(
            self._score, self.head, tuned, frozen, label_ids, len(self.labels), settings,
            self.config["calibration_folds"], self.trainable_layers == 0, self.device, self.dtype,
        )
        logger.info(
            "cs_transformer.train.done labels=%d examples=%d trainable_layers=%d finetune=%s epochs=%d best_epoch=%d "
            "val_accuracy=%s temperature=%.3f seconds=%.1f",
            len(self.labels), len(texts), self.trainable_layers, finetuning, report.epochs_run, report.best_epoch,
            report.best_validation_accuracy, self.temperature, report.seconds,
        )
        # This training's vectors for the next --finetune; removed examples drop out.
        self.vector_cache = VectorCache.build(self._text_keys(texts), tuned, frozen if self.trainable_layers else None)
        self.persist(report=asdict(report))
        return self._resource

    def _train_encoder_and_head(
        self, texts: List[Text], label_ids: List[int], settings: TrainingSettings
    ) -> Tuple[backends.Vectors, TrainingReport]:
        """A full train: the head (and any fine-tuned layers), then the vectors of the backend that serves."""
        import torch

        from cs_transformer.training import ClassifierHead, Trainer

        head = ClassifierHead(self.encoder.dimension, len(self.labels)).to(self.device)
        self.encoder.to(self.device).eval()
        self.encoder.autocast_dtype = self.dtype
        vectors: Optional[backends.Vectors] = None
        if self.trainable_layers == 0:
            if self._exports_onnx():
                # The encoder will not change: export it now, and learn the head and prototypes
                # from the vectors of the graph that will serve them (quantization error included).
                self._export_onnx()
            vectors = self._encode(texts)
        trainer = Trainer(self.encoder, head, settings, self.device, self.dtype)
        report = trainer.fit(texts, label_ids, frozen_features=torch.from_numpy(vectors[0]) if vectors else None)
        self.encoder.eval()
        self.head = head_arrays(head)
        if vectors is None:
            if self._exports_onnx():
                self._export_onnx()
            # Encoded once training is over, by the graph that will serve (one pass, not two).
            vectors = self._encode(texts)
        return vectors, report

    def _export_onnx(self) -> None:
        """Exports the quantized graph and the tokenizer; when ONNX serves, it does from now on,
        with the very tokenizer and graph that the loaded model will use."""
        from cs_transformer.onnx_export import export_quantized

        self.onnx_graph = export_quantized(self.encoder)
        self.tokenizer_json = self.encoder.tokenizer_json()
        self.pad_token_id = int(self.encoder.tokenizer.pad_token_id or 0)
        if backends.serves_onnx(self.config, graph_saved=True):
            self.onnx_encoder = backends.onnx_encoder(self.config, self.onnx_graph, self.tokenizer_json, self.pad_token_id)

    def _exports_onnx(self) -> bool:
        return self.config["inference_backend"] != "torch"

    # ------------------------------------------------------------------ inference

    def process(self, messages: List[Message]) -> List[Message]:
        if self.head is None or not self.labels:
            for message in messages:  # untrained (fewer than two intents)
                annotate_untrained(message)
            return messages
        probabilities = self.predict_proba([m.get(TEXT) or "" for m in messages])
        for message, row in zip(messages, probabilities.tolist()):
            annotate(message, self.labels, row, self.responses, self.config["ranking_length"])
        return messages

    def predict_proba(self, texts: Sequence[Text], calibrated: bool = True) -> np.ndarray:
        """[len(texts), len(labels)] blended probabilities over the full labels (faq/... included),
        rescaled by the fitted temperature unless `calibrated=False`."""
        tuned, frozen = self._encode([self.placeholders.apply(text) for text in texts])
        probabilities = self._score(self.head, self.prototypes, tuned, frozen)
        return apply_temperature(probabilities, self.temperature) if calibrated else probabilities

    def _score(self, head: HeadArrays, prototypes: np.ndarray, tuned: np.ndarray, frozen: np.ndarray) -> np.ndarray:
        return blend(head, prototypes, tuned, frozen, self.config["retrieval_weight"], self.config["retrieval_temperature"])

    def _encode(self, texts: Sequence[Text]) -> backends.Vectors:
        backend = self.onnx_encoder if self.onnx_encoder is not None else backends.TorchBackend(self.encoder)
        return backends.encode(backend, texts, self.config["inference_batch_size"])

    def _text_keys(self, texts: Sequence[Text]) -> List[bytes]:
        """The vector cache's keys of `texts` for the encoder that serves."""
        onnx = (self.onnx_graph, self.tokenizer_json) if self.onnx_encoder is not None else None
        identity = backends.encoder_identity(self.config, onnx, self.base_weights_sha256, self._encoder_tensors())
        return [text_key(identity, self.config["text_prefix"] + text) for text in texts]

    # ------------------------------------------------------------------ persistence

    def persist(self, report: Optional[Dict[Text, Any]] = None) -> None:
        tensors = {f"encoder.{k}": v for k, v in self._encoder_tensors().items()}
        tensors.update({"head.linear.weight": self.head[0], "head.linear.bias": self.head[1], "prototypes": self.prototypes})
        meta = {
            "labels": self.labels,
            "responses": self.responses,
            "model_name": self.config["model_name"],
            # Which base weights the head and any fine-tuned layers belong to (checked on the torch path).
            "base_weights_sha256": self.base_weights_sha256,
            "trainable_layers": self.trainable_layers,
            "pad_token_id": self.pad_token_id,
            "temperature": self.temperature,
            "calibration": self.calibration,
            "entity_placeholders": self.placeholders.patterns,
            "training_report": report or {},
        }
        artifact = Artifact(meta, tensors, self.onnx_graph, self.tokenizer_json, self.vector_cache)
        with self._model_storage.write_to(self._resource) as directory:
            write_artifact(Path(directory), artifact)

    def _encoder_tensors(self) -> Dict[Text, np.ndarray]:
        """The fine-tuned layers: from the torch encoder, or as loaded when the ONNX graph serves."""
        if self.encoder is not None:
            return {k: v.numpy() for k, v in self.encoder.trainable_state().items()}
        return self.saved_encoder_tensors

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> TransformerClassifier:
        finetuning = execution_context.is_finetuning
        artifact = read_saved(model_storage, resource, lambda directory: read_artifact(directory, with_vector_cache=finetuning))
        if artifact is None:  # `train` saved nothing
            logger.info("cs_transformer.load.untrained resource=%s reason='trained on fewer than two intents'", resource.name)
            return cls(config, model_storage, resource, execution_context)
        meta, tensors = artifact.meta, artifact.tensors
        instance = cls(config, model_storage, resource, execution_context, labels=meta["labels"], responses=meta["responses"])
        instance.config = {**instance.config, "trainable_layers": meta["trainable_layers"], "model_name": meta["model_name"]}
        instance.head = (tensors["head.linear.weight"], tensors["head.linear.bias"])
        instance.prototypes = tensors["prototypes"]
        instance.temperature = float(meta.get("temperature", 1.0))
        instance.calibration = meta.get("calibration") or {}
        instance.placeholders = EntityPlaceholders(meta.get("entity_placeholders") or [])
        instance.base_weights_sha256 = meta.get("base_weights_sha256")
        instance.pad_token_id = int(meta.get("pad_token_id", 0))
        instance.onnx_graph, instance.tokenizer_json = artifact.onnx_graph, artifact.tokenizer_json
        instance.trainable_layers = int(meta["trainable_layers"])
        instance.saved_encoder_tensors = {k[len("encoder."):]: v for k, v in tensors.items() if k.startswith("encoder.")}
        instance.vector_cache = artifact.vector_cache
        if finetuning:  # the head trains with torch, whichever backend encodes
            require(TRAINING_MODULES, TRAIN_INSTALL, "for `rasa train --finetune`")
            instance._resolve_device()
        if backends.serves_onnx(instance.config, artifact.onnx_graph is not None):
            instance.onnx_encoder = backends.onnx_encoder(
                instance.config, artifact.onnx_graph, artifact.tokenizer_json, instance.pad_token_id
            )
            return instance
        if not finetuning:
            require(TORCH_SERVING_MODULES, TRAIN_INSTALL, "to serve this model with torch (no ONNX graph in it, or "
                    "`inference_backend: torch` / `device: cuda` configured)")
        import torch

        instance._resolve_device()
        encoder = instance._load_encoder(instance.trainable_layers)
        encoder.load_trainable_state({k: torch.from_numpy(v) for k, v in instance.saved_encoder_tensors.items()})
        encoder.autocast_dtype = instance.dtype
        instance.encoder = encoder.to(instance.device).eval()
        return instance

    def _resolve_device(self) -> None:
        from cs_transformer.encoder import resolve_device, resolve_precision

        self.device = resolve_device(self.config["device"])
        self.dtype = resolve_precision(self.config["precision"], self.device)

    def _load_encoder(self, trainable_layers: int) -> SentenceEncoder:
        """The base model from this machine; a loaded model refuses base weights other than its own."""
        encoder, self.base_weights_sha256 = backends.load_torch_encoder(self.config, trainable_layers, self.base_weights_sha256)
        return encoder
