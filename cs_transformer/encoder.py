"""A HuggingFace encoder as a sentence embedder that is partly frozen.

The lower layers (and the embeddings) stay as pre-trained: they hold the cross-lingual
alignment that lets a model trained on English understand Spanish or Chinese. Only the top
`trainable_layers` are fine-tuned. Each forward pass returns two pooled sentence
vectors: the fine-tuned top layer, and the output of the last frozen layer, whose space
never moves, for nearest-prototype retrieval.

Plain HuggingFace models are mean-pooled. A sentence-transformers folder (`modules.json`) is
pooled as the library pools it: its own Pooling mode, Dense and Normalize modules, run by
sentence-transformers itself on each pooled layer.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from pathlib import Path
from typing import ContextManager, Dict, Optional, Sequence, Text, Tuple

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from cs_transformer.errors import CsTransformerError

logger = logging.getLogger(__name__)

MODELS_WITH_POOLER = {"bert", "roberta", "xlm-roberta"}
# Marks a sentence-transformers folder: its module list (Transformer, Pooling, Dense, Normalize).
SENTENCE_TRANSFORMERS_MODULES = "modules.json"


def resolve_device(requested: Text) -> torch.device:
    """`auto` picks CUDA when present; asking for CUDA without one is an error with a fix."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise CsTransformerError(
            f"device: {requested} was requested but torch sees no CUDA GPU. "
            "Set `device: auto` (or `cpu`) in config.yml, or install a CUDA build of torch."
        )
    return torch.device(requested)


def resolve_precision(requested: Text, device: torch.device) -> Optional[torch.dtype]:
    """The autocast dtype: None (fp32) on CPU; bf16 where the GPU has it, else fp16."""
    if device.type != "cuda" or requested == "fp32":
        return None
    if requested == "fp16":
        return torch.float16
    if requested == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-6)


def encoder_layers(model: PreTrainedModel) -> nn.ModuleList:
    """The stack of transformer blocks (BERT, XLM-R, DistilBERT and most encoders)."""
    for path in ("encoder.layer", "transformer.layer", "layers"):
        module: object = model
        for attribute in path.split("."):
            module = getattr(module, attribute, None)
        if isinstance(module, nn.ModuleList):
            return module
    raise CsTransformerError(
        f"Cannot find the transformer layers of {type(model).__name__}; use a BERT-like encoder "
        "(BERT, XLM-RoBERTa, multilingual-e5, LaBSE, DistilBERT)."
    )


