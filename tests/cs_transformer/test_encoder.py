"""SentenceEncoder: pooling (sentence-transformers folders as the library pools them), prefix,
max_length and padding, and trainable layers that freeze what they say."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Dense, Normalize, Pooling, Transformer

from cs_transformer.encoder import SentenceEncoder
from cs_transformer.errors import CsTransformerError
from cs_transformer.training import ClassifierHead, Trainer, TrainingSettings
from tests.cs_transformer.conftest import EXAMPLES

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


def test_the_text_prefix_goes_before_every_text(tiny_model_dir: Path) -> None:
    plain = SentenceEncoder.from_directory(tiny_model_dir, 0, "", 128)
    prefixed = SentenceEncoder.from_directory(tiny_model_dir, 0, "hola ", 128)
    ids = prefixed.tokenize(["where is my order"])["input_ids"]
    assert ids.tolist() == plain.tokenize(["hola where is my order"])["input_ids"].tolist()
    assert ids.tolist() != plain.tokenize(["where is my order"])["input_ids"].tolist()
    torch.testing.assert_close(prefixed.encode(["where is my order"])[0], plain.encode(["hola where is my order"])[0])


def test_max_length_truncates_and_padding_moves_no_vector(tiny_model_dir: Path) -> None:
    long_text = "where is my order please now"
    short = SentenceEncoder.from_directory(tiny_model_dir, 0, "", 4)
    full = SentenceEncoder.from_directory(tiny_model_dir, 0, "", 128).tokenize([long_text])["input_ids"][0]
    inputs = short.tokenize([long_text, "hola"])
    assert len(full) == 6 and inputs["input_ids"].shape == (2, 4)
    assert inputs["input_ids"][0].tolist() == full[:4].tolist()  # the first tokens are kept
    assert inputs["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 0, 0, 0]]
    assert inputs["input_ids"][1, 1:].tolist() == [short.tokenizer.pad_token_id] * 3
    # a padded text gets the vector it gets alone
    torch.testing.assert_close(short.encode([long_text, "hola"])[0][1:], short.encode(["hola"])[0], atol=1e-5, rtol=1e-5)


def test_pooling_layers_are_pooled_side_by_side(tiny_model_dir: Path) -> None:
    """[-1, -3] on the 2-layer BERT: the last layer's mean, then the embeddings' mean."""
    encoder = SentenceEncoder.from_directory(tiny_model_dir, 0, "", 128, pooling_layers=[-1, -3])
    inputs = encoder.tokenize(TEXTS)
    with torch.inference_mode():
        hidden = encoder.model(**inputs, output_hidden_states=True).hidden_states
    mask = inputs["attention_mask"].unsqueeze(-1).float()
    expected = torch.cat([(hidden[-1] * mask).sum(1) / mask.sum(1), (hidden[0] * mask).sum(1) / mask.sum(1)], dim=-1)
    tuned, frozen = encoder.encode(TEXTS)
    assert encoder.dimension == tuned.shape[1] == 64
    torch.testing.assert_close(tuned, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(frozen, tuned)  # nothing trainable: one space for the head and the prototypes


@pytest.mark.parametrize("trainable_layers, trained", [(0, []), (1, [1]), (2, [0, 1]), (5, [0, 1])])
def test_trainable_layers_unfreeze_the_top_layers_only(tiny_model_dir: Path, trainable_layers: int, trained: List[int]) -> None:
    encoder = SentenceEncoder.from_directory(tiny_model_dir, trainable_layers, "", 128)
    names = [name for name, _ in encoder.model.named_parameters()]
    expected = {name for name in names if any(name.startswith(f"encoder.layer.{layer}.") for layer in trained)}
    assert {name for name, p in encoder.model.named_parameters() if p.requires_grad} == expected
    assert set(encoder.trainable_state()) == expected  # what is saved: only what training can change
    assert (encoder.trainable_layers, encoder.frozen_depth) == (len(trained), 2 - len(trained))


def test_training_moves_the_trainable_layers_and_never_the_prototype_space(tiny_model_dir: Path) -> None:
    encoder = SentenceEncoder.from_directory(tiny_model_dir, 1, "", 32)
    before = {name: p.detach().clone() for name, p in encoder.model.named_parameters()}
    tuned_before, prototypes_before = encoder.encode(TEXTS)
    texts = [text for text, _ in EXAMPLES]
    intents = sorted({intent for _, intent in EXAMPLES})
    settings = TrainingSettings(epochs=2, batch_size=8, learning_rate=1e-2, head_learning_rate=1e-2, weight_decay=0.01,
                                warmup_ratio=0.0, label_smoothing=0.0, validation_split=0.0,
                                early_stopping_patience=1, random_seed=0)
    head = ClassifierHead(encoder.dimension, len(intents))
    Trainer(encoder, head, settings, torch.device("cpu"), None).fit(texts, [intents.index(i) for _, i in EXAMPLES])
    encoder.eval()
    changed = {name for name, p in encoder.model.named_parameters() if not torch.equal(p, before[name])}
    assert changed and all(name.startswith("encoder.layer.1.") for name in changed)
    tuned_after, prototypes_after = encoder.encode(TEXTS)
    torch.testing.assert_close(prototypes_after, prototypes_before)
    assert not torch.allclose(tuned_after, tuned_before, atol=1e-4)


def test_saved_weights_must_fit_the_trainable_layers(tiny_model_dir: Path) -> None:
    one_layer = SentenceEncoder.from_directory(tiny_model_dir, 1, "", 128)
    two_layers = SentenceEncoder.from_directory(tiny_model_dir, 2, "", 128)
    with pytest.raises(CsTransformerError, match="does not fit its base model"):
        one_layer.load_trainable_state(two_layers.trainable_state())
