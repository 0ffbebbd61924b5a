"""A human handoff from start to end, on real servers: `/restart` and a new conversation end the
pause, an agent's answers and the release reach the customer on their channel (the web page
without a reload, SMS through Twilio's Messages API, Slack by chat.postMessage), and an action server that is down is
answered with `utter_technical_problem` in the customer's language.

One `rasa run` and action server listen on REST, the web chat, SMS (TwiML replies; pushed
messages go to a local stand-in for Twilio's API), Slack (a stand-in Web API) and the agent API; a second `rasa run`
has its action endpoint on a port where nothing listens.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import pytest
import requests
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from bot.sms import sms_sender
from cs_common.store import Store
from tests.bot.stand_in import (
    SLACK_POST_MESSAGE, TWILIO_MESSAGES_PATH, StandIn, running_slack_api, twilio_env,
)
from tests.bot.test_slack import SIGNING_SECRET, TEAM, TOKEN, USER_INFO, message_event, send
from tests.bot.test_sms import AUTH_TOKEN, BOT_NUMBER, new_phone, sms
from tests.bot.test_web_browser import REPLY_TIMEOUT_S, browser, bubbles, say, session_sender  # noqa: F401 (browser: a fixture)
from tests.client import WebChat, rest, tracker
from tests.responses import identify
from tests.servers import ACTION_ENDPOINT, API_TOKEN, free_port, running_bot, running_replicas, seeded_store

pytestmark = pytest.mark.slow

AGENT_TOKEN = "agent-token-" + "9" * 24
CREDENTIALS = f"""
bot.rest.GuestRestInput:
bot.web.WebChatInput:
bot.sms.TwilioSmsInput:
  auth_token: ${{TWILIO_AUTH_TOKEN}}
  account_sid: ${{TWILIO_ACCOUNT_SID}}
  twilio_number: "{BOT_NUMBER}"
  api_base_url: ${{TWILIO_API_BASE_URL}}
bot.slack.SlackInput:
  slack_token: ${{SLACK_BOT_TOKEN}}
  slack_signing_secret: ${{SLACK_SIGNING_SECRET}}
  slack_api_url: ${{SLACK_API_URL}}
bot.agent.AgentInput:
"""
HANDOFF_RESPONSES = {"utter_handoff", "utter_handoff_ticket"}
# (what asks for a person, a question the bot answers, the answer's response) per language,
# each in the language's own words.
HANDOFF = {
    "es": ("quiero hablar con una persona", "¿Dónde está mi pedido?"),
    "zh": ("我要找人工客服", "我的订单到哪里了？"),
    "ar": ("اريد التحدث مع شخص", "أين طلبي؟ لم يصل بعد"),
}


@pytest.fixture(scope="module")
def slack_api() -> Iterator[StandIn]:
    with running_slack_api(USER_INFO) as api:
        yield api


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory, store_url: str, twilio_api: StandIn, slack_api: StandIn) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("lifecycle")
    credentials = tmp / "credentials.yml"
    credentials.write_text(CREDENTIALS)
    env = {
        **twilio_env(twilio_api, AUTH_TOKEN),
        "AGENT_API_TOKEN": AGENT_TOKEN,
        "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": f"{slack_api.url}/api/",
    }
    with running_bot(tmp, store_url, env, credentials) as base:
        yield base


def agent(bot: str, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(
        method, f"{bot}/webhooks/agent{path}", headers={"Authorization": f"Bearer {AGENT_TOKEN}"}, timeout=60, **kwargs
    )


def names(replies: List[str]) -> List[Optional[Tuple[str, str]]]:
    """The domain response (and its language) of each reply."""
    return [identify(reply) for reply in replies]


def bot_events(bot: str, sender_id: str) -> List[Dict]:
    """The conversation's actions and messages, before its restarts too."""
    answer = requests.get(
        f"{bot}/conversations/{sender_id}/tracker", params={"token": API_TOKEN, "include_events": "ALL"}, timeout=60
    )
    answer.raise_for_status()
    return [event for event in answer.json()["events"] if event["event"] in ("action", "bot", "user")]


