"""Orders end to end (issue 19): which order, a guest's look-up, order numbers in any phrasing.

A real `rasa run` with the trained model and the action server on 127.0.0.1, the seeded store
(cs_common/store/seed.py: Maria has 10001 processing, 10002 shipped, 10003 delivered; Fatima
50001 processing, 50002 shipped; Carlos only 70001 open), and the RedactingTrackerStore, which
must never keep the email a guest typed although the look-up used it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Tuple

import pytest

from tests.cs_common.test_link_codes import stored_texts
from tests.client import DEMO_SIGN_IN, WebChat, rest
from tests.responses import identify
from tests.servers import redacting_trackers, running_bot, seeded_store

pytestmark = pytest.mark.slow

MARIAS_EMAIL = "maria.garcia@example.com"


class Bot(NamedTuple):
    url: str
    trackers: Path


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    tmp = tmp_path_factory.mktemp("orders")
    trackers = tmp / "trackers.db"
    with running_bot(tmp, seeded_store(tmp), DEMO_SIGN_IN, extra_endpoints=redacting_trackers(trackers)) as url:
        yield Bot(url, trackers)


def signed_in(bot: Bot, demo_name: str) -> WebChat:
    """The demo customer's chat, restarted: nothing remembered from an earlier test."""
    chat = WebChat(bot.url).sign_in(demo_name)
    chat.post("/restart").raise_for_status()
    return chat


def guest(bot: Bot) -> WebChat:
    return WebChat(bot.url).start()


def named(messages: List[Dict[str, Any]]) -> List[Optional[Tuple[str, str]]]:
    """(response, language) of each reply."""
    return [identify(m["text"]) for m in messages]


def test_maria_is_asked_which_open_order_and_her_choice_is_answered(bot: Bot) -> None:
    chat = signed_in(bot, "maria")
    [question] = chat.messages("¿Dónde está mi pedido?")
    assert identify(question["text"]) == ("utter_ask_which_order", "es")
    choices = {button["title"].split(" ")[0]: button["payload"] for button in question["buttons"]}
    assert sorted(choices) == ["10001", "10002"]  # 10003 was delivered: not a candidate
    [answer] = chat.messages(choices["10002"])
    assert identify(answer["text"]) == ("utter_order_status_shipped", "es")
    assert "10002" in answer["text"] and "SEUR4471010002" in answer["text"]


def test_fatima_is_asked_which_order_to_cancel(bot: Bot) -> None:
    chat = signed_in(bot, "fatima")
    [question] = chat.messages("I want to cancel the order")
    assert identify(question["text"])[0] == "utter_ask_which_order"
    payloads = [button["payload"] for button in question["buttons"]]
    assert [p for p in payloads if "50001" in p] and [p for p in payloads if "50002" in p] and len(payloads) == 2
    [confirm] = chat.messages(next(p for p in payloads if "50001" in p))
    assert identify(confirm["text"])[0] == "utter_ask_cancel_confirmation" and "50001" in confirm["text"]


def test_one_open_order_is_answered_without_asking(bot: Bot) -> None:
    [answer] = signed_in(bot, "carlos").messages("¿Dónde está mi pedido?")
    assert identify(answer["text"]) == ("utter_order_status_shipped", "es") and "70001" in answer["text"]


@pytest.mark.parametrize(
    "message, language",
    # Maria's saved language is es: a short English request may keep it, the scripts decide.
    [("Order 10002 please", None), ("السلام عليكم، متى يصل طلبي رقم 10002؟", "ar"), ("我的订单１０００２到哪了？", "zh")],
)
def test_an_order_number_in_any_phrasing_is_answered(bot: Bot, message: str, language: Optional[str]) -> None:
    answers = signed_in(bot, "maria").messages(message)
    response, replied_in = named(answers)[0] or (None, None)
    assert response == "utter_order_status_shipped", [m["text"] for m in answers]
    assert "10002" in answers[0]["text"] and language in (None, replied_in)


def test_a_guest_looks_up_an_order_by_number_and_email(bot: Bot) -> None:
    chat = guest(bot)
    [question] = chat.messages("我的订单10002到哪了")
    assert identify(question["text"]) == ("utter_ask_order_contact", "zh") and "10002" in question["text"]
    answers = chat.messages(MARIAS_EMAIL)
    assert named(answers) == [("utter_order_status_shipped", "zh"), ("utter_offer_link_account", "zh")]
    assert answers[1]["buttons"][0]["payload"] == "/link_account"
    assert MARIAS_EMAIL not in stored_texts(bot.trackers)  # used during the turn, never persisted


def guest_lookup(bot: Bot, number: str, email: str) -> List[Optional[Tuple[str, str]]]:
    chat = guest(bot)
    asked = named(chat.messages(f"Bonjour, où en est ma commande {number} s'il vous plaît ?"))
    return asked + named(chat.messages(email))


def test_a_wrong_email_and_an_unknown_number_get_the_same_answer(bot: Bot) -> None:
    right = guest_lookup(bot, "10002", MARIAS_EMAIL)
    wrong_email = guest_lookup(bot, "10002", "someone.else@example.com")
    unknown_number = guest_lookup(bot, "99999", MARIAS_EMAIL)
    asked, offer = ("utter_ask_order_contact", "fr"), ("utter_offer_link_account", "fr")
    assert right == [asked, ("utter_order_status_shipped", "fr"), offer]
    assert wrong_email == unknown_number == [asked, ("utter_guest_order_no_match", "fr"), offer]


def test_a_guest_gives_number_and_phone_in_arabic_digits(bot: Bot) -> None:
    chat = guest(bot)
    assert named(chat.messages("متى يصل طلبي رقم ٥٠٠٠٢؟")) == [("utter_ask_order_contact", "ar")]
    answers = named(chat.messages("+٩٧١٥٠١٢٣٤٥٦٧"))  # Fatima's phone, as an Arabic keyboard types it
    assert answers == [("utter_order_status_shipped", "ar"), ("utter_offer_link_account", "ar")]


def test_a_rest_guest_gets_the_order_but_no_offer_to_link(bot: Bot) -> None:
    """Linking is refused on REST (README, "Security"), so it is not offered there."""
    assert [identify(text)[0] for text in rest(bot.url, "orders-rest-guest", "Where is my order 10002?")] == ["utter_ask_order_contact"]
    answers = rest(bot.url, "orders-rest-guest", MARIAS_EMAIL)
    assert [identify(text)[0] for text in answers] == ["utter_order_status_shipped"]
