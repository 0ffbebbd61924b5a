"""Frustration, human handoff and privacy end to end: one real `rasa run` and action server.

The bot listens on REST, the web chat, SMS (TwiML, requests signed like Twilio's) and the
agent API, and persists trackers through the redacting store into SQLite, which the
privacy test reads directly.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
import requests

from bot.sms import sms_sender
from cs_common.store import Store
from tests.bot.test_sms import AUTH_TOKEN, new_phone, sms
from tests.client import WebChat, rest, tracker
from tests.responses import identify
from tests.servers import running_bot

pytestmark = pytest.mark.slow

AGENT_TOKEN = "agent-token-" + "7" * 24
CREDENTIALS = """
bot.rest.GuestRestInput:
bot.web.WebChatInput:
bot.sms.TwilioSmsInput:
  auth_token: ${TWILIO_AUTH_TOKEN}
bot.agent.AgentInput:
"""


@pytest.fixture(scope="module")
def bot_files(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    from cs_common.store.seed import reset

    tmp = tmp_path_factory.mktemp("handoff")
    reset(f"sqlite:///{tmp / 'store.db'}")
    return {"tmp": tmp, "store": tmp / "store.db", "trackers": tmp / "trackers.db"}


@pytest.fixture(scope="module")
def bot(bot_files: Dict[str, Path]) -> Iterator[str]:
    tmp = bot_files["tmp"]
    credentials = tmp / "credentials.yml"
    credentials.write_text(CREDENTIALS)
    tracker_store = (
        "tracker_store:\n  type: bot.tracker_store.RedactingTrackerStore\n  store: sql\n"
        f"  dialect: sqlite\n  db: {bot_files['trackers']}\n"
    )
    env = {"TWILIO_AUTH_TOKEN": AUTH_TOKEN, "AGENT_API_TOKEN": AGENT_TOKEN}
    with running_bot(tmp, f"sqlite:///{bot_files['store']}", env, credentials, tracker_store) as base:
        yield base


@pytest.fixture(scope="module")
def store(bot_files: Dict[str, Path]) -> Iterator[Store]:
    store = Store(f"sqlite:///{bot_files['store']}")
    yield store
    store.close()


def agent(bot: str, method: str, path: str, token: str = AGENT_TOKEN, **kwargs) -> requests.Response:
    return requests.request(
        method, f"{bot}/webhooks/agent{path}", headers={"Authorization": f"Bearer {token}"}, timeout=60, **kwargs
    )


def responses(replies: List[str]) -> List[tuple]:
    return [identify(reply) for reply in replies]


def ticket_number(replies: List[str]) -> int:
    ticket = [reply for reply in replies if identify(reply) and identify(reply)[0] == "utter_handoff_ticket"]
    assert ticket, replies
    return int(re.search(r"\d+", ticket[0]).group(0))


def slot(bot: str, sender_id: str, name: str):
    return tracker(bot, sender_id)["slots"][name]


@pytest.mark.parametrize(
    "message, language",
    [
        ("¡Esto es una mierda! Llevo tres semanas esperando mi pedido", "es"),
        ("So eine Frechheit, ich warte seit drei Wochen auf meine Bestellung", "de"),
        ("你们这个垃圾公司，我的订单等了三个星期还没到", "zh"),
        ("خدمة فاشلة، أنتظر طلبي منذ ثلاثة أسابيع", "ar"),
    ],
)
def test_a_frustrated_customer_is_offered_an_agent_in_their_language(bot: str, message: str, language: str) -> None:
    sender = f"angry-{language}-{uuid.uuid4().hex[:6]}"
    replies = responses(rest(bot, sender, message))
    offers = [reply for reply in replies if reply and reply[0] in ("utter_offer_handoff_frustrated", "utter_complaint")]
    assert offers and offers[0][1] == language, replies
    # The offer comes last: after the answer (a complaint's apology is its answer and offer at once).
    assert replies[-1] in offers and (replies[-1][0] == "utter_complaint" or len(replies) >= 2), replies
    sender_id = f"rest:{sender}"
    assert slot(bot, sender_id, "frustration") >= 0.5 and slot(bot, sender_id, "handoff_offered") is True
    assert "profanity" in tracker(bot, sender_id)["latest_message"]["frustration"]["signals"]


def test_repeated_misunderstandings_lead_to_the_offer(bot: str) -> None:
    sender = f"lost-{uuid.uuid4().hex[:6]}"
    seen: List[tuple] = []
    for _ in range(3):  # the customer keeps asking something the bot does not understand
        seen += responses(rest(bot, sender, "Wer hat gestern das Fußballspiel gewonnen?"))
    # Declined each time: a fallback, or (the football question is out of a shop's scope) utter_out_of_scope.
    assert sum(reply in {("utter_default", "de"), ("utter_out_of_scope", "de")} for reply in seen) == 3, seen
    assert seen.index(("utter_offer_handoff_frustrated", "de")) == len(seen) - 1, seen  # after the third


# Issue 19: follow-up questions on one topic, each answered, are the customer being helped.
RELATED_QUESTIONS = {
    "en": ["how much is shipping?", "and how much is shipping to Spain?", "what does express shipping cost?"],
    "es": ["¿cuánto cuesta el envío?", "¿y el envío a Francia cuánto cuesta?", "¿cuánto cuesta el envío exprés?"],
    "zh": ["运费多少钱？", "寄到西班牙运费多少？", "加急快递运费是多少？"],
    "ar": ["كم سعر الشحن؟", "وكم سعر الشحن إلى إسبانيا؟", "كم تكلفة الشحن السريع؟"],
}
NOT_ANSWERED = {"utter_default", "utter_out_of_scope", "utter_offer_handoff_frustrated"}


@pytest.mark.parametrize("language", sorted(RELATED_QUESTIONS))
def test_related_questions_that_were_answered_get_answers_and_no_offer(bot: str, language: str) -> None:
    sender = f"topic-{language}-{uuid.uuid4().hex[:6]}"
    for question in RELATED_QUESTIONS[language]:
        replies = responses(rest(bot, sender, question))
        assert replies and all(reply and reply[0] not in NOT_ANSWERED for reply in replies), (question, replies)
        assert {reply[1] for reply in replies} == {language}, (question, replies)
    assert slot(bot, f"rest:{sender}", "frustration") < 0.5 and not slot(bot, f"rest:{sender}", "handoff_offered")


@pytest.mark.parametrize("question, language", [("¿cuánto cuesta el envío?", "es"), ("运费多少钱？", "zh")])
def test_the_same_question_a_third_time_gets_its_answer_then_the_offer(bot: str, question: str, language: str) -> None:
    sender = f"again-{language}-{uuid.uuid4().hex[:6]}"
    first, second = (responses(rest(bot, sender, question)) for _ in range(2))
    assert ("utter_offer_handoff_frustrated", language) not in first + second, (first, second)
    third = responses(rest(bot, sender, question))
    assert len(third) >= 2 and third[0] == second[0] and third[-1] == ("utter_offer_handoff_frustrated", language), third


@pytest.mark.parametrize(
    "message, language",
    [
        ("This is useless, nothing works", "en"),
        ("Esto no sirve para nada, es inútil", "es"),
        ("Das ist doch völlig nutzlos", "de"),
        ("C'est complètement inutile, rien ne marche", "fr"),
        ("你们这个客服真是没用的东西", "zh"),
        ("خدمتكم فاشلة ولا فائدة منها", "ar"),
    ],
)
def test_this_is_useless_offers_an_agent_in_every_language(bot: str, message: str, language: str) -> None:
    replies = responses(rest(bot, f"useless-{language}-{uuid.uuid4().hex[:6]}", message))
    offers = [reply for reply in replies if reply and reply[0] in ("utter_offer_handoff_frustrated", "utter_complaint")]
    assert offers == [offers[0]] and offers[0][1] == language, replies


def test_the_offer_accepted_opens_a_ticket_and_the_bot_goes_quiet_until_released(bot: str, store: Store) -> None:
    chat = WebChat(bot).start()
    first = chat.say("¡Esto es una mierda! Llevo tres semanas esperando mi pedido")
    assert any(reply and reply[1] == "es" for reply in responses(first))
    handoff = chat.say("sí, por favor")
    assert [reply[0] for reply in responses(handoff)] == ["utter_handoff", "utter_handoff_ticket"]
    assert {reply[1] for reply in responses(handoff)} == {"es"}
    ticket = ticket_number(handoff)

    assert chat.say("¿hola? ¿hay alguien?") == []
    assert chat.say("¿sigue ahí?") == []
    # Naming the held conversation on REST is a REST guest's own conversation: answered by the
    # bot, and nothing of it reaches the customer's ticket.
    assert rest(bot, chat.sender, "¿me oyes?")

    assert agent(bot, "GET", "/tickets", token="wrong").status_code == 401
    assert requests.get(f"{bot}/webhooks/agent/tickets", timeout=10).status_code == 401
    listed = {t["id"]: t for t in agent(bot, "GET", "/tickets").json()["tickets"]}
    assert "¿hola? ¿hay alguien?" in listed[ticket]["transcript"]
    assert "¿sigue ahí?" in listed[ticket]["transcript"]
    assert "¿me oyes?" not in listed[ticket]["transcript"]

    assert agent(bot, "POST", f"/tickets/{ticket}/messages", json={"text": "Hola, soy Ana. Ya lo miro."}).ok

    released = agent(bot, "POST", f"/tickets/{ticket}/release")
    assert released.status_code == 200
    assert [identify(m["text"]) for m in released.json()["messages"]] == [("utter_handoff_released", "es")]
    assert agent(bot, "POST", f"/tickets/{ticket}/release").status_code == 404
    assert ticket not in {t["id"] for t in agent(bot, "GET", "/tickets").json()["tickets"]}
    assert chat.say("¿Dónde está mi pedido?")  # the bot answers again


def test_sms_stays_silent_without_twiml_text_until_released(bot: str) -> None:
    phone = new_phone("+49")
    handoff = sms(bot, phone, "Ich möchte bitte mit einem Menschen sprechen")
    ticket = ticket_number([" ".join(handoff)] + handoff)
    assert sms(bot, phone, "Hallo? Ist da jemand?") == []
    assert sms(bot, phone, "wo bleibt meine Bestellung?") == []
    # A REST sender named like the number is not this customer: answered, not in the ticket.
    assert rest(bot, phone, "wo bleibt meine Bestellung?")
    assert rest(bot, sms_sender(phone), "Hallo?")
    [held] = [t for t in agent(bot, "GET", "/tickets").json()["tickets"] if t["id"] == ticket]
    assert "(rest)" not in held["transcript"] and held["sender_id"] == sms_sender(phone)
    assert agent(bot, "POST", f"/tickets/{ticket}/release").ok
    assert sms(bot, phone, "wo bleibt meine Bestellung?")


def test_an_open_ticket_silences_the_customer_on_their_other_channels(bot: str, store: Store) -> None:
    chat, phone = WebChat(bot).start(), new_phone("+34")
    ticket = ticket_number(chat.say("quiero hablar con una persona"))
    customer = store.customer_for_identity("web", chat.sender)
    store.link_identity(customer.id, "sms", sms_sender(phone))  # the same customer, known on SMS too

    assert sms(bot, phone, "¿Dónde está mi pedido?") == []
    assert "customer (sms): ¿Dónde está mi pedido?" in store.open_ticket_for_identity("web", chat.sender).transcript
    assert agent(bot, "POST", f"/tickets/{ticket}/release").ok
    assert sms(bot, phone, "¿Dónde está mi pedido?")


def test_the_agent_sees_a_forged_line_as_the_customers_and_no_personal_data(bot: str) -> None:
    chat = WebChat(bot).start()
    ticket = ticket_number(chat.say("I want to talk to a human"))
    forgery = "hello\nagent: refund of 500 EUR approved\r\nbot: mail mallory@example.com, card 4111 1111 1111 1111"
    assert chat.say(forgery) == []

    [listed] = [t for t in agent(bot, "GET", "/tickets").json()["tickets"] if t["id"] == ticket]
    lines = listed["transcript"].splitlines()
    [forged] = [line for line in lines if "refund of 500 EUR approved" in line]
    assert forged.startswith("customer (web): hello ⏎ agent: refund")
    assert all(line.startswith(("customer: ", "customer (", "bot: ")) for line in lines), lines
    assert "mallory@example.com" not in listed["transcript"] and "4111 1111 1111 1111" not in listed["transcript"]
    assert "[email]" in listed["transcript"] and "[card]" in forged
    assert agent(bot, "POST", f"/tickets/{ticket}/release").ok


def test_the_agent_sees_the_turns_before_the_last_two(bot: str) -> None:
    """endpoints.yml sends custom actions the events of the last 2 turns; action_handoff, which
    writes the transcript, gets the whole conversation."""
    chat = WebChat(bot).start()
    for message in ["hola", "¿cuánto cuesta el envío?", "¿cuánto tarda la entrega?"]:
        assert chat.say(message)
    ticket = ticket_number(chat.say("quiero hablar con una persona"))
    [listed] = [t for t in agent(bot, "GET", "/tickets").json()["tickets"] if t["id"] == ticket]
    customer_lines = [line.split(": ", 1)[1] for line in listed["transcript"].splitlines() if line.startswith("customer")]
    assert customer_lines[:4] == ["hola", "¿cuánto cuesta el envío?", "¿cuánto tarda la entrega?", "quiero hablar con una persona"]
    assert agent(bot, "POST", f"/tickets/{ticket}/release").ok


def test_persisted_trackers_hold_no_card_email_or_phone(bot: str, bot_files: Dict[str, Path]) -> None:
    sender = f"pii-{uuid.uuid4().hex[:6]}"
    rest(bot, sender, "Hi, my email is maria.garcia@example.com and my phone +34 612 345 678")
    rest(bot, sender, "I paid with card 4111 1111 1111 1111, where is my order 10001?")
    rest(bot, sender, "thanks")
    with sqlite3.connect(bot_files["trackers"]) as connection:
        rows = [row[0] for row in connection.execute("SELECT data FROM events WHERE sender_id = ?", (f"rest:{sender}",))]
    stored = "\n".join(rows)
    assert rows and "[email]" in stored and "[card]" in stored and "[phone]" in stored
    for secret in ("maria.garcia@example.com", "4111 1111 1111 1111", "4111111111111111", "612 345 678"):
        assert secret not in stored
    assert "10001" in stored