def ticket_row(store_url: str, ticket_id: int) -> Tuple[str, str]:
    """(status, transcript) of a ticket, closed ones too (the store's API lists open ones only)."""
    with sqlite3.connect(store_url.removeprefix("sqlite:///")) as connection:
        return connection.execute("SELECT status, transcript FROM handoff_tickets WHERE id = ?", (ticket_id,)).fetchone()


class Conversation:
    """One customer on one channel: `say` returns the bot's reply as the customer reads it (an
    SMS reply's parts joined), `sender_id` names its tracker."""

    def __init__(self, channel: str, bot: str, language: str) -> None:
        self.channel = channel
        if channel == "web":
            chat = WebChat(bot).start()
            self.sender_id, self._say = chat.sender, chat.say
        elif channel == "rest":
            sender = f"lifecycle-{uuid.uuid4().hex[:8]}"
            self.sender_id = f"rest:{sender}"
            self._say = lambda text: rest(bot, sender, text)
        else:
            phone = new_phone({"es": "+34", "zh": "+86", "ar": "+971"}[language])
            self.phone, self.sender_id = phone, sms_sender(phone)
            self._say = lambda text: [" ".join(parts)] if (parts := sms(bot, phone, text)) else []

    def say(self, text: str) -> List[str]:
        return self._say(text)


def hand_off(bot: str, store: Store, channel: str, language: str) -> Tuple[Conversation, int]:
    """A customer who asked for a person: the bot said so and is quiet; returns the ticket's id."""
    customer = Conversation(channel, bot, language)
    assert customer.say(HANDOFF[language][0])
    ticket = store.open_ticket_for_identity(channel, customer.sender_id)
    assert ticket is not None and ticket.sender_id == customer.sender_id
    assert customer.say(HANDOFF[language][1]) == []  # held: it goes to the agent
    return customer, ticket.id


@pytest.mark.parametrize("channel, language", [("web", "es"), ("rest", "zh"), ("sms", "ar")])
def test_restart_while_an_agent_holds_the_conversation_ends_the_pause_cleanly(
    bot: str, store: Store, store_url: str, channel: str, language: str
) -> None:
    customer, ticket = hand_off(bot, store, channel, language)

    restarted = customer.say("/restart")

    after_restart = bot_events(bot, customer.sender_id)
    after_restart = after_restart[[event.get("text") for event in after_restart].index("/restart"):]
    assert [event.get("name") for event in after_restart if event["event"] == "action"][:1] == ["action_restart"]
    assert not [event for event in after_restart if event.get("name") in ("action_handoff", "action_default_fallback")]
    assert restarted == [], restarted  # no fallback, no second ticket text
    status, transcript = ticket_row(store_url, ticket)
    assert status == "closed"
    assert transcript.splitlines()[-1] == f"system: the customer restarted the conversation ({channel}); ticket closed"
    answer = identify(customer.say(HANDOFF[language][1])[0])
    assert answer == ("utter_ask_order_number", language)  # the bot answers again


def test_a_new_conversation_on_the_page_ends_the_handoff(bot: str, store_url: str) -> None:
    chat = WebChat(bot).start()
    chat.say(HANDOFF["es"][0])
    old_sender = chat.sender
    ticket = Store(store_url).open_ticket_for_identity("web", old_sender).id

    chat.start()  # the page's "New conversation"

    assert chat.sender != old_sender
    status, transcript = ticket_row(store_url, ticket)
    assert status == "closed"
    assert transcript.splitlines()[-1] == "system: the customer started a new conversation (web); ticket closed"
    assert tracker(bot, old_sender)["paused"] is False
    assert identify(chat.say(HANDOFF["es"][1])[0]) == ("utter_ask_order_number", "es")


def test_a_restart_in_another_conversation_leaves_the_ticket_with_the_agent(bot: str, store: Store) -> None:
    customer, ticket = hand_off(bot, store, "web", "es")
    store.link_identity(store.customer_for_identity("web", customer.sender_id).id, "sms", sms_sender(phone := new_phone()))

    assert sms(bot, phone, "/restart") == []  # the customer's SMS goes to the ticket, like any other

    assert store.open_ticket_for_identity("web", customer.sender_id).id == ticket
    assert "customer (sms): /restart" in store.open_ticket_for_identity("web", customer.sender_id).transcript
    assert agent(bot, "POST", f"/tickets/{ticket}/release").ok


