"""Slack's side of bot/slack.py without `rasa run`: what an event or a click means (sender ids,
workspaces, threads, mentions), what is refused, how replies are escaped, and the signature check
of the webhook, through its blueprint in a real Sanic app on 127.0.0.1.

tests/bot/test_slack.py runs the same channel end to end against a real bot.
"""

from __future__ import annotations

import json
from typing import Iterator
from urllib.parse import urlencode

import pytest
import requests
from rasa.shared.exceptions import InvalidConfigException

from cs_common.store import Store
from bot.http_limits import MAX_WEBHOOK_BODY_BYTES
from bot.slack import (
    MAX_BUTTON_TITLE,
    SlackInput,
    SlackMessage,
    api_url,
    button_blocks,
    button_click,
    challenge,
    event_message,
    required,
    slack_escaped,
    slack_text,
)
from bot.validation import InvalidInput
from tests.bot.test_slack import SIGNING_SECRET, TEAM, TOKEN, message_event, signature_headers
from tests.servers import serving_channel

JSON = {"Content-Type": "application/json"}


def click_body(**payload: object) -> bytes:
    click = {
        "type": "block_actions", "user": {"id": "U1"}, "team": {"id": TEAM}, "channel": {"id": "C1"},
        "container": {"thread_ts": "1700000000.000100"}, "actions": [{"value": "/affirm", "action_ts": "1700000001.000200"}],
        **payload,
    }
    return urlencode({"payload": json.dumps(click)}).encode()


# -- events and clicks ----------------------------------------------------------------------


def test_a_message_event_is_the_user_in_their_workspace_and_thread() -> None:
    envelope = message_event("<@UBOT> where is &lt;my&gt; order &amp; invoice?", "U1", "D1", thread_ts="1700000000.000100")
    message = event_message(envelope)
    assert message == SlackMessage("where is <my> order & invoice?", "U1", "D1", TEAM, "1700000000.000100")
    assert message.sender_id == f"slack:{TEAM}:U1"
    assert message.metadata("es-ES") == {
        "slack_user": "U1", "slack_channel": "D1", "slack_team": TEAM, "thread_ts": "1700000000.000100", "locale": "es-ES",
    }


def test_the_same_user_id_in_two_workspaces_is_two_senders() -> None:
    other_workspace = message_event("hola", "U1", "D1")
    other_workspace["team_id"] = other_workspace["event"]["team"] = "TOTHER"
    here, elsewhere = event_message(message_event("hola", "U1", "D1")), event_message(other_workspace)
    assert here.sender_id == f"slack:{TEAM}:U1" and elsewhere.sender_id == "slack:TOTHER:U1"


def test_the_team_comes_from_the_envelope_when_the_event_has_none() -> None:
    envelope = message_event("hola", "U1", "D1")
    del envelope["event"]["team"]
    assert event_message(envelope).team == TEAM
    assert event_message({"event": envelope["event"]}).sender_id == "slack:-:U1"  # no workspace at all


@pytest.mark.parametrize(
    "fields",
    [{"bot_id": "B1"}, {"subtype": "bot_message"}, {"subtype": "message_changed"}, {"subtype": "message_deleted"}],
)
def test_posts_by_bots_edits_and_deletions_are_not_answered(fields: dict) -> None:
    assert event_message(message_event("hola", "U1", "D1", **fields)) is None


@pytest.mark.parametrize("envelope", [{}, {"event": "x"}, {"event": {"type": 5}}, {"event": {"type": "reaction_added"}}])
def test_other_events_are_not_answered(envelope: dict) -> None:
    assert event_message(envelope) is None


@pytest.mark.parametrize(
    "fields, reason",
    [({"text": 42}, "'text' must be a string"), ({"text": "<@UBOT>"}, "'message' is empty"), ({"user": None}, "'sender'"),
     ({"channel": "../x"}, "'channel' must be a Slack id"), ({"thread_ts": "1 2"}, "'thread_ts'"), ({"team": "T" * 65}, "'team'")],
)
def test_a_malformed_message_event_is_refused_with_a_reason(fields: dict, reason: str) -> None:
    envelope = message_event("hola", "U1", "D1")
    envelope["event"].update(fields)
    with pytest.raises(InvalidInput, match=reason):
        event_message(envelope)


def test_a_button_click_says_the_buttons_value_in_its_thread() -> None:
    message, action_ts = button_click(click_body())
    assert message == SlackMessage("/affirm", "U1", "C1", TEAM, "1700000000.000100")
    assert action_ts == "1700000001.000200"


def test_other_interactive_payloads_are_not_clicks() -> None:
    assert button_click(click_body(type="view_submission")) is None


@pytest.mark.parametrize(
    "body, reason",
    [(b"foo=bar", "no 'payload' field"), (b"payload=%7Bnot", "not valid JSON"), (b"payload=\xff", "not valid UTF-8"),
     (b"&".join(b"f%d=1" % n for n in range(20)), "more than 10 fields"), (click_body(actions=[]), "'actions'"),
     (click_body(actions=[{"value": "x"}]), "'action_ts'"), (click_body(actions=[{"action_ts": "1.2"}]), "'message'")],
)
def test_a_malformed_click_is_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        button_click(body)


