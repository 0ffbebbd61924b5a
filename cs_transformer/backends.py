"""The sentence encoder behind one `encode`: the quantized ONNX graph, or the torch encoder.

Which one serves: the ONNX graph on CPU unless told otherwise (`inference_backend: torch`, or
`device: cuda` with `auto`). Training always has the torch encoder; when the ONNX graph will
serve, the head learns from the graph's vectors. `encode` batches texts of similar length and
gives numpy arrays, so the scoring in cs_transformer.head is the same for both.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Protocol, Sequence, Text, Tuple

import numpy as np

from cs_transformer.batching import length_buckets
from cs_transformer.errors import CsTransformerError
from cs_transformer.head import normalize
from cs_transformer.model_resolver import resolve_model, weights_digest
from cs_transformer.onnx_backend import OnnxSentenceEncoder, TextTokenizer

if TYPE_CHECKING:  # the torch side, imported where it is used
    from cs_transformer.encoder import SentenceEncoder

# (head vectors, prototype vectors), float32 [texts, dimension].
Vectors = Tuple[np.ndarray, np.ndarray]


class SentenceBackend(Protocol):
    def encode(self, texts: Sequence[Text]) -> Vectors: ...


class TorchBackend:
    """A `SentenceEncoder` with the ONNX backend's contract (numpy out)."""

    def __init__(self, encoder: SentenceEncoder) -> None:
        self.encoder = encoder

    def encode(self, texts: Sequence[Text]) -> Vectors:
        tuned, frozen = self.encoder.encode(texts)
        return tuned.numpy(), frozen.numpy()


def encode(backend: SentenceBackend, texts: Sequence[Text], batch_size: int) -> Vectors:
    """Head vectors and normalised prototype vectors (float32 numpy), in input order."""
    order: List[int] = []
    tuned_parts, frozen_parts = [], []
    for batch in length_buckets(texts, batch_size):
        tuned, frozen = backend.encode([texts[i] for i in batch])
        order += batch
        tuned_parts.append(tuned)
        frozen_parts.append(normalize(frozen))
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[np.asarray(order, dtype=np.int64)] = np.arange(len(order))
    return np.concatenate(tuned_parts)[inverse], np.concatenate(frozen_parts)[inverse]


def serves_onnx(config: Dict[Text, Any], graph_saved: bool) -> bool:
    """Whether the ONNX graph serves (see the module docstring); a --finetune encodes its new
    examples with the backend that serves."""
    backend = config["inference_backend"]
    if backend == "torch" or (backend == "auto" and config["device"].startswith("cuda")):
        return False
    if not graph_saved:
        if backend == "onnx":
            raise CsTransformerError(
                "inference_backend: onnx is set, but this model was trained without its ONNX export. "
                "Retrain with `rasa train --force`."
            )
        return False
    return True


def onnx_encoder(config: Dict[Text, Any], graph: bytes, tokenizer_json: Text, pad_token_id: int) -> OnnxSentenceEncoder:
    tokenizer = TextTokenizer(tokenizer_json, config["text_prefix"], config["max_length"], pad_token_id)
    return OnnxSentenceEncoder(graph, tokenizer)


def load_torch_encoder(
    config: Dict[Text, Any], trainable_layers: int, trained_on: Optional[Text]
) -> Tuple[SentenceEncoder, Text]:
    """(the base model from this machine, its weights' sha256); a trained model refuses base
    weights other than those it was `trained_on`."""
    from cs_transformer.encoder import SentenceEncoder

    directory = resolve_model(config["model_name"])
    digest = weights_digest(directory)
    if trained_on is not None and digest != trained_on:
        raise CsTransformerError(
            f"This model's TransformerClassifier was trained on base weights with sha256 "
            f"{trained_on}, but model_name '{config['model_name']}' resolves to {directory} "
            f"(sha256 {digest}): its head would score vectors of another model. Put the same base weights "
            "on this machine, serve with the ONNX graph in the model (`inference_backend: auto` or `onnx`), "
            "or retrain with `rasa train --force`."
        )
    encoder = SentenceEncoder.from_directory(
        directory, trainable_layers, config["text_prefix"], config["max_length"], config["pooling_layers"],
    )
    return encoder, digest


def encoder_identity(
    config: Dict[Text, Any], onnx: Optional[Tuple[bytes, Text]], base_weights_sha256: Optional[Text],
    tuned_layers: Dict[Text, np.ndarray],
) -> Text:
    """What decides a text's vectors besides the text: the serving ONNX graph and tokenizer
    (`onnx`), or the torch encoder's base weights and fine-tuned layers."""
    digest = hashlib.sha256(f"max_length={config['max_length']} pooling={config['pooling_layers']}".encode())
    if onnx is not None:
        graph, tokenizer_json = onnx
        digest.update(b"onnx")
        digest.update(graph)
        digest.update(tokenizer_json.encode())
    else:
        digest.update(f"torch {base_weights_sha256}".encode())
        for name, tensor in sorted(tuned_layers.items()):
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(tensor).tobytes())
    return digest.hexdigest()
