"""The Slack channel end to end: a real `rasa run` receives requests signed the way Slack signs
them, and answers through the real slack_sdk client pointed at a stand-in Slack Web API."""

from __future__ import annotations

import hashlib
import hmac
import html
import itertools
import json
import re
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional
from urllib.parse import urlencode

import pytest
import requests

from cs_common.store.seed import demo_sender
from tests.bot.stand_in import SLACK_POST_MESSAGE, SLACK_USERS_INFO, Recorded, StandIn, running_slack_api
from tests.client import tracker
from tests.responses import identify
from tests.servers import API_TOKEN, running_bot

pytestmark = pytest.mark.slow

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-test-token"
TEAM = "TNORDHAVEN"
LOCALE = "es-ES"
LUKAS = "ULUKAS0001"  # linked to the seeded customer Lukas (German, order 20001 processing)
LUKAS_ORDER = "20001"
QUIET_S = 2.0  # how long "nothing happened" is watched for
SLOW_API_S = 3.0
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
CREDENTIALS = """\
bot.rest.GuestRestInput:
bot.slack.SlackInput:
  slack_token: ${{SLACK_BOT_TOKEN}}
  slack_signing_secret: ${{SLACK_SIGNING_SECRET}}
  slack_api_url: "{api}/api/"
"""
USER_INFO = {"ok": True, "user": {"id": "U", "locale": LOCALE}}
_serial = itertools.count(1)


@pytest.fixture(scope="module")
def slack_api() -> Iterator[StandIn]:
    with running_slack_api(USER_INFO) as api:
        yield api


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory, slack_api: StandIn) -> Iterator[str]:
    from cs_common.store.repository import Store
    from cs_common.store.seed import reset

    tmp = tmp_path_factory.mktemp("slack")
    store_url = f"sqlite:///{tmp / 'store.db'}"
    reset(store_url)
    store = Store(store_url)
    store.link_identity(store.customer_for_identity("web", demo_sender("lukas")).id, "slack", slack_sender(LUKAS))
    store.close()
    credentials = tmp / "credentials.yml"
    credentials.write_text(CREDENTIALS.format(api=slack_api.url))
    secrets = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
    with running_bot(tmp, store_url, extra_env=secrets, credentials=credentials) as base:
        yield base


# -- Slack's side ---------------------------------------------------------------------------


def signature_headers(body: bytes, secret: str = SIGNING_SECRET, age_s: float = 0) -> Dict[str, str]:
    """Exactly what Slack sends: v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")."""
    timestamp = str(int(time.time() - age_s))
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}


def message_event(text: Any, user: str, channel: str, kind: str = "message", **fields: Any) -> Dict[str, Any]:
    """An Events API envelope around a message, with a fresh event id and message ts."""
    ts = f"{int(time.time())}.{next(_serial):06d}"
    event = {"type": kind, "user": user, "text": text, "channel": channel, "ts": ts, "team": TEAM, **fields}
    return {"type": "event_callback", "team_id": TEAM, "api_app_id": "ANORDHAVEN", "event_id": f"Ev{next(_serial):08d}", "event": event}


def button_click(user: str, channel: str, value: str, thread_ts: Optional[str] = None) -> Dict[str, Any]:
    container = {"type": "message", "channel_id": channel, "message_ts": "1700000000.000100"}
    if thread_ts:
        container["thread_ts"] = thread_ts
    return {
        "type": "block_actions", "user": {"id": user}, "team": {"id": TEAM}, "channel": {"id": channel},
        "container": container, "trigger_id": f"{next(_serial)}.{next(_serial)}.abc",
        "actions": [{"type": "button", "action_id": "button_1", "value": value, "action_ts": f"{int(time.time())}.{next(_serial):06d}"}],
    }


def post(bot: str, body: bytes, headers: Dict[str, str], content_type: str = JSON) -> requests.Response:
    return requests.post(f"{bot}/webhooks/slack/webhook", data=body, headers={**headers, "Content-Type": content_type}, timeout=10)


def send(bot: str, envelope: Dict[str, Any], **headers: str) -> requests.Response:
    body = json.dumps(envelope).encode()
    return post(bot, body, {**signature_headers(body), **headers})


def form_body(payload: Dict[str, Any]) -> bytes:
    """How Slack posts interactive payloads: a form with one `payload` field holding JSON."""
    return urlencode({"payload": json.dumps(payload)}).encode()


def send_click(bot: str, click: Dict[str, Any]) -> requests.Response:
    body = form_body(click)
    return post(bot, body, signature_headers(body), FORM)


# -- what the bot did -----------------------------------------------------------------------


