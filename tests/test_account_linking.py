"""One customer across channels, end to end: a real `rasa run` and action server on 127.0.0.1.

Maria is a seeded customer. She opens the web chat in a new browser (a fresh guest session the
server issued), asks to link her account, reads the code from the demo outbox the action
server really wrote to, types it, and from then on the bot knows that session as her. The conversations are
persisted by the RedactingTrackerStore (SQLite), which must never hold the code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator, List, NamedTuple, Optional, Tuple

import pytest
from sqlalchemy import update

from cs_common.store import Store
from cs_common.store.engine import make_engine
from cs_common.store.models import LinkCode, utcnow
from tests.actions.test_code_delivery import wait_for
from tests.cs_common.test_link_codes import stored_texts
from tests.client import WebChat
from tests.responses import identify
from tests.servers import running_bot, seeded_store

pytestmark = pytest.mark.slow

CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")


class Bot(NamedTuple):
    url: str
    store_url: str
    outbox: Path
    logs: Tuple[Path, ...]
    trackers: Path


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    tmp = tmp_path_factory.mktemp("linking")
    store_url = seeded_store(tmp)
    outbox, trackers = tmp / "outbox", tmp / "trackers.db"
    tracker_store = (
        "tracker_store:\n  type: bot.tracker_store.RedactingTrackerStore\n  store: sql\n"
        f"  dialect: sqlite\n  db: {trackers}\n"
    )
    with running_bot(tmp, store_url, {"CS_OUTBOX_DIR": str(outbox)}, extra_endpoints=tracker_store) as url:
        yield Bot(url, store_url, outbox, (tmp / "actions.log", tmp / "rasa.log"), trackers)


def web(bot: Bot, chat: WebChat, message: str) -> List[str]:
    return chat.say(message)


def names(replies: List[str]) -> List[Optional[str]]:
    return [(identify(reply) or (None, None))[0] for reply in replies]


def outbox_files(bot: Bot) -> List[Path]:
    return sorted(bot.outbox.iterdir()) if bot.outbox.exists() else []


def code_sent_to(bot: Bot, address: str, before: List[Path]) -> str:
    """The code in the one new outbox message; it is written after the answer, so wait for it."""
    assert wait_for(lambda: len(outbox_files(bot)) > len(before))
    [message] = [path for path in outbox_files(bot) if path not in before]
    text = message.read_text(encoding="utf-8")
    assert text.startswith(f"To: {address}\n")
    return CODE.findall(text.split("\n\n", 1)[1])[0]


def web_customer(bot: Bot, chat: WebChat) -> Optional[str]:
    store = Store(bot.store_url)
    try:
        customer = store.customer_for_identity("web", chat.sender)
        return customer.name if customer else None
    finally:
        store.close()


def test_maria_links_the_web_chat_with_the_code_from_the_outbox(bot: Bot) -> None:
    chat = WebChat(bot.url).start()
    assert web_customer(bot, chat) is None
    before = outbox_files(bot)

    asked = web(bot, chat, "I'm already a customer, my email is maria.garcia@example.com")
    assert names(asked) == ["utter_link_code_sent", "utter_link_code_outbox", "utter_ask_link_code"]
    assert "m•••@example.com" in asked[0] and "maria.garcia" not in asked[0]
    assert str(bot.outbox) in asked[1]
    code = code_sent_to(bot, "maria.garcia@example.com", before)

    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert names(web(bot, chat, wrong)) == ["utter_link_code_wrong", "utter_ask_link_code"]
    assert web_customer(bot, chat) is None

    assert names(web(bot, chat, code)) == ["utter_account_linked"]
    assert web_customer(bot, chat) == "Maria García"

    # Her saved language (Spanish) now applies on this channel, and her orders are here.
    greeting = web(bot, chat, "/greet")
    assert identify(greeting[0]) == ("utter_greet_customer", "es") and "Maria" in greeting[0]
    status = web(bot, chat, "where is my order 10001?")
    assert names(status)[0].startswith("utter_order_status_") and "10001" in status[0]

    assert names(web(bot, chat, f"my code is {code}")) == ["utter_link_code_invalid"]
    for log in bot.logs:
        assert code not in log.read_text(encoding="utf-8", errors="replace"), f"the code is in {log}"
    persisted = stored_texts(bot.trackers)
    assert wrong not in persisted and code not in persisted
    assert "m•••@example.com" in persisted  # what she was told is there


def test_an_unknown_email_gets_the_same_answer_and_no_code(bot: Bot) -> None:
    chat = WebChat(bot.url).start()
    before = outbox_files(bot)
    asked = web(bot, chat, "I'm already a customer, my email is nobody.here@example.com")
    assert names(asked) == ["utter_link_code_sent", "utter_link_code_outbox", "utter_ask_link_code"]
    assert outbox_files(bot) == before
    assert names(web(bot, chat, "123456")) == ["utter_link_code_wrong", "utter_ask_link_code"]
    assert web_customer(bot, chat) is None


def test_an_expired_code_sent_by_sms_is_refused(bot: Bot) -> None:
    chat = WebChat(bot.url).start()
    before = outbox_files(bot)
    asked = web(bot, chat, "link my account, my phone number is +34 612 345 678")
    assert names(asked) == ["utter_link_code_sent", "utter_link_code_outbox", "utter_ask_link_code"]
    assert "+34•••678" in asked[0]
    code = code_sent_to(bot, "+34612345678", before)
    engine = make_engine(bot.store_url)
    try:
        with engine.begin() as connection:
            connection.execute(update(LinkCode).values(expires_at=utcnow()))
    finally:
        engine.dispose()
    assert names(web(bot, chat, code)) == ["utter_link_code_invalid"]
    assert web_customer(bot, chat) is None


def test_asking_without_an_address_asks_for_one(bot: Bot) -> None:
    assert names(web(bot, WebChat(bot.url).start(), "can you link my account?")) == ["utter_ask_link_contact"]