def test_the_agents_answer_and_the_release_reach_the_page_without_a_reload(
    bot: str, store: Store, browser: WebDriver  # noqa: F811 (the fixture imported above)
) -> None:
    page = browser
    page.get(f"{bot}/webhooks/web/")
    page.delete_all_cookies()
    page.execute_script("localStorage.clear();")
    page.refresh()
    handoff = [bubble.text for bubble in say(page, "I want to talk to a human")]
    assert [name for name, _ in names(handoff)] == ["utter_handoff", "utter_handoff_ticket"]
    ticket = store.open_ticket_for_identity("web", session_sender(page)).id
    page.execute_script("window.notReloaded = true;")

    sent = agent(bot, "POST", f"/tickets/{ticket}/messages", json={"text": "Hi, this is Ana from the team. I'm on it."})
    assert sent.status_code == 200 and sent.json()["delivered"] is True
    shown = wait_for_bot_bubble(page, lambda text: text == "Hi, this is Ana from the team. I'm on it.")
    released = agent(bot, "POST", f"/tickets/{ticket}/release")
    assert released.json()["delivered"] is True
    wait_for_bot_bubble(page, lambda text: identify(text) == ("utter_handoff_released", "en"))

    assert page.execute_script("return window.notReloaded === true;")
    assert shown.get_attribute("dir") == "ltr"
    assert identify(say(page, "hello")[0].text) == ("utter_greet", "en")
    assert [bubble.text for bubble in bubbles(page, "bot")].count("Hi, this is Ana from the team. I'm on it.") == 1


def wait_for_bot_bubble(page: WebDriver, matches: Callable[[str], bool]):
    WebDriverWait(page, REPLY_TIMEOUT_S).until(lambda d: any(matches(bubble.text) for bubble in bubbles(d, "bot")))
    return next(bubble for bubble in bubbles(page, "bot") if matches(bubble.text))


def test_updates_come_from_the_session_only_and_refuse_a_bad_cursor(bot: str, store: Store) -> None:
    url = f"{bot}/webhooks/web/updates"
    assert requests.get(url, timeout=60).status_code == 401
    chat = WebChat(bot).start()
    for bad in ("abc", "nan", "inf", "-1", "1" * 40):
        answer = chat.http.get(url, params={"after": bad}, timeout=60)
        assert answer.status_code == 400 and "'after'" in answer.json()["error"], bad
    start = chat.http.get(url, timeout=60).json()
    assert start["messages"] == []

    chat.say("quiero hablar con una persona")
    ticket = store.open_ticket_for_identity("web", chat.sender).id
    assert agent(bot, "POST", f"/tickets/{ticket}/messages", json={"text": "Hola, soy Ana."}).json()["delivered"]
    # Another browser's session, whatever the query says, sees nothing of this conversation.
    other = WebChat(bot).start()
    assert other.http.get(url, params={"after": "0", "sender": chat.sender}, timeout=60).json()["messages"] == []

    first = chat.http.get(url, params={"after": start["cursor"]}, timeout=60).json()
    assert [(m["recipient_id"], m["text"]) for m in first["messages"]] == [(chat.sender, "Hola, soy Ana.")]
    assert chat.http.get(url, params={"after": first["cursor"]}, timeout=60).json()["messages"] == []
    assert agent(bot, "POST", f"/tickets/{ticket}/release").ok
    released = chat.http.get(url, params={"after": first["cursor"]}, timeout=60).json()["messages"]
    assert [identify(m["text"]) for m in released] == [("utter_handoff_released", "es")]


