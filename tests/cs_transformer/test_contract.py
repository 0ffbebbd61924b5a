"""Contract every cs_transformer component keeps (in the style of rasa-nlu-examples)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from cs_transformer import LanguageDetector, TransformerClassifier, UnicodeRegexEntityExtractor
from tests.cs_transformer.conftest import EDGE_CASE_TEXTS, training_data

RANKING_LENGTH = 3
# The contract holds for every inference backend: eager torch and the quantized ONNX graph.
BACKENDS = ["torch", "onnx"]


def tiny_classifier_config(model_dir: Path, backend: str = "torch") -> Dict:
    return {
        "model_name": str(model_dir),
        "text_prefix": "",
        "trainable_layers": 2,
        "epochs": 20,
        "encoder_epochs": 20,
        "retrieval_weight": 0.25,
        "batch_size": 8,
        "learning_rate": 5e-3,
        "head_learning_rate": 1e-2,
        "validation_split": 0.0,
        "ranking_length": RANKING_LENGTH,
        "inference_backend": backend,
    }


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def trained_storage(tmp_path_factory: pytest.TempPathFactory) -> LocalModelStorage:
    return LocalModelStorage(tmp_path_factory.mktemp("trained"))


@pytest.fixture(scope="module")
def trained_resource(backend: str) -> Resource:
    return Resource(f"classifier_{backend}")


@pytest.fixture(scope="module")
def trained_classifier(
    tiny_model_dir: Path, trained_storage: LocalModelStorage, trained_resource: Resource, backend: str
) -> TransformerClassifier:
    classifier = TransformerClassifier.create(
        tiny_classifier_config(tiny_model_dir, backend), trained_storage, trained_resource, ExecutionContext(GraphSchema({}), "test")
    )
    classifier.train(training_data())
    return classifier


def parse(component, texts: List[str]) -> List[Message]:
    return component.process([Message(data={"text": t}) for t in texts])


@pytest.mark.slow  # trains a model: `make test`, not `make test-fast`
def test_classifier_learns_its_training_data(trained_classifier: TransformerClassifier) -> None:
    messages = parse(trained_classifier, ["where is my order", "cancelar mi pedido", "hola"])
    assert [m.get("intent")["name"] for m in messages] == ["order_status", "cancel_order", "greet"]


@pytest.mark.parametrize("text", EDGE_CASE_TEXTS + ["where is my order", "how much is shipping"])
def test_ranking_is_sorted_bounded_and_confidences_are_probabilities(trained_classifier: TransformerClassifier, text: str) -> None:
    (message,) = parse(trained_classifier, [text])
    ranking = message.get("intent_ranking")
    confidences = [r["confidence"] for r in ranking]
    assert 0 < len(ranking) <= RANKING_LENGTH
    assert confidences == sorted(confidences, reverse=True)
    assert all(0.0 <= c <= 1.0 for c in confidences)
    assert message.get("intent") == ranking[0]
    selection = message.get("response_selector")["faq"]
    answer_confidences = [r["confidence"] for r in selection["ranking"]]
    assert answer_confidences == sorted(answer_confidences, reverse=True)
    assert all(0.0 <= c <= 1.0 + 1e-6 for c in answer_confidences)


def test_full_ranking_sums_to_one(tiny_model_dir: Path, model_storage, resource, execution_context) -> None:
    config = {**tiny_classifier_config(tiny_model_dir), "ranking_length": 0, "epochs": 2}
    classifier = TransformerClassifier.create(config, model_storage, resource, execution_context)
    classifier.train(training_data())
    (message,) = parse(classifier, ["hello"])
    assert sum(r["confidence"] for r in message.get("intent_ranking")) == pytest.approx(1.0, abs=1e-5)


def test_response_selector_output_has_rasas_format(trained_classifier: TransformerClassifier) -> None:
    (message,) = parse(trained_classifier, ["how much is shipping"])
    assert message.get("intent")["name"] == "faq"
    selector = message.get("response_selector")
    assert selector["all_retrieval_intents"] == ["faq"]
    response = selector["faq"]["response"]
    assert response["intent_response_key"] == "faq/shipping_cost"
    assert response["utter_action"] == "utter_faq/shipping_cost"
    assert response["responses"] == [{"text": "Shipping costs 4.95."}]
    assert {"intent_response_key", "confidence", "id"} <= set(selector["faq"]["ranking"][0])


def test_persist_then_load_gives_identical_predictions(
    trained_classifier: TransformerClassifier,
    tiny_model_dir: Path,
    trained_storage: LocalModelStorage,
    trained_resource: Resource,
    backend: str,
) -> None:
    texts = EDGE_CASE_TEXTS + ["where is my order", "quiero cancelar", "horario de atencion"]
    before = [m.as_dict(only_output_properties=True) for m in parse(trained_classifier, texts)]
    context = ExecutionContext(GraphSchema({}), "test")
    loaded = TransformerClassifier.load(tiny_classifier_config(tiny_model_dir, backend), trained_storage, trained_resource, context)
    assert (loaded.onnx_encoder is not None) == (backend == "onnx")
    after = [m.as_dict(only_output_properties=True) for m in parse(loaded, texts)]
    assert after == before


def test_weights_are_safetensors_plus_the_onnx_graph_when_asked(
    trained_classifier: TransformerClassifier, trained_storage: LocalModelStorage, trained_resource: Resource, backend: str
) -> None:
    with trained_storage.read_from(trained_resource) as directory:
        files = sorted(p.name for p in Path(directory).iterdir())
    onnx = ["encoder.int8.onnx", "tokenizer.json"] if backend == "onnx" else []
    # vectors.safetensors: the training examples' sentence vectors, for an incremental --finetune.
    assert files == sorted(["meta.json", "weights.safetensors", "vectors.safetensors"] + onnx)


def test_untrained_classifier_answers_like_diet(tiny_model_dir: Path, model_storage, resource, execution_context) -> None:
    """Trained on fewer than two intents: no intent, confidence 0, empty ranking (what DIET sets), so
    Rasa's FallbackClassifier reads it without a KeyError and falls back."""
    from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier

    config = tiny_classifier_config(tiny_model_dir)
    trainer = TransformerClassifier.create(config, model_storage, resource, execution_context)
    trainer.train(TrainingData([Message(data={"text": "hi", "intent": "greet"})]))
    classifier = TransformerClassifier.load(config, model_storage, resource, execution_context)
    messages = parse(classifier, ["hello"])
    assert messages[0].get("intent") == {"name": None, "confidence": 0.0}
    assert messages[0].get("intent_ranking") == []
    fallback = FallbackClassifier.create({**FallbackClassifier.get_default_config()}, model_storage, resource, execution_context)
    (message,) = fallback.process(messages)
    assert message.get("intent")["name"] == "nlu_fallback"