@pytest.mark.parametrize("value", [None, "", "x" * 201, 7])
def test_a_url_verification_challenge_must_be_a_short_string(value: object) -> None:
    with pytest.raises(InvalidInput, match="'challenge'"):
        challenge({"challenge": value})
    assert challenge({"challenge": "abc"}) == "abc"


# -- replies ----------------------------------------------------------------------------------


def test_replies_are_escaped_so_user_text_cannot_ping_or_link() -> None:
    assert slack_escaped("<!channel> & <https://x.example|click>") == "&lt;!channel&gt; &amp; &lt;https://x.example|click&gt;"
    assert slack_text(slack_escaped("a <b> & c")) == "a <b> & c"


def test_buttons_are_block_kit_with_their_payload_and_titles_slack_accepts() -> None:
    buttons = [{"title": "Sí <ya>", "payload": "/affirm"}, {"title": "x" * 100, "payload": '/inform{"order": "1"}'}]
    section, actions = button_blocks("¿Cancelo <el> pedido?", buttons)
    assert section["text"]["text"] == "¿Cancelo &lt;el&gt; pedido?"
    assert [element["value"] for element in actions["elements"]] == ["/affirm", '/inform{"order": "1"}']
    assert [len(element["text"]["text"]) for element in actions["elements"]] == [len("Sí <ya>"), MAX_BUTTON_TITLE]
    assert len({element["action_id"] for element in actions["elements"]}) == 2


# -- settings ---------------------------------------------------------------------------------


def test_a_missing_credential_names_the_key_the_variable_and_where_to_find_it() -> None:
    for credentials in ({}, {"slack_token": "  "}, {"slack_token": 5}):
        with pytest.raises(InvalidConfigException, match=r"`slack_token: \$\{SLACK_BOT_TOKEN\}`.*\(OAuth"):
            required(credentials, "slack_token", "SLACK_BOT_TOKEN", "OAuth")
    assert required({"slack_token": " xoxb-1 "}, "slack_token", "SLACK_BOT_TOKEN", "OAuth") == "xoxb-1"


def test_the_api_url_must_be_http_and_ends_with_a_slash() -> None:
    assert api_url("http://127.0.0.1:9/api") == api_url("http://127.0.0.1:9/api/") == "http://127.0.0.1:9/api/"
    with pytest.raises(InvalidConfigException, match="http"):
        api_url("file:///etc/passwd")


# -- the webhook, in a Sanic app of this process ----------------------------------------------


@pytest.fixture(scope="module")
def webhook(store: Store) -> Iterator[str]:
    # Nothing here reaches Slack's API: no test sends a message the channel would answer.
    channel = SlackInput(TOKEN, SIGNING_SECRET, store, api_url="http://127.0.0.1:9/api/")
    with serving_channel(channel) as base:
        yield f"{base}/webhooks/slack/webhook"


def url_verification(value: str = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P") -> bytes:
    return json.dumps({"type": "url_verification", "token": "x", "challenge": value}).encode()


def test_a_signed_url_verification_is_answered_with_its_challenge(webhook: str) -> None:
    body = url_verification()
    reply = requests.post(webhook, data=body, headers={**signature_headers(body), **JSON}, timeout=30)
    assert reply.status_code == 200 and reply.json() == {"challenge": json.loads(body)["challenge"]}


@pytest.mark.parametrize(
    "headers_of",
    [
        lambda body: {},
        lambda body: signature_headers(body, secret="another-apps-secret"),
        lambda body: signature_headers(body, age_s=6 * 60),  # a replay: older than 5 minutes
        lambda body: signature_headers(body + b" "),  # the signature of another body
        lambda body: {**signature_headers(body), "X-Slack-Request-Timestamp": "soon"},
        lambda body: {**signature_headers(body), "X-Slack-Signature": "v0=ünïcode"},
    ],
    ids=["unsigned", "other secret", "replayed", "other body", "timestamp not a number", "signature not hex"],
)
def test_a_request_slack_did_not_sign_just_now_is_refused_before_it_is_read(webhook: str, headers_of) -> None:
    body = url_verification()
    reply = requests.post(webhook, data=body, headers={**headers_of(body), **JSON}, timeout=30)
    assert reply.status_code == 401
    assert "signature" in reply.json()["error"]


def test_a_body_over_the_webhook_limit_is_refused_before_its_signature_is_checked(webhook: str) -> None:
    body = url_verification("a" * MAX_WEBHOOK_BODY_BYTES)
    reply = requests.post(webhook, data=body, headers=JSON, timeout=30)
    assert reply.status_code == 413
    assert str(MAX_WEBHOOK_BODY_BYTES) in reply.json()["error"]


@pytest.mark.parametrize("body", [b"[]", b"{not json", url_verification("")])
def test_a_signed_body_that_makes_no_sense_is_a_400_with_a_reason(webhook: str, body: bytes) -> None:
    reply = requests.post(webhook, data=body, headers={**signature_headers(body), **JSON}, timeout=30)
    assert reply.status_code == 400 and reply.json()["error"]
