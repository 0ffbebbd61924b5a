"""Serving side of the CPU fast path: the quantized encoder graph on ONNX Runtime.

Everything a replica needs is in the model archive: the graph (`cs_transformer.onnx_export`
writes it at training time) and the tokenizer's own `tokenizer.json`. Inference is
onnxruntime + numpy + tokenizers (the Rust library behind transformers' fast tokenizers),
so a serving install has neither torch, CUDA libraries, transformers nor the base model.
"""

from __future__ import annotations

from typing import List, Sequence, Text, Tuple

import numpy as np
import onnxruntime
from tokenizers import Tokenizer

from cs_transformer.errors import CsTransformerError

ONNX_FILE = "encoder.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
INPUTS = ("input_ids", "attention_mask")
OUTPUTS = ("tuned", "frozen")


class TextTokenizer:
    """Token ids of one text, as the model's fast tokenizer gives them in transformers.

    Built from the `tokenizer.json` of that same tokenizer; truncation as transformers'
    `truncation=True, max_length=...` (longest first, from the right, special tokens counted)."""

    def __init__(self, tokenizer_json: Text, text_prefix: Text, max_length: int, pad_token_id: int) -> None:
        self._tokenizer = Tokenizer.from_str(tokenizer_json)
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length)
        self.text_prefix = text_prefix
        self.pad_token_id = pad_token_id

    def encode(self, text: Text) -> List[int]:
        ids = self._tokenizer.encode(self.text_prefix + text).ids
        # A tokenizer that adds no special tokens gives nothing for "": one pad token stands for
        # "nothing", as in `cs_transformer.encoder.tokenize` (a transformer cannot run on zero positions).
        return ids or [self.pad_token_id]


class OnnxSentenceEncoder:
    """Same outputs as `SentenceEncoder.encode`, on ONNX Runtime's CPU provider, as numpy arrays."""

    def __init__(self, graph: bytes, tokenizer: TextTokenizer) -> None:
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # ONNX Runtime's worker threads otherwise spin on the cores for a while after every run,
        # starving what the serving process does between messages (dialogue policies, the
        # head's numpy, the action server): `make bench-load` measures the difference.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own untyped errors for bad graphs
            raise CsTransformerError(
                f"The classifier's ONNX graph cannot be loaded ({error}). Retrain with `rasa train --force`."
            ) from error
        self.tokenizer = tokenizer

    def encode(self, texts: Sequence[Text]) -> Tuple[np.ndarray, np.ndarray]:
        """(head vectors, prototype vectors), float32 [len(texts), dimension].

        One text per run: a one-message parse is what the server does, and no padding
        enters the graph, so a text gets the same vector in training, in `rasa test` and
        when served."""
        tuned, frozen = zip(*(self._encode_one(text) for text in texts))
        return np.concatenate(tuned), np.concatenate(frozen)

    def _encode_one(self, text: Text) -> Tuple[np.ndarray, np.ndarray]:
        ids = np.asarray([self.tokenizer.encode(text)], dtype=np.int64)
        tuned, frozen = self.session.run(list(OUTPUTS), {"input_ids": ids, "attention_mask": np.ones_like(ids)})
        return tuned.astype(np.float32), frozen.astype(np.float32)