def test_batch_and_single_predictions_agree(trained_classifier: TransformerClassifier) -> None:
    texts = ["hello there", "donde esta mi pedido", "x" * 5000, "👍"]
    batched = [m.get("intent_ranking") for m in parse(trained_classifier, texts)]
    single = [parse(trained_classifier, [t])[0].get("intent_ranking") for t in texts]
    for a, b in zip(batched, single):
        assert [r["name"] for r in a] == [r["name"] for r in b]
        assert [r["confidence"] for r in a] == pytest.approx([r["confidence"] for r in b], abs=1e-4)


# (language, reliable) the detector must give each text; None where an edge case allows any bot
# language (5,000 "x" are letters: a backend may call them something).
NOTHING_TO_TELL = ("es", False)  # the default, which here is not the first of `languages`
EXPECTED_LANGUAGE = {
    **{text: NOTHING_TO_TELL for text in EDGE_CASE_TEXTS},
    "x" * 5000: None,
    "我想 cancel my 订单 please مرحبا": ("zh", True),  # Han outweighs the rest
    "¿Dónde está mi pedido?": ("es", True),
    "Where is my order, I ordered it two weeks ago": ("en", True),
    "我的订单在哪里": ("zh", True),
}


@pytest.mark.parametrize("text", list(EXPECTED_LANGUAGE))
def test_language_is_always_set(text: str) -> None:
    """Always a bot language: the text's where it can tell, else the default language, unreliable."""
    detector = LanguageDetector.create({"languages": ["en", "es", "zh"], "default_language": "es"}, None, None, None)
    (message,) = parse(detector, [text])
    language = message.get("language")
    assert language["name"] in {"en", "es", "zh"}
    if EXPECTED_LANGUAGE[text] is not None:
        assert (language["name"], language["reliable"]) == EXPECTED_LANGUAGE[text]
    assert 0.0 <= language["confidence"] <= 1.0
    entities = [e for e in message.get("entities", []) if e["entity"] == "language"]
    assert [e["value"] for e in entities] == ([language["name"]] if language["reliable"] else [])