def test_an_sms_customer_gets_the_agents_answer_and_the_release_by_twilios_api(
    bot: str, store: Store, twilio_api: StandIn
) -> None:
    customer, ticket = hand_off(bot, store, "sms", "ar")
    to_customer = lambda request: request.form().get("To") == [customer.phone]  # noqa: E731

    sent = agent(bot, "POST", f"/tickets/{ticket}/messages", json={"text": "مرحبا، أنا سارة من فريق الدعم."})

    assert sent.json()["delivered"] is True
    [message] = twilio_api.wait_for(to_customer)
    assert message.path == TWILIO_MESSAGES_PATH and message.form()["From"] == [BOT_NUMBER]
    assert message.form()["Body"] == ["مرحبا، أنا سارة من فريق الدعم."]
    assert agent(bot, "POST", f"/tickets/{ticket}/release").json()["delivered"] is True
    # The release in Arabic may take more than one SMS: its parts, after the agent's answer.
    release = lambda: identify(" ".join(part.form()["Body"][0] for part in twilio_api.received(to_customer)[1:]))  # noqa: E731
    twilio_api.wait_for(to_customer, count=2)
    assert release() == ("utter_handoff_released", "ar")
    assert identify(customer.say(HANDOFF["ar"][1])[0]) == ("utter_ask_order_number", "ar")


def test_a_slack_customer_gets_the_agents_answer_and_the_release_in_their_channel(
    bot: str, store: Store, slack_api: StandIn
) -> None:
    user, channel = f"U{uuid.uuid4().hex[:10].upper()}", f"D{uuid.uuid4().hex[:10].upper()}"
    in_channel = lambda request: request.path == SLACK_POST_MESSAGE and request.json()["channel"] == channel  # noqa: E731
    assert send(bot, message_event(HANDOFF["es"][0], user, channel)).status_code == 200
    slack_api.wait_for(in_channel, count=2, timeout=120)  # utter_handoff, utter_handoff_ticket
    ticket = store.open_ticket_for_identity("slack", f"slack:{TEAM}:{user}").id

    sent = agent(bot, "POST", f"/tickets/{ticket}/messages", json={"text": "Hi, this is Ana from the team."})

    assert sent.json()["delivered"] is True
    assert slack_api.wait_for(in_channel, count=3)[2].json()["text"] == "Hi, this is Ana from the team."
    assert agent(bot, "POST", f"/tickets/{ticket}/release").json()["delivered"] is True
    assert identify(slack_api.wait_for(in_channel, count=4)[3].json()["text"]) == ("utter_handoff_released", "es")


def test_a_rest_guest_who_was_handed_off_is_held_on_rest_until_released(bot: str, store: Store) -> None:
    customer, ticket = hand_off(bot, store, "rest", "zh")
    assert customer.say("还在吗？") == []
    assert "customer (rest): 还在吗？" in store.open_ticket_for_identity("rest", customer.sender_id).transcript
    released = agent(bot, "POST", f"/tickets/{ticket}/release").json()
    assert released["delivered"] is False  # nothing reaches a REST caller: the text is in the answer
    assert [identify(m["text"]) for m in released["messages"]] == [("utter_handoff_released", "zh")]
    assert identify(customer.say(HANDOFF["zh"][1])[0]) == ("utter_ask_order_number", "zh")


@pytest.fixture(scope="module")
def bot_without_actions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[str, Path, str]]:
    """A bot whose action endpoint is a port where nothing listens; yields (URL, log, endpoint)."""
    tmp = tmp_path_factory.mktemp("no-action-server")
    endpoint = f"http://127.0.0.1:{free_port()}/webhook"
    endpoints = tmp / "endpoints.yml"
    endpoints.write_text(ACTION_ENDPOINT.replace("${CS_ACTION_SERVER_URL}", endpoint))
    with running_replicas(tmp, seeded_store(tmp), 1, endpoints=endpoints) as (base,):
        yield base, tmp / "rasa.log", endpoint


@pytest.mark.parametrize("language", ["es", "zh", "ar"])
def test_an_action_server_that_is_down_is_answered_in_the_customers_language(
    bot_without_actions: Tuple[str, Path, str], language: str
) -> None:
    base, log, endpoint = bot_without_actions
    question = HANDOFF[language][1]  # answered by action_order_status, on the action server

    assert names(rest(base, f"down-{uuid.uuid4().hex[:8]}", question)) == [("utter_technical_problem", language)]
    assert names(WebChat(base).start().say(question)) == [("utter_technical_problem", language)]
    assert f"action_server.unreachable url={endpoint} action=action_order_status" in log.read_text()
