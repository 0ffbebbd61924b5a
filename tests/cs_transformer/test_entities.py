"""UnicodeRegexEntityExtractor: the project's regexes (data/nlu/regex.yml) in every script."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from cs_transformer import UnicodeRegexEntityExtractor
from cs_transformer.entities import to_ascii

CONTEXT = ExecutionContext(GraphSchema({}), "test")


@pytest.fixture()
def storage(tmp_path: Path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


def trained(storage: LocalModelStorage, data: TrainingData, **config) -> UnicodeRegexEntityExtractor:
    extractor = UnicodeRegexEntityExtractor.create(config, storage, Resource("entities"), CONTEXT)
    extractor.train(data)
    return extractor


def found(extractor: UnicodeRegexEntityExtractor, text: str) -> Dict[str, List[str]]:
    (message,) = extractor.process([Message(data={"text": text})])
    values: Dict[str, List[str]] = {}
    for entity in message.get("entities", []):
        assert entity["extractor"] == "UnicodeRegexEntityExtractor"
        values.setdefault(entity["entity"], []).append(entity["value"])
    return values


@pytest.mark.parametrize(
    "text",
    [
        "Order 10002 please",
        "السلام عليكم، متى يصل طلبي رقم 10002؟",
        "السلام عليكم، متى يصل طلبي رقم ١٠٠٠٢؟",  # Arabic-Indic digits
        "شماره سفارش من ۱۰۰۰۲ است",  # Persian (extended Arabic-Indic) digits
        "我的订单10002到哪了",  # no word boundary between 单 and 1
        "订单号是１０００２，谢谢",  # full-width digits
        "¿Dónde está mi pedido #10002?",
        "Bestellung Nr. 10002 bitte",
        "मेरा ऑर्डर १०००२ कहाँ है",  # Devanagari digits
    ],
)
def test_an_order_number_is_read_as_ascii_in_every_script(storage, project_regexes, text: str) -> None:
    assert found(trained(storage, project_regexes), text).get("order_number") == ["10002"]


def test_offsets_point_into_the_text_as_typed(storage, project_regexes) -> None:
    text = "طلبي رقم ١٠٠٠٢ من فضلك"
    (message,) = trained(storage, project_regexes).process([Message(data={"text": text})])
    (entity,) = [e for e in message.get("entities") if e["entity"] == "order_number"]
    assert text[entity["start"]:entity["end"]] == "١٠٠٠٢" and entity["value"] == "10002"


@pytest.mark.parametrize(
    "text, entity, value",
    [
        ("my email is maria.garcia@example.com", "email", "maria.garcia@example.com"),
        ("邮箱是ｗａｎｇ．ｗｅｉ＠ｅｘａｍｐｌｅ．ｃｏｍ", "email", "wang.wei@example.com"),
        ("رقمي +٩٧١٥٠١٢٣٤٥٦٧", "phone", "+971501234567"),
        ("call me on +44 7700 900123", "phone", "+44 7700 900123"),
        ("الرمز ٤٨٢٩١٣", "otp_code", "482913"),
    ],
)
def test_emails_phones_and_codes_in_any_script(storage, project_regexes, text: str, entity: str, value: str) -> None:
    assert found(trained(storage, project_regexes), text).get(entity) == [value]


@pytest.mark.parametrize(
    "text",
    ["a postcode of 6 digits 280140", "call +34 612 345 678", "٢٠٢٦-١٢-٠١", "1234", "ok", "", "👍"],
)
def test_no_order_number_where_there_is_none(storage, project_regexes, text: str) -> None:
    assert "order_number" not in found(trained(storage, project_regexes), text)


def test_to_ascii_keeps_the_length_and_leaves_other_text_alone() -> None:
    text = "Ａｂ１２ ٣٤ ۵۶ १० 🙂 é 订单"
    assert to_ascii(text) == "Ab12 34 56 10 🙂 é 订单"
    assert len(to_ascii(text)) == len(text)


def test_only_the_configured_entities_are_extracted(storage, project_regexes) -> None:
    extractor = trained(storage, project_regexes, entities=["order_number"])
    assert found(extractor, "order 10002, maria.garcia@example.com") == {"order_number": ["10002"]}


def test_persist_then_load_extracts_the_same(storage, project_regexes) -> None:
    texts = ["Order 10002 please", "رقمي +٩٧١٥٠١٢٣٤٥٦٧", "邮箱 a@b.co"]
    before = [found(trained(storage, project_regexes), t) for t in texts]
    loaded = UnicodeRegexEntityExtractor.load({}, storage, Resource("entities"), CONTEXT)
    assert [found(loaded, t) for t in texts] == before and before[0] == {"order_number": ["10002"]}


def test_untrained_extractor_adds_nothing(storage) -> None:
    extractor = UnicodeRegexEntityExtractor.load({}, storage, Resource("never-trained"), CONTEXT)
    assert found(extractor, "Order 10002 please") == {}


def test_existing_entities_are_kept(storage, project_regexes) -> None:
    language = {"entity": "language", "value": "en", "start": 0, "end": 5}
    message = Message(data={"text": "Order 10002", "entities": [language]})
    (message,) = trained(storage, project_regexes).process([message])
    assert message.get("entities")[0] == language and len(message.get("entities")) == 2


def test_case_insensitive_unless_configured(storage) -> None:
    data = TrainingData(regex_features=[{"name": "code", "pattern": "ABC"}])
    assert found(trained(storage, data), "abc") == {"code": ["abc"]}
    assert found(trained(storage, data, case_sensitive=True), "abc") == {}


def test_every_bad_key_is_named_in_one_error() -> None:
    with pytest.raises(InvalidConfigException) as error:
        UnicodeRegexEntityExtractor.create({"entitys": ["x"], "case_sensitive": "no"}, None, None, CONTEXT)
    message = str(error.value)
    assert "unknown key 'entitys'" in message and "'case_sensitive: 'no'' is invalid" in message


def test_an_entity_without_a_regex_is_a_clear_error(storage, project_regexes) -> None:
    with pytest.raises(InvalidConfigException, match="no regex named iban"):
        trained(storage, project_regexes, entities=["order_number", "iban"])


def test_a_regex_that_does_not_compile_is_a_clear_error(storage) -> None:
    data = TrainingData(regex_features=[{"name": "broken", "pattern": "(\\d{5}"}])
    with pytest.raises(InvalidConfigException, match="'broken' does not compile"):
        trained(storage, data)
