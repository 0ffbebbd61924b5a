"""One real bot: `rasa run` and the action server on 127.0.0.1, spoken to over REST."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, List

import pytest
import requests

from tests.responses import identify
from tests.servers import running_bot

pytestmark = pytest.mark.slow

MARIAS_ORDER = "10001"


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from actions.store.seed import reset

    tmp = tmp_path_factory.mktemp("bot")
    store_url = f"sqlite:///{tmp / 'store.db'}"
    reset(store_url)
    with running_bot(tmp, store_url) as base:
        yield base


def say(bot: str, sender: str, message: str) -> List[str]:
    reply = requests.post(f"{bot}/webhooks/rest/webhook", json={"sender": sender, "message": message}, timeout=60)
    reply.raise_for_status()
    return [m["text"] for m in reply.json() if m.get("text")]


def languages(replies: List[str]) -> List[str]:
    found = [identify(text) for text in replies]
    assert all(found), f"not domain responses: {replies}"
    return [language for _, language in found]


@pytest.mark.parametrize(
    "message, language",
    [("¿Dónde está mi pedido?", "es"), ("我的订单到哪里了？", "zh"), ("أين طلبي؟ لم يصل بعد", "ar")],
)
def test_replies_in_the_customers_language_and_keeps_it(bot: str, message: str, language: str) -> None:
    sender = f"guest-{language}"
    first = say(bot, sender, message)
    assert first and set(languages(first)) == {language}
    assert identify(first[0])[0] == "utter_ask_order_number"
    for short in ("ok", "👍"):
        replies = say(bot, sender, short)
        assert replies and set(languages(replies)) == {language}, (short, replies)


def test_order_number_answered_after_asking(bot: str) -> None:
    say(bot, "maria", "hola")
    replies = say(bot, "maria", "quiero saber dónde está mi pedido")
    assert [identify(r)[1] for r in replies] == ["es"]
    assert identify(replies[0])[0].startswith("utter_order_status_")


def test_a_guest_never_sees_someone_elses_order(bot: str) -> None:
    say(bot, "stranger", "where is my order?")
    replies = say(bot, "stranger", MARIAS_ORDER)
    assert identify(replies[0])[0] in {"utter_order_not_found"}


def test_low_confidence_falls_back_in_the_customers_language(bot: str) -> None:
    replies = say(bot, "fallback-de", "Wer hat gestern das Fußballspiel gewonnen?")
    assert identify(replies[-1]) == ("utter_default", "de")