def test_every_bad_language_detector_key_is_reported_at_once() -> None:
    """Unknown language codes (checked against CLDR's list) and out-of-range numbers, in one error."""
    with pytest.raises(InvalidConfigException) as error:
        LanguageDetector.create({"languages": ["en", "xx"], "min_confidence": 2, "min_letters": 0}, None, None, None)
    message = str(error.value)
    assert message.count("\n  - ") == 3
    assert "'languages: ['en', 'xx']'" in message and "'min_confidence: 2'" in message and "'min_letters: 0'" in message


@pytest.mark.slow  # trains a model: `make test`, not `make test-fast`
def test_the_demo_pipeline_checks_every_component_at_train_without_a_false_warning(repo: Path) -> None:
    """All three components are in Rasa's training graph (so their keys are checked at `rasa train`),
    and Rasa's validator does not claim that the response examples lack a response selector."""
    script = """
import json, warnings
from rasa.engine.recipes.recipe import Recipe
from rasa.graph_components.validators.default_recipe_validator import DefaultV1RecipeValidator
from rasa.shared.data import TrainingType
from rasa.shared.importers.importer import TrainingDataImporter
importer = TrainingDataImporter.load_from_config("config.yml", "domain.yml", ["data"])
config = importer.get_config()
graph = Recipe.recipe_for_name(config.get("recipe")).graph_config_for_recipe(config, {}, TrainingType.BOTH)
with warnings.catch_warnings(record=True) as caught:
    DefaultV1RecipeValidator(graph.train_schema).validate(importer)
print(json.dumps({
    "responses": len(importer.get_nlu_data().responses),
    "components": sorted({node.uses.__name__ for node in graph.train_schema.nodes.values()}),
    "warnings": [str(w.message) for w in caught],
}))
"""
    environment = {**os.environ, "PYTHONPATH": str(repo), "TF_CPP_MIN_LOG_LEVEL": "3"}
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=repo, env=environment, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["responses"] > 0
    assert {"LanguageDetector", "TransformerClassifier", "FrustrationScorer"} <= set(result["components"])
    assert not [w for w in result["warnings"] if "response selector" in w]


@pytest.mark.parametrize("text", EDGE_CASE_TEXTS + ["Order 10002 please", "طلبي رقم ١٠٠٠٢", "订单１０００２", "a@b.co +44 7700 900123"])
def test_entities_are_spans_of_the_text(text: str, model_storage, resource, execution_context) -> None:
    extractor = UnicodeRegexEntityExtractor.create({}, model_storage, resource, execution_context)
    extractor.train(TrainingData(regex_features=[
        {"name": "order_number", "pattern": r"(?<!\d)\d{5}(?!\d)"},
        {"name": "email", "pattern": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"},
    ]))
    (message,) = parse(extractor, [text])
    for entity in message.get("entities", []):
        assert 0 <= entity["start"] < entity["end"] <= len(text)
        assert entity["value"].isascii() and len(entity["value"]) == entity["end"] - entity["start"]
        assert entity["extractor"] == "UnicodeRegexEntityExtractor"
