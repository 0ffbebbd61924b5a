"""The TransformerClassifier's config: its defaults, what each key accepts, and the training
settings they make. Defaults are grouped as DIET's are (model, architecture, training,
inference and hardware); `CONFIG_SCHEMA` is checked with cs_transformer.config_validation, which
reports every bad key at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Text

from cs_transformer.config_validation import Option, non_negative, one_of, positive, probability
from cs_transformer.model_resolver import DEFAULT_MODEL

if TYPE_CHECKING:  # torch is imported only to train
    from cs_transformer.training import TrainingSettings

BACKENDS = ("auto", "torch", "onnx")

DEFAULT_CONFIG: Dict[Text, Any] = {
    # model
    "model_name": DEFAULT_MODEL,
    "text_prefix": "query: ",
    "max_length": 128,
    # Entities read as their type, not their value (see cs_transformer.placeholders).
    "entity_placeholders": [],
    # architecture
    # auto: fine-tune the top AUTO_TRAINABLE_LAYERS when the examples cover every
    # language of the LanguageDetector, else keep the encoder frozen (see cs_transformer.language_coverage).
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
    "validation_split": None,  # see validation_split below
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

CONFIG_SCHEMA: Dict[Text, Option] = {
    # model
    "model_name": Option(str, "a HuggingFace hub id already in the local cache, a local directory, or multilingual-e5-small"),
    "text_prefix": Option(str, "a string put before every text (e5 models expect 'query: ')"),
    "max_length": Option(int, "a positive number of tokens (at most the model's 512)", positive),
    "entity_placeholders": Option(
        list, "a list of regex names from the training data whose matches the classifier reads as [name], "
        "e.g. [otp_code, order_number]",
        lambda v: all(isinstance(name, str) and name for name in v),
    ),
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


def validation_split(config: Dict[Text, Any], trainable_layers: int) -> float:
    """Early stopping guards fine-tuned encoder layers. Over a frozen encoder only a linear
    head learns, on a decaying learning rate: a held-back tenth would cost more than it
    guards (on the held-out set, +1 point with all languages and +3 points across
    languages when every example trains the head)."""
    configured = config["validation_split"]
    if configured is not None:
        return configured
    return 0.1 if trainable_layers > 0 else 0.0


def training_settings(config: Dict[Text, Any], trainable_layers: int, finetuning: bool) -> TrainingSettings:
    """The settings of one training. A `--finetune` trains only the head (the encoder stays as it
    serves), so it runs the head's `epochs` times `finetuning_epoch_fraction`."""
    from cs_transformer.training import TrainingSettings

    epochs = config["encoder_epochs"] if trainable_layers > 0 else config["epochs"]
    if finetuning:
        epochs = max(1, round(config["epochs"] * config["finetuning_epoch_fraction"]))
    return TrainingSettings(
        epochs=epochs,
        batch_size=config["batch_size"],
        learning_rate=config["learning_rate"],
        head_learning_rate=config["head_learning_rate"],
        weight_decay=config["weight_decay"],
        warmup_ratio=config["warmup_ratio"],
        label_smoothing=config["label_smoothing"],
        validation_split=validation_split(config, trainable_layers),
        early_stopping_patience=config["early_stopping_patience"],
        random_seed=config["random_seed"],
    )