def posted_to(channel: str) -> Callable[[Recorded], bool]:
    return lambda request: request.path == SLACK_POST_MESSAGE and request.json().get("channel") == channel


def reply_of(request: Recorded) -> tuple:
    """(response name, language) of a posted reply; Slack-escaped text is unescaped first."""
    return identify(html.unescape(request.json()["text"]))


def slack_sender(user: str, team: str = TEAM) -> str:
    """The sender id bot/slack.py gives a user of a workspace."""
    return f"slack:{team}:{user}"


def user_events(bot: str, user: str) -> List[Dict[str, Any]]:
    return [event for event in tracker(bot, slack_sender(user))["events"] if event["event"] == "user"]


def wait_for_user_events(bot: str, sender: str, count: int, timeout: float = 10) -> List[Dict[str, Any]]:
    """Rasa saves the tracker after sending the replies: poll until it has `count` user events."""
    deadline = time.monotonic() + timeout
    while len(events := user_events(bot, sender)) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    return events


def assert_nothing_answered(bot: str, slack_api: StandIn, user: str, channel: str) -> None:
    time.sleep(QUIET_S)
    assert slack_api.received(posted_to(channel)) == []
    assert slack_api.received(lambda r: r.path == SLACK_USERS_INFO and r.query.get("user") == [user]) == []
    assert user_events(bot, user) == []


# -- tests ----------------------------------------------------------------------------------


def test_a_signed_spanish_message_is_answered_in_spanish_in_its_channel(bot: str, slack_api: StandIn) -> None:
    reply = send(bot, message_event("¿Dónde está mi pedido?", "UES0000001", "DES0000001", channel_type="im"))
    assert reply.status_code == 200
    [posted] = slack_api.wait_for(posted_to("DES0000001"))
    assert reply_of(posted) == ("utter_ask_order_number", "es")
    assert "thread_ts" not in posted.json()
    assert posted.headers["authorization"] == f"Bearer {TOKEN}"


def test_the_tracker_keeps_the_order_the_slack_ids_and_the_users_locale(bot: str, slack_api: StandIn) -> None:
    texts = ["¿Dónde está mi pedido?", "gracias"]
    slack_api.answer(SLACK_USERS_INFO, USER_INFO, delay_s=1.0)  # both messages arrive while the locale is looked up
    try:
        for text in texts:
            send(bot, message_event(text, "UMETA00001", "DMETA00001"))
        slack_api.wait_for(posted_to("DMETA00001"), count=2)
    finally:
        slack_api.answer(SLACK_USERS_INFO, USER_INFO)
    events = wait_for_user_events(bot, "UMETA00001", count=2)
    assert [event["text"] for event in events] == texts
    assert {event["input_channel"] for event in events} == {"slack"}
    slack_metadata = {"slack_user": "UMETA00001", "slack_channel": "DMETA00001", "slack_team": TEAM, "locale": LOCALE}
    assert events[0]["metadata"].items() >= slack_metadata.items()  # Rasa adds model_id, assistant_id
    lookups = slack_api.received(lambda r: r.path == SLACK_USERS_INFO and r.query.get("user") == ["UMETA00001"])
    assert len(lookups) == 1, "one look-up, shared by both messages"
    assert lookups[0].query["include_locale"] in (["1"], ["true"])


def test_a_mention_in_a_thread_is_acknowledged_at_once_and_answered_in_the_thread(bot: str, slack_api: StandIn) -> None:
    slack_api.answer(SLACK_USERS_INFO, USER_INFO, delay_s=SLOW_API_S)
    try:
        thread = "1700000000.000200"
        envelope = message_event("<@UNORDHAVEN> ¿Dónde está mi pedido?", "UTHREAD001", "CTHREAD001", "app_mention", thread_ts=thread)
        reply = send(bot, envelope)
        assert reply.status_code == 200 and reply.elapsed.total_seconds() < SLOW_API_S / 2
        [posted] = slack_api.wait_for(posted_to("CTHREAD001"))
    finally:
        slack_api.answer(SLACK_USERS_INFO, USER_INFO)
    assert reply_of(posted) == ("utter_ask_order_number", "es")
    assert posted.json()["thread_ts"] == thread


def test_unsigned_forged_or_replayed_requests_get_401_and_nothing_is_processed(bot: str, slack_api: StandIn) -> None:
    body = json.dumps(message_event("¿Dónde está mi pedido?", "UFORGED001", "DFORGED001")).encode()
    other = json.dumps(message_event("hola", "UFORGED001", "DFORGED001")).encode()
    forgeries = {
        "unsigned": {},
        "wrong secret": signature_headers(body, secret="not-the-signing-secret"),
        "signature of another body": signature_headers(other),
        "6 minutes old": signature_headers(body, age_s=360),
        "6 minutes in the future": signature_headers(body, age_s=-360),
        "timestamp not a number": {**signature_headers(body), "X-Slack-Request-Timestamp": "soon"},
        "signature not hex": {**signature_headers(body), "X-Slack-Signature": "v0=" + "é" * 64},
    }
    statuses = {name: post(bot, body, headers).status_code for name, headers in forgeries.items()}
    assert statuses == {name: 401 for name in forgeries}
    assert_nothing_answered(bot, slack_api, "UFORGED001", "DFORGED001")