class SentenceEncoder(nn.Module):
    """Tokenizer + encoder + mean pooling, with the bottom of the stack frozen."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        trainable_layers: int,
        text_prefix: Text = "",
        max_length: int = 128,
        pooling_layers: Sequence[int] = (-1,),
        sentence_modules: Optional[nn.ModuleList] = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.text_prefix = text_prefix
        self.max_length = max_length
        # Autocast dtype for `encode` (None = float32); the classifier sets it per device.
        self.autocast_dtype: Optional[torch.dtype] = None
        # A sentence-transformers model's modules after its transformer (None: mean pooling).
        self.sentence_modules = sentence_modules
        layers = encoder_layers(model)
        check_pooling_layers(pooling_layers, len(layers))
        self.trainable_layers = min(trainable_layers, len(layers))
        self.frozen_depth = len(layers) - self.trainable_layers
        # Hidden states counted from the top (-1 = the last layer); the sentence vector is their
        # pooled outputs side by side.
        self.pooling_layers = tuple(pooling_layers)
        for parameter in self.parameters():
            parameter.requires_grad = False
        for layer in list(layers)[self.frozen_depth :]:
            for parameter in layer.parameters():
                parameter.requires_grad = True

    @classmethod
    def from_directory(
        cls, directory: Path, trainable_layers: int, text_prefix: Text, max_length: int, pooling_layers: Sequence[int] = (-1,)
    ) -> SentenceEncoder:
        tokenizer = load_tokenizer(directory)
        if (Path(directory) / SENTENCE_TRANSFORMERS_MODULES).is_file():
            model, sentence_modules = sentence_transformers_parts(directory)
            return cls(model, tokenizer, trainable_layers, text_prefix, max_length, pooling_layers, sentence_modules)
        config = AutoConfig.from_pretrained(str(directory), local_files_only=True)
        # Mean pooling replaces the pooler: skip building (and warning about) an untrained one.
        extra = {"add_pooling_layer": False} if config.model_type in MODELS_WITH_POOLER else {}
        model = AutoModel.from_pretrained(str(directory), config=config, local_files_only=True, **extra)
        return cls(model, tokenizer, trainable_layers, text_prefix, max_length, pooling_layers)

    @property
    def dimension(self) -> int:
        """Width of the sentence vector the head reads."""
        return self.layer_dimension * len(self.pooling_layers)

    @property
    def layer_dimension(self) -> int:
        """Width of one pooled layer (a sentence-transformers Dense module may change it)."""
        if self.sentence_modules is None:
            return int(self.model.config.hidden_size)
        with torch.inference_mode():
            probe = torch.zeros(1, 1, int(self.model.config.hidden_size), device=next(self.model.parameters()).device)
            return int(self.pool(probe, torch.ones(1, 1, dtype=torch.long, device=probe.device)).shape[-1])

    def pool(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """One layer's token vectors → a sentence vector: mean pooling, or the folder's own modules."""
        if self.sentence_modules is None:
            return mean_pool(hidden, attention_mask)
        features = {"token_embeddings": hidden, "attention_mask": attention_mask}
        for module in self.sentence_modules:
            features = module(features)
        return features["sentence_embedding"]

    def tokenizer_json(self) -> Text:
        """The tokenizer as `tokenizer.json`, stored in the model so serving needs no transformers."""
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise CsTransformerError(
                f"The tokenizer of this model ({type(self.tokenizer).__name__}) has no fast version "
                "(tokenizer.json), which the ONNX backend serves with. Set `inference_backend: torch`, or "
                "use a model folder that has a tokenizer.json."
            )
        return backend.to_str()

    def trainable_state(self) -> Dict[Text, torch.Tensor]:
        """Only what fine-tuning changed: the rest is the base model, stored once on disk."""
        return {name: p.detach().cpu().contiguous() for name, p in self.model.named_parameters() if p.requires_grad}

    def load_trainable_state(self, state: Dict[Text, torch.Tensor]) -> None:
        expected = {name for name, p in self.model.named_parameters() if p.requires_grad}
        if set(state) != expected:
            raise CsTransformerError(
                "The saved classifier does not fit its base model (different architecture or "
                "trainable_layers). Retrain with `rasa train --force`."
            )
        self.model.load_state_dict(state, strict=False)

    def tokenize(self, texts: Sequence[Text]) -> Dict[Text, torch.Tensor]:
        return tokenize(self.tokenizer, texts, self.text_prefix, self.max_length)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(sentence vectors for the head, sentence vectors for the prototypes).

        With a frozen encoder both are the pooled `pooling_layers`; when layers are fine-tuned,
        the prototypes stay in the last frozen layer, whose space training does not move."""
        output = self.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        hidden_states = output.hidden_states
        tuned = torch.cat([self.pool(hidden_states[layer], attention_mask) for layer in self.pooling_layers], dim=-1)
        if self.trainable_layers == 0:
            return tuned, tuned
        return tuned, self.pool(hidden_states[self.frozen_depth], attention_mask)

    def depth(self) -> int:
        return self.frozen_depth + self.trainable_layers

    def hidden_index(self, layer: int) -> int:
        """A pooling layer counted from the top as an index into the hidden states (0 = embeddings)."""
        return self.depth() + 1 + layer

    def tuned_layers(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> Dict[int, torch.Tensor]:
        """The fine-tuned layers run over the last frozen layer's token vectors `hidden`: the hidden
        states from `frozen_depth` up, by index. Training runs the frozen layers once per sentence
        and this every step (cs_transformer.training.FrozenPrefix checks it against `forward`)."""
        from transformers.masking_utils import create_bidirectional_mask

        mask = create_bidirectional_mask(config=self.model.config, inputs_embeds=hidden, attention_mask=attention_mask)
        states = {self.frozen_depth: hidden}
        for index, layer in enumerate(encoder_layers(self.model)[self.frozen_depth :], start=self.frozen_depth + 1):
            hidden = layer(hidden, mask)
            hidden = hidden[0] if isinstance(hidden, tuple) else hidden
            states[index] = hidden
        return states

    @torch.inference_mode()
    def encode(self, texts: Sequence[Text]) -> Tuple[torch.Tensor, torch.Tensor]:
        """`forward` on raw texts, for inference: float32 CPU tensors (the classifier's contract)."""
        device = next(self.model.parameters()).device
        inputs = self.tokenize(texts)
        with autocast(device, self.autocast_dtype):
            tuned, frozen = self(inputs["input_ids"].to(device), inputs["attention_mask"].to(device))
        return tuned.float().cpu(), frozen.float().cpu()


def check_pooling_layers(pooling_layers: Sequence[int], depth: int) -> None:
    """Each layer counted from the top must exist: -1 is the last layer, -(depth + 1) the embeddings."""
    deepest = -(depth + 1)
    out_of_range = [layer for layer in pooling_layers if layer < deepest]
    if out_of_range:
        raise CsTransformerError(
            f"pooling_layers {list(pooling_layers)} reaches below this model: it has {depth} layers, so "
            f"the values must be between -1 (the last layer) and {deepest} (the embeddings). "
            f"Fix `pooling_layers` under `- name: cs_transformer.TransformerClassifier` in config.yml."
        )


def sentence_transformers_parts(directory: Path) -> Tuple[PreTrainedModel, nn.ModuleList]:
    """The transformer of a sentence-transformers folder and the modules that follow it.

    Loaded by sentence-transformers itself, so Pooling, Dense and Normalize do exactly what
    `SentenceTransformer(folder).encode` does (imported here: plain HF models never need it)."""
    from sentence_transformers import SentenceTransformer

    library_model = SentenceTransformer(str(directory), device="cpu", local_files_only=True)
    transformer, *after = list(library_model)
    model = getattr(transformer, "auto_model", None)
    if not isinstance(model, PreTrainedModel):
        raise CsTransformerError(
            f"{directory}: the first module of this sentence-transformers folder is "
            f"{type(transformer).__name__}, not a HuggingFace transformer; use a folder whose modules.json "
            "starts with sentence_transformers' Transformer module."
        )
    return model, nn.ModuleList(after)


def load_tokenizer(directory: Path) -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(str(directory), local_files_only=True)


def tokenize(tokenizer: PreTrainedTokenizerBase, texts: Sequence[Text], text_prefix: Text, max_length: int) -> Dict[Text, torch.Tensor]:
    """Token ids and attention mask, the same for the torch and the ONNX backend."""
    encoded = tokenizer(
        [text_prefix + text for text in texts],
        padding=True,
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
    )
    if encoded["input_ids"].shape[1] == 0:
        # Empty texts and a tokenizer that adds no special tokens: one pad token stands
        # for "nothing", since a transformer cannot run on zero positions.
        pad = tokenizer.pad_token_id or 0
        return {"input_ids": torch.full((len(texts), 1), pad), "attention_mask": torch.ones(len(texts), 1, dtype=torch.long)}
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}


def autocast(device: torch.device, dtype: Optional[torch.dtype]) -> ContextManager:
    return torch.autocast(device_type=device.type, dtype=dtype) if dtype is not None else nullcontext()
