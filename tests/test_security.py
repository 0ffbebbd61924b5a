"""Only the customer can be the customer: claims on every channel, forged sessions, closed API.

One real `rasa run` and action server on 127.0.0.1 with REST, the web chat and SMS (requests
signed like Twilio's), the demo sign-in off. Lukas is known on the web (his seeded demo
identity); Maria is linked on SMS, as a one-time code would link her.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Dict, Iterator, List, NamedTuple

import jwt
import pytest
import requests

from bot.sms import sms_sender
from bot.web_session import ALGORITHM, COOKIE
from cs_common.store import OrderStatus, Store
from cs_common.store.seed import demo_sender
from tests.bot.test_sms import AUTH_TOKEN, MARIAS_PHONE, sms
from tests.client import WebChat, rest, texts, tracker
from tests.responses import identify
from tests.servers import API_TOKEN, WEB_SESSION_SECRET, running_bot, seeded_store

pytestmark = pytest.mark.slow

CREDENTIALS = """
bot.rest.GuestRestInput:
bot.web.WebChatInput:
bot.sms.TwilioSmsInput:
  auth_token: ${TWILIO_AUTH_TOKEN}
"""
LUKAS_EMAIL = "lukas.schneider@example.com"
LUKAS_ORDER = "20001"
MARIAS_ORDER = "10001"
WHO_AM_I = "what do you know about me?"


class Bot(NamedTuple):
    url: str
    store: Store


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    tmp = tmp_path_factory.mktemp("security")
    store_url = seeded_store(tmp)
    store = Store(store_url)
    maria = store.customer_for_identity("web", demo_sender("maria"))
    store.link_identity(maria.id, "sms", sms_sender(MARIAS_PHONE))
    credentials = tmp / "credentials.yml"
    credentials.write_text(CREDENTIALS)
    with running_bot(tmp, store_url, extra_env={"TWILIO_AUTH_TOKEN": AUTH_TOKEN}, credentials=credentials) as url:
        yield Bot(url, store)
    store.close()


def names(replies: List[str]) -> List[str]:
    return [(identify(reply) or ("?", None))[0] for reply in replies]


def session_cookie(sender: str, secret: str = WEB_SESSION_SECRET, expires_in: dt.timedelta = dt.timedelta(hours=1)) -> Dict[str, str]:
    now = dt.datetime.now(dt.timezone.utc)
    return {COOKIE: jwt.encode({"sub": sender, "iat": now, "exp": now + expires_in}, secret, algorithm=ALGORITHM)}


def web_with(bot: Bot, cookies: Dict[str, str], message: str, **body: str) -> requests.Response:
    return requests.post(f"{bot.url}/webhooks/web/webhook", json={"message": message, **body}, cookies=cookies, timeout=60)


def assert_lukas_unreachable(bot: Bot, say) -> None:
    """`say(message)` talks as somebody claiming to be Lukas: no data, no cancelled order."""
    shown = say(WHO_AM_I)
    assert not any(LUKAS_EMAIL in reply or "Schneider" in reply for reply in shown), shown
    say("where is my order?")
    assert names(say(LUKAS_ORDER))[:1] == ["utter_ask_order_contact"]  # a guest: the order's email, please
    cancel = say(f"I want to cancel order {LUKAS_ORDER}")
    assert "utter_ask_cancel_confirmation" not in names(cancel)
    say("yes")
    lukas = bot.store.customer_for_identity("web", demo_sender("lukas"))
    assert bot.store.order_for_customer(lukas.id, LUKAS_ORDER).status is OrderStatus.PROCESSING


@pytest.mark.parametrize(
    "claim",
    [{"sender": "lukas"}, {"sender": demo_sender("lukas")}, {"sender": "lukas", "input_channel": "web"},
     {"sender": demo_sender("lukas"), "input_channel": "web"}],
)
def test_a_rest_caller_claiming_a_customer_is_a_guest(bot: Bot, claim: Dict[str, str]) -> None:
    assert_lukas_unreachable(bot, lambda message: rest(bot.url, message=message, **claim))
    events = [e for e in tracker(bot.url, f"rest:{claim['sender']}")["events"] if e["event"] == "user"]
    assert events and {e["input_channel"] for e in events} == {"rest"}


def test_a_rest_caller_cannot_link_an_account_or_be_sent_a_code(bot: Bot) -> None:
    """A guest is told linking is not possible here, and no code form starts."""
    replies = rest(bot.url, "link-try", "link my account, my email is lukas.schneider@example.com")
    assert names(replies) == ["utter_link_unavailable_here"], replies
    events = [e for e in tracker(bot.url, "rest:link-try")["events"] if e["event"] == "active_loop"]
    assert not any(e.get("name") == "link_code_form" for e in events), "no code form for a guest"


def test_a_web_page_cannot_choose_its_sender(bot: Bot) -> None:
    chat = WebChat(bot.url).start()
    assert_lukas_unreachable(bot, lambda message: texts(chat.post(message, sender=demo_sender("lukas"))))
    assert chat.sender.startswith("web:") and chat.sender != demo_sender("lukas")


def test_the_web_webhook_without_a_session_is_refused(bot: Bot) -> None:
    reply = requests.post(f"{bot.url}/webhooks/web/webhook", json={"sender": demo_sender("lukas"), "message": WHO_AM_I}, timeout=60)
    assert reply.status_code == 401 and "session" in reply.json()["error"]


def test_a_session_signed_by_the_server_is_the_customer(bot: Bot) -> None:
    """The control for the refusals below: the very same request with a genuine session works."""
    greeting = texts(web_with(bot, session_cookie(demo_sender("lukas")), "/greet"))
    assert names(greeting)[:1] == ["utter_greet_customer"] and "Lukas" in greeting[0]


@pytest.mark.parametrize(
    "cookies, reason",
    [
        (session_cookie(demo_sender("lukas"), secret="not-the-server-secret-" + "x" * 20), "not one this server issued"),
        (session_cookie(demo_sender("lukas"), expires_in=-dt.timedelta(seconds=5)), "expired"),
        ({COOKIE: "web:demo-lukas"}, "not one this server issued"),
    ],
    ids=["forged", "expired", "not-a-token"],
)
def test_a_forged_or_expired_session_is_refused(bot: Bot, cookies: Dict[str, str], reason: str) -> None:
    reply = web_with(bot, cookies, WHO_AM_I)
    assert reply.status_code == 401 and reason in reply.json()["error"]


def test_a_tampered_session_is_refused(bot: Bot) -> None:
    header, _, signature = session_cookie("web:" + "0" * 32)[COOKIE].split(".")
    claims = {"sub": demo_sender("lukas"), "exp": int(time.time()) + 3600}
    payload = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    reply = web_with(bot, {COOKIE: f"{header}.{payload}.{signature}"}, WHO_AM_I)
    assert reply.status_code == 401


def test_the_session_endpoint_replaces_a_bad_session_with_a_guest_one(bot: Bot) -> None:
    forged = session_cookie(demo_sender("lukas"), secret="s" * 40)
    reply = requests.post(f"{bot.url}/webhooks/web/session", json={}, cookies=forged, timeout=60)
    assert reply.status_code == 200 and reply.json()["new"] is True and reply.json()["replaced"]
    cookie = reply.cookies.get(COOKIE)
    sender = jwt.decode(cookie, WEB_SESSION_SECRET, algorithms=[ALGORITHM])["sub"]
    assert sender.startswith("web:") and sender != demo_sender("lukas")
    set_cookie = reply.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie and "path=/webhooks/web/" in set_cookie


def test_demo_sign_in_is_off_unless_turned_on(bot: Bot) -> None:
    reply = requests.get(f"{bot.url}/webhooks/web/demo/lukas", allow_redirects=False, timeout=60)
    assert reply.status_code == 404 and COOKIE not in reply.cookies


def test_a_customer_linked_on_sms_is_reachable_by_sms_only(bot: Bot) -> None:
    assert "Maria" in sms(bot.url, MARIAS_PHONE, "/greet")[0]  # the control: signed by Twilio, from her number
    for claim in ({"sender": MARIAS_PHONE}, {"sender": sms_sender(MARIAS_PHONE), "input_channel": "sms"}):
        greeting = rest(bot.url, message="/greet", **claim)
        assert names(greeting)[:1] == ["utter_greet"] and not any("Maria" in reply for reply in greeting)
        rest(bot.url, message="where is my order?", **claim)
        assert names(rest(bot.url, message=MARIAS_ORDER, **claim))[:1] == ["utter_ask_order_contact"]
    chat = WebChat(bot.url).start()
    for sender in (MARIAS_PHONE, sms_sender(MARIAS_PHONE)):
        greeting = texts(chat.post("/greet", sender=sender))
        assert names(greeting)[:1] == ["utter_greet"] and not any("Maria" in reply for reply in greeting)


def test_an_sms_without_twilios_signature_is_refused(bot: Bot) -> None:
    form = {"From": MARIAS_PHONE, "Body": WHO_AM_I, "MessageSid": "SM" + "a" * 32}
    reply = requests.post(f"{bot.url}/webhooks/sms/webhook", data=form, timeout=60)
    assert reply.status_code in (401, 403)


@pytest.mark.parametrize(
    "method, path, body",
    [("GET", f"/conversations/{demo_sender('lukas')}/tracker", None),
     ("POST", f"/conversations/{demo_sender('lukas')}/execute", {"name": "action_export_data"}),
     ("PUT", "/model", {"model_server": {"url": "http://127.0.0.1:9/model.tar.gz"}}),
     ("GET", "/status", None)],
)
def test_the_http_api_needs_the_token(bot: Bot, method: str, path: str, body: object) -> None:
    assert requests.request(method, f"{bot.url}{path}", json=body, timeout=60).status_code in (401, 403)
    assert requests.request(method, f"{bot.url}{path}", json=body, params={"token": "wrong"}, timeout=60).status_code in (401, 403)


def test_the_http_api_answers_with_the_token(bot: Bot) -> None:
    assert requests.get(f"{bot.url}/status", params={"token": API_TOKEN}, timeout=60).status_code == 200


@pytest.mark.parametrize("path", ["/webhooks/web/", "/webhooks/web/static/chat.js"])
def test_a_foreign_host_header_is_refused(bot: Bot, path: str) -> None:
    assert requests.get(f"{bot.url}{path}", headers={"Host": "evil.example:5005"}, timeout=60).status_code == 403
    assert requests.get(f"{bot.url}{path}", headers={"Host": "localhost:5005"}, timeout=60).status_code == 200


def test_a_foreign_host_cannot_start_a_session_or_talk(bot: Bot) -> None:
    foreign = {"Host": "rebound.example"}
    assert requests.post(f"{bot.url}/webhooks/web/session", json={}, headers=foreign, timeout=60).status_code == 403
    reply = requests.post(f"{bot.url}/webhooks/rest/webhook", json={"sender": "x", "message": "hi"}, headers=foreign, timeout=60)
    assert reply.status_code == 403 and "CS_ALLOWED_HOSTS" in reply.json()["error"]


def test_the_web_chat_takes_json_only(bot: Bot) -> None:
    """A form on another site can post text/plain without asking the browser; JSON it cannot."""
    for path in ("session", "webhook"):
        reply = requests.post(f"{bot.url}/webhooks/web/{path}", data='{"restart": true}', headers={"Content-Type": "text/plain"}, timeout=60)
        assert reply.status_code == 415 and "application/json" in reply.json()["error"]
