"""Training side of the CPU fast path: the trained encoder exported to a quantized ONNX graph.

At training time the sentence encoder (fine-tuned layers included) is exported once to
ONNX in float32. Its weight matrices are then quantized to int8 with one scale per
output channel, and its activations are quantized to uint8 at run time (ONNX Runtime's
dynamic quantization: integer GEMMs from MLAS). The weights use 7 of their 8 bits
(`reduce_range`): on CPUs without VNNI (AVX2 only, like most small cloud servers), the
u8 x s8 instruction adds products in pairs into a saturating int16, and full-range
weights overflow it. Per-tensor int8 weights had lost points across languages; a scale
per channel won back part of it, 7-bit weights the rest. The embedding table, half the
model, is stored in 4-bit blocks of 32 values with their own scales.

On the held-out set this graph is within half a point of float32, and on 2 AVX2 cores it
runs a third faster than weights in 4-bit blocks (`MatMulNBits`, this backend's previous
format). `make bench-nlu` measures both backends. Serving it needs only
`cs_transformer.onnx_backend` (onnxruntime, numpy, tokenizers).
"""

from __future__ import annotations


import logging
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import onnx
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer

from cs_transformer.encoder import SentenceEncoder, tokenize
from cs_transformer.onnx_backend import INPUTS, ONNX_FILE, OUTPUTS

logger = logging.getLogger(__name__)

OPSET = 17
# Weight matrices: int8 per output channel, in 7 bits (see the module docstring).
MATMUL_QUANTIZATION = dict(
    weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"], per_channel=True, reduce_range=True
)
# The embedding table: 4 bits in blocks of 32 along the hidden dimension.
EMBEDDING_QUANTIZATION = dict(
    bits=4, block_size=32, is_symmetric=True, op_types_to_quantize=("Gather",), quant_axes=(("Gather", 1),)
)


def export_quantized(encoder: SentenceEncoder) -> bytes:
    """`encoder` as a quantized ONNX graph (exported in float32 first)."""
    started = time.perf_counter()
    logger.info("cs_transformer.onnx.export started: tracing the encoder to ONNX (about 10 s for e5-small)")
    device = next(encoder.parameters()).device
    encoder.to("cpu").eval()
    example = tokenize(encoder.tokenizer, ["a short example", "and a second, slightly longer one"], encoder.text_prefix, encoder.max_length)
    with tempfile.TemporaryDirectory(prefix="cs-transformer-onnx-") as work:
        float_graph = Path(work) / "encoder.onnx"
        with warnings.catch_warnings(), torch.inference_mode():
            # The tracer warns about every Python-level shape check in the HF model.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                encoder,
                (example["input_ids"], example["attention_mask"]),
                str(float_graph),
                dynamo=False,
                input_names=list(INPUTS),
                output_names=list(OUTPUTS),
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "tokens"},
                    "attention_mask": {0: "batch", 1: "tokens"},
                    "tuned": {0: "batch"},
                    "frozen": {0: "batch"},
                },
                opset_version=OPSET,
            )
        logger.info("cs_transformer.onnx.quantize started: int8 weights, 4-bit embeddings (about 15 s for e5-small)")
        int8_graph = Path(work) / ONNX_FILE
        # The quantizers log a line per tensor on the root logger; the 4-bit one divides by
        # the zero scale of all-zero blocks (unused vocabulary rows) before masking them out.
        with root_logger_at(logging.ERROR), np.errstate(divide="ignore", invalid="ignore"):
            quantize_dynamic(float_graph, int8_graph, **MATMUL_QUANTIZATION)
            quantizer = MatMulNBitsQuantizer(
                onnx.load(str(int8_graph)), algo_config=DefaultWeightOnlyQuantConfig(**EMBEDDING_QUANTIZATION)
            )
            quantizer.process()
        graph = quantizer.model.model.SerializeToString()
    encoder.to(device)
    logger.info("cs_transformer.onnx.export done seconds=%.1f size_mb=%.1f", time.perf_counter() - started, len(graph) / 1e6)
    return graph


@contextmanager
def root_logger_at(level: int) -> Iterator[None]:
    root = logging.getLogger()
    previous = root.level
    root.setLevel(max(previous, level))
    try:
        yield
    finally:
        root.setLevel(previous)
