"""One real bot: `rasa run` and the action server on 127.0.0.1, spoken to as real clients can:
guests over REST, seeded customers through the web chat's demo sign-in (tests/client.py)."""

from __future__ import annotations

from typing import Iterator, List

import pytest
import requests

from tests.client import DEMO_SIGN_IN, WebChat, rest, tracker
from tests.responses import identify
from tests.servers import running_bot, seeded_store

pytestmark = pytest.mark.slow

MARIAS_ORDER = "10001"


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("bot")
    with running_bot(tmp, seeded_store(tmp), extra_env=DEMO_SIGN_IN) as base:
        yield base


say = rest


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
    maria = WebChat(bot).sign_in("maria")
    maria.say("hola")
    [question] = maria.say("quiero saber dónde está mi pedido")
    assert identify(question) == ("utter_ask_which_order", "es")  # 10001 and 10002 are open
    replies = maria.say("10002")
    assert [identify(r)[1] for r in replies] == ["es"]
    assert identify(replies[0])[0].startswith("utter_order_status_") and "10002" in replies[0]


def test_the_demo_sign_in_leads_to_the_chat_page(bot: str) -> None:
    reply = requests.get(f"{bot}/webhooks/web/demo/maria", timeout=10)
    assert reply.status_code == 200 and 'src="static/chat.js"' in reply.text
    assert requests.get(f"{bot}/webhooks/web/demo/nobody", timeout=10).status_code == 404


def test_a_guest_never_sees_someone_elses_order(bot: str) -> None:
    say(bot, "stranger", "where is my order?")
    replies = say(bot, "stranger", MARIAS_ORDER)
    assert identify(replies[0])[0] in {"utter_ask_order_contact"}  # the order's email or phone first


def test_low_confidence_falls_back_in_the_customers_language(bot: str) -> None:
    replies = say(bot, "fallback-de", "Wer hat gestern das Fußballspiel gewonnen?")
    # A sport result is out of scope: the bot declines it, by a fallback or the out_of_scope intent.
    assert identify(replies[-1]) in {("utter_default", "de"), ("utter_out_of_scope", "de")}


@pytest.mark.parametrize(
    "message, language",
    [("¿me pones una canción de Shakira?", "es"), ("帮我查一下明天上海的天气", "zh"), ("احكِ لي نكتة عن القطط", "ar")],
)
def test_out_of_scope_is_declined_with_what_the_bot_can_do(bot: str, message: str, language: str) -> None:
    """Sentences that are in no training file: music, weather, a joke. Declined in the customer's
    language: by the out_of_scope intent (saying what the bot can do) or, unsure, a fallback."""
    replies = say(bot, f"oos-{language}", message)
    assert [identify(r) for r in replies] in ([("utter_out_of_scope", language)], [("utter_default", language)])


def test_web_chat_page_is_served_by_the_bot(bot: str) -> None:
    page = requests.get(f"{bot}/webhooks/web/", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'src="static/chat.js"' in page.text
    script = requests.get(f"{bot}/webhooks/web/static/chat.js", timeout=10)
    assert script.status_code == 200 and "fetch(" in script.text
    assert requests.get(f"{bot}/webhooks/web/static/..%2F..%2Fcredentials.yml", timeout=10).status_code == 404


def test_web_chat_keeps_metadata_on_the_tracker(bot: str) -> None:
    chat = WebChat(bot).start()
    replies = chat.say("أين طلبي؟ لم يصل بعد", {"locale": "ar-AE", "session_id": "abc"})
    assert identify(replies[0])[1] == "ar"
    user_events = [e for e in tracker(bot, chat.sender)["events"] if e["event"] == "user"]
    assert {"locale": "ar-AE", "session_id": "abc"}.items() <= user_events[-1]["metadata"].items()
    assert user_events[-1]["input_channel"] == "web"


@pytest.mark.parametrize(
    "body",
    [b"", b"{not json", b"[]", b'{"sender": "x"}', b'{"message": ""}', b'{"message": "hi", "metadata": [1]}',
     ('{"message": "' + "a" * 100_000 + '"}').encode(), b'{"message": "\\u0000\\u0007"}'],
)
def test_web_chat_rejects_bad_input_with_a_reason(bot: str, body: bytes) -> None:
    chat = WebChat(bot).start()
    reply = chat.http.post(f"{chat.url}webhook", data=body, headers={"Content-Type": "application/json"}, timeout=10)
    assert reply.status_code == 400
    assert reply.json()["error"]
    assert chat.say("hello")  # the bot still answers


@pytest.mark.parametrize(
    "body",
    [b"", b"{not json", b"[]", b'{"sender": "x"}', b'{"sender": "../x", "message": "hi"}', b'{"sender": "x", "message": ""}'],
)
def test_rest_rejects_bad_input_with_a_reason(bot: str, body: bytes) -> None:
    reply = requests.post(f"{bot}/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}, timeout=10)
    assert reply.status_code == 400 and reply.json()["error"]


def test_returning_customer_is_greeted_by_name_in_their_saved_language(bot: str) -> None:
    lukas = WebChat(bot).sign_in("lukas")
    greeting = lukas.say("/greet")
    assert [identify(r) for r in greeting][:1] == [("utter_greet_customer", "de")]
    assert "Lukas" in greeting[0]
    assert identify(lukas.say("wo bleibt eigentlich meine Bestellung?")[0]) == ("utter_ask_which_order", "de")
    status = lukas.say("20001")
    assert identify(status[0])[1] == "de" and identify(status[0])[0].startswith("utter_order_status_")
    assert "20001" in status[0]