def test_url_verification_is_answered_only_when_signed(bot: str) -> None:
    body = json.dumps({"type": "url_verification", "token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}).encode()
    for age_s in (0, 240):
        reply = post(bot, body, signature_headers(body, age_s=age_s))
        assert reply.status_code == 200
        assert reply.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    assert post(bot, body, {}).status_code == 401


def test_a_retried_or_twin_delivery_is_acknowledged_and_answered_once(bot: str, slack_api: StandIn) -> None:
    envelope = message_event("¿Dónde está mi pedido?", "URETRY0001", "CRETRY0001")
    twin = {**envelope, "event_id": "EvTWIN0001", "event": {**envelope["event"], "type": "app_mention"}}
    deliveries = [
        send(bot, envelope),
        send(bot, envelope, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}),
        send(bot, envelope, **{"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_timeout"}),
        send(bot, twin),
    ]
    assert [reply.status_code for reply in deliveries] == [200] * 4
    slack_api.wait_for(posted_to("CRETRY0001"))
    time.sleep(QUIET_S)
    assert len(slack_api.received(posted_to("CRETRY0001"))) == 1
    assert len(user_events(bot, "URETRY0001")) == 1


def test_a_retry_whose_first_delivery_never_arrived_is_answered(bot: str, slack_api: StandIn) -> None:
    envelope = message_event("¿Dónde está mi pedido?", "ULOST00001", "DLOST00001")
    assert send(bot, envelope, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}).status_code == 200
    [posted] = slack_api.wait_for(posted_to("DLOST00001"))
    assert reply_of(posted) == ("utter_ask_order_number", "es")


def test_buttons_are_block_kit_and_a_click_sends_the_buttons_payload(bot: str, slack_api: StandIn) -> None:
    thread = "1700000000.000300"
    send(bot, message_event("Ich möchte die Bestellung 20001 stornieren", LUKAS, "CLUKAS0001", thread_ts=thread))
    [question] = slack_api.wait_for(posted_to("CLUKAS0001"))
    assert reply_of(question) == ("utter_ask_cancel_confirmation", "de")
    section, actions = question.json()["blocks"]
    assert section["type"] == "section" and section["text"]["text"] == question.json()["text"]
    assert actions["type"] == "actions"
    assert [(button["text"]["text"], button["value"]) for button in actions["elements"]] == [("Ja", "/affirm"), ("Nein", "/deny")]
    assert question.json()["thread_ts"] == thread

    assert send_click(bot, button_click(LUKAS, "CLUKAS0001", "/deny", thread_ts=thread)).status_code == 200
    answer = slack_api.wait_for(posted_to("CLUKAS0001"), count=2)[1]
    assert reply_of(answer) == ("utter_cancel_aborted", "de")
    assert answer.json()["thread_ts"] == thread


def test_a_replayed_button_click_is_acknowledged_and_answered_once(bot: str, slack_api: StandIn) -> None:
    click = button_click("UCLICK0001", "DCLICK0001", "/deny")
    body = form_body(click)
    headers = signature_headers(body)
    assert [post(bot, body, headers, FORM).status_code for _ in range(3)] == [200] * 3
    slack_api.wait_for(posted_to("DCLICK0001"))
    assert send_click(bot, button_click("UCLICK0001", "DCLICK0001", "/deny")).status_code == 200, "a new click"
    slack_api.wait_for(posted_to("DCLICK0001"), count=2)
    time.sleep(QUIET_S)
    assert len(slack_api.received(posted_to("DCLICK0001"))) == 2
    assert len(user_events(bot, "UCLICK0001")) == 2


def test_a_body_that_is_not_utf8_is_refused_even_when_its_hmac_matches(bot: str) -> None:
    body = b'{"type": "event_callback", "event": {"text": "\xff\xfe"}}'
    assert post(bot, body, signature_headers(body)).status_code == 401


