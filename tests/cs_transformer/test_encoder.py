"""SentenceEncoder: sentence-transformers folders pooled as the library pools them; layer checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Dense, Normalize, Pooling, Transformer

from cs_transformer.encoder import SentenceEncoder
from cs_transformer.errors import CsTransformerError

TEXTS = ["hello there", "donde esta mi pedido", "cancel my order", "hola"]


@pytest.fixture(scope="module")
def cls_pooling_folder(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sentence-transformers folder around the tiny BERT: CLS pooling, a Dense layer with tanh, Normalize."""
    folder = tmp_path_factory.mktemp("tiny-st")
    torch.manual_seed(1)
    transformer = Transformer(str(tiny_model_dir))
    hidden = transformer.get_embedding_dimension()
    modules = [transformer, Pooling(hidden, pooling_mode="cls"), Dense(hidden, 16), Normalize()]
    SentenceTransformer(modules=modules, device="cpu").save(str(folder))
    return folder


def test_a_sentence_transformers_folder_embeds_as_the_library_does(cls_pooling_folder: Path) -> None:
    modules = json.loads((cls_pooling_folder / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[-1] for m in modules] == ["Transformer", "Pooling", "Dense", "Normalize"]
    encoder = SentenceEncoder.from_directory(cls_pooling_folder, 0, "", 128, pooling_layers=[-1])
    assert encoder.dimension == 16
    tuned, frozen = encoder.encode(TEXTS)
    expected = SentenceTransformer(str(cls_pooling_folder), device="cpu").encode(TEXTS, convert_to_numpy=True)
    np.testing.assert_allclose(tuned.numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(frozen.numpy(), expected, atol=1e-5)


def test_a_plain_huggingface_folder_keeps_mean_pooling(tiny_model_dir: Path) -> None:
    encoder = SentenceEncoder.from_directory(tiny_model_dir, 0, "", 128, pooling_layers=[-1])
    inputs = encoder.tokenize(TEXTS)
    with torch.inference_mode():
        hidden = encoder.model(**inputs).last_hidden_state
    mask = inputs["attention_mask"].unsqueeze(-1).float()
    expected = (hidden * mask).sum(1) / mask.sum(1)
    torch.testing.assert_close(encoder.encode(TEXTS)[0], expected, atol=1e-5, rtol=1e-5)


def test_pooling_layers_below_the_model_name_its_range(tiny_model_dir: Path) -> None:
    """The tiny BERT has 2 layers: -1 and -2 are layers, -3 the embeddings, -4 does not exist."""
    assert SentenceEncoder.from_directory(tiny_model_dir, 0, "", 128, pooling_layers=[-3, -1]).dimension == 64
    with pytest.raises(CsTransformerError, match=r"has 2 layers.*between -1 \(the last layer\) and -3"):
        SentenceEncoder.from_directory(tiny_model_dir, 0, "", 128, pooling_layers=[-20, -1])
