"""Fixtures for the NLU components: a tiny transformer the tests build, and small data."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

import pytest
import torch
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast
from tokenizers import Tokenizer, models, pre_tokenizers

from tests.conftest import REPO

# (text, intent, retrieval key) in English and Spanish.
EXAMPLES: List[Tuple[str, str]] = [
    ("hello there", "greet"), ("hi", "greet"), ("good morning", "greet"), ("hey how are you", "greet"),
    ("hola", "greet"), ("buenos dias", "greet"), ("que tal", "greet"), ("buenas tardes", "greet"),
    ("where is my order", "order_status"), ("track my package", "order_status"),
    ("has my parcel shipped", "order_status"), ("status of my order please", "order_status"),
    ("donde esta mi pedido", "order_status"), ("mi paquete no llega", "order_status"),
    ("estado de mi pedido", "order_status"), ("cuando llega mi paquete", "order_status"),
    ("cancel my order", "cancel_order"), ("I want to cancel", "cancel_order"),
    ("please cancel the purchase", "cancel_order"), ("stop my order", "cancel_order"),
    ("cancelar mi pedido", "cancel_order"), ("quiero cancelar", "cancel_order"),
    ("anular la compra", "cancel_order"), ("no quiero el pedido", "cancel_order"),
    ("how much is shipping", "faq/shipping_cost"), ("delivery cost", "faq/shipping_cost"),
    ("is shipping free", "faq/shipping_cost"), ("cuanto cuesta el envio", "faq/shipping_cost"),
    ("el envio es gratis", "faq/shipping_cost"), ("precio del envio", "faq/shipping_cost"),
    ("when are you open", "faq/opening_hours"), ("opening hours", "faq/opening_hours"),
    ("are you open on sunday", "faq/opening_hours"), ("horario de atencion", "faq/opening_hours"),
    ("abren el domingo", "faq/opening_hours"), ("a que hora abren", "faq/opening_hours"),
]

EDGE_CASE_TEXTS = ["", "👍", "12345", "ok", "x" * 5000, "我想 cancel my 订单 please مرحبا", "¿¡!?", " \n\t "]


def training_data() -> TrainingData:
    messages = []
    for text, label in EXAMPLES:
        intent, _, key = label.partition("/")
        data: Dict[str, str] = {"text": text, "intent": intent}
        if key:
            data["intent_response_key"] = label
        messages.append(Message(data=data))
    responses = {
        "utter_faq/shipping_cost": [{"text": "Shipping costs 4.95."}],
        "utter_faq/opening_hours": [{"text": "We are open 8 to 8."}],
    }
    return TrainingData(training_examples=messages, responses=responses)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer BERT with a word-level tokenizer over the test vocabulary: trains in seconds."""
    directory = tmp_path_factory.mktemp("tiny-bert")
    words = sorted({w for text, _ in EXAMPLES for w in text.lower().split()})
    vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, **{w: i + 4 for i, w in enumerate(words)}}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]"
    )
    fast.save_pretrained(str(directory))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64,
    )
    BertModel(config, add_pooling_layer=False).save_pretrained(str(directory))
    return directory


@pytest.fixture()
def model_storage(tmp_path: Path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


@pytest.fixture()
def execution_context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test-model")


@pytest.fixture()
def resource() -> Resource:
    return Resource("cs_transformer_test")


@pytest.fixture(scope="session")
def project_regexes() -> TrainingData:
    """The demo bot's regexes (data/nlu/regex.yml)."""
    return load_data(str(REPO / "data" / "nlu" / "regex.yml"))