def test_lukas_user_id_from_another_workspace_is_not_lukas(bot: str, slack_api: StandIn) -> None:
    """The sender id is `slack:<team>:<user>`: the same user id signed for another team is a stranger."""
    envelope = message_event("wo bleibt meine Bestellung?", LUKAS, "COTHER0001")
    envelope["team_id"] = envelope["event"]["team"] = "TOTHERTEAM"
    send(bot, envelope)
    [posted] = slack_api.wait_for(posted_to("COTHER0001"))
    assert reply_of(posted)[0] == "utter_ask_order_number" and LUKAS_ORDER not in posted.json()["text"]
    send(bot, message_event("wo bleibt meine Bestellung?", LUKAS, "CHOME00001"))  # the control: his own team
    [own] = slack_api.wait_for(posted_to("CHOME00001"))
    assert reply_of(own)[0].startswith("utter_order_status_") and LUKAS_ORDER in own.json()["text"]


def test_bot_posts_edits_and_other_events_are_acknowledged_but_not_answered(bot: str, slack_api: StandIn) -> None:
    user, channel = "UQUIET0001", "CQUIET0001"
    ignored = [
        message_event("hola", user, channel, bot_id="BNORDHAVEN"),
        message_event("hola", user, channel, subtype="bot_message"),
        message_event("hola", user, channel, subtype="message_changed"),
        message_event("hola", user, channel, kind="reaction_added"),
        {"type": "app_rate_limited", "team_id": TEAM, "minute_rate_limited": 1518467820},
    ]
    assert [send(bot, envelope).status_code for envelope in ignored] == [200] * len(ignored)
    assert_nothing_answered(bot, slack_api, user, channel)


def event_body(**event: Any) -> bytes:
    return json.dumps(message_event(**{"user": "UBAD000001", "channel": "DBAD000001", "text": "hola", **event})).encode()


BAD_BODIES = {
    "empty": (b"", JSON, 400),
    "invalid JSON": (b"{not json", JSON, 400),
    "JSON that is no object": (b"[]", JSON, 400),
    "over 100 KB": (event_body(text="a" * 110_000), JSON, 413),
    "only control characters": (event_body(text="\u0000\u0007"), JSON, 400),
    "text that is no string": (event_body(text=42), JSON, 400),
    "no user": (event_body(user=None), JSON, 400),
    "form without payload": (b"foo=bar", FORM, 400),
    "form payload not JSON": (b"payload=%7Bnot", FORM, 400),
    "form not UTF-8": (b"payload=\xff\xfe", FORM, 401),  # SignatureVerifier reads bodies as UTF-8, as Slack sends them
    "button without value": (form_body({**button_click("UBAD000001", "DBAD000001", "x"), "actions": [{"type": "button"}]}), FORM, 400),
    "click without action_ts": (
        form_body({**button_click("UBAD000001", "DBAD000001", "x"), "actions": [{"type": "button", "value": "x"}]}), FORM, 400
    ),
    "form with a thousand fields": (b"&".join(b"f%d=1" % n for n in range(1000)), FORM, 400),
    "5,000 nested arrays": (b"[" * 5000 + b"]" * 5000, JSON, 400),
    "a 5,000-digit number": (b'{"type": ' + b"1" * 5000 + b"}", JSON, 400),
    "NaN": (b'{"type": NaN}', JSON, 400),
    "text of format characters only": (event_body(text="\u202e\u200b\ufeff"), JSON, 400),
    "text with an unpaired surrogate only": (event_body(text="\ud800"), JSON, 400),
}


@pytest.mark.parametrize("body, content_type, status", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_bodies_get_a_4xx_with_a_reason_and_the_bot_keeps_running(bot: str, body: bytes, content_type: str, status: int) -> None:
    reply = post(bot, body, signature_headers(body), content_type)
    assert reply.status_code == status
    assert reply.json()["error"]
    assert requests.get(f"{bot}/status", params={"token": API_TOKEN}, timeout=10).status_code == 200


@pytest.mark.parametrize("key, variable", [("slack_signing_secret", "SLACK_SIGNING_SECRET"), ("slack_token", "SLACK_BOT_TOKEN")])
def test_the_channel_refuses_to_start_without_a_secret_and_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str, variable: str
) -> None:
    """What `rasa run` does with credentials.yml (expand ${VARS}, then from_credentials), in-process:
    a real `rasa run` spends ~45 s importing before it gets there, and stops with this error."""
    from rasa.shared.exceptions import InvalidConfigException
    from rasa.shared.utils.io import read_config_file

    from bot.slack import SlackInput

    credentials = tmp_path / "credentials.yml"
    credentials.write_text(CREDENTIALS.format(api="http://127.0.0.1:9"))
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv(variable, "")
    with pytest.raises(InvalidConfigException, match=re.escape(f"`{key}: ${{{variable}}}`")):
        SlackInput.from_credentials(read_config_file(credentials)["bot.slack.SlackInput"])
