"""The SMS channel end to end: a real `rasa run` and action server, requests signed like Twilio's.

One bot serves the channel twice: `bot.sms.TwilioSmsInput` answering by TwiML at /webhooks/sms/,
and `RestRepliesSmsInput` (below) answering through twilio's REST client at /webhooks/sms_rest/,
pointed at a local stand-in that records what Twilio would have received.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Text, Tuple
from xml.etree import ElementTree

import pytest
import requests
from twilio.request_validator import RequestValidator

from cs_common.store import OrderStatus, Store
from cs_common.store.seed import demo_sender
from bot.sms import SmsSettings, TwilioSmsInput, keyword_of, sms_sender
from bot.twilio_webhook import TwilioConfigError, language_hint
from tests.bot.stand_in import TWILIO_ACCOUNT_SID, TWILIO_MESSAGES_PATH, StandIn, twilio_env
from tests.client import tracker
from tests.responses import identify
from tests.servers import API_TOKEN, BIN, MODEL, free_port, running_bot, server_env

slow = pytest.mark.slow

AUTH_TOKEN = "test-auth-token-0123456789abcdef"
BOT_NUMBER = "+15005550006"
MARIAS_PHONE = "+34612345678"  # the seeded demo customer's number (linked to SMS by a test)
CREDENTIALS = f"""
bot.rest.GuestRestInput:
bot.sms.TwilioSmsInput:
  auth_token: ${{TWILIO_AUTH_TOKEN}}
tests.bot.test_sms.RestRepliesSmsInput:
  auth_token: ${{TWILIO_AUTH_TOKEN}}
  reply_mode: rest
  account_sid: ${{TWILIO_ACCOUNT_SID}}
  twilio_number: "{BOT_NUMBER}"
  api_base_url: ${{TWILIO_API_BASE_URL}}
"""


class RestRepliesSmsInput(TwilioSmsInput):
    """The same channel under a second name, so one bot answers both by TwiML and by REST.

    `rasa run` loads it from this module, by its path in the test's credentials.yml.
    """

    @classmethod
    def name(cls) -> Text:
        return "sms_rest"


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory, store_url: str, twilio_api: StandIn) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("sms-bot")
    credentials = tmp / "credentials.yml"
    credentials.write_text(CREDENTIALS)
    with running_bot(tmp, store_url, extra_env=twilio_env(twilio_api, AUTH_TOKEN), credentials=credentials) as base:
        yield base


def new_phone(country_code: str = "+34") -> str:
    return f"{country_code}6{uuid.uuid4().int % 10**8:08d}"


def twilio_form(phone: str, body: str, message_sid: Optional[str] = None) -> Dict[str, str]:
    """The form Twilio posts for an incoming SMS, blank fields included (they are signed too)."""
    sid = message_sid or f"SM{uuid.uuid4().hex}"
    return {
        "ToCountry": "US", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "", "FromZip": "",
        "SmsSid": sid, "FromState": "", "SmsStatus": "received", "FromCity": "", "Body": body, "FromCountry": "ES",
        "To": BOT_NUMBER, "ToZip": "", "NumSegments": "1", "MessageSid": sid, "AccountSid": TWILIO_ACCOUNT_SID,
        "From": phone, "ApiVersion": "2010-04-01",
    }


def post_signed(
    url: str, form: Dict[str, str], token: str = AUTH_TOKEN, signed_url: Optional[str] = None
) -> requests.Response:
    """POSTs `form` with the X-Twilio-Signature Twilio computes: over the URL and the form."""
    signature = RequestValidator(token).compute_signature(signed_url or url, form)
    return requests.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=60)


def webhook(bot: str, channel: str = "sms") -> str:
    return f"{bot}/webhooks/{channel}/webhook"


def sms(bot: str, phone: str, body: str, message_sid: Optional[str] = None) -> List[str]:
    """Texts the bot like Twilio does; returns the SMS parts of its TwiML answer."""
    answer = post_signed(webhook(bot), twilio_form(phone, body, message_sid))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/xml")
    return [message.text or "" for message in ElementTree.fromstring(answer.content).iter("Message")]


def starts(parts: List[str]) -> List[Optional[Tuple[str, str]]]:
    """The domain responses that the first 1, 2, ... SMS parts spell out (a reply may be several)."""
    return [identify(" ".join(parts[:count])) for count in range(1, len(parts) + 1)]


def user_events(bot: str, phone: str) -> List[dict]:
    """The user events of this number's conversation (sender id `sms:<number>`)."""
    return [event for event in tracker(bot, sms_sender(phone))["events"] if event["event"] == "user"]


# -- settings, without a server -----------------------------------------------------------


@pytest.mark.parametrize(
    "credentials, fix",
    [
        (None, "TWILIO_AUTH_TOKEN"),
        ({"auth_token": ""}, "TWILIO_AUTH_TOKEN"),
        ({"auth_token": "x", "reply_mode": "rest"}, "account_sid and twilio_number"),
        ({"auth_token": "x", "reply_mode": "sms"}, "reply_mode must be one of twiml, rest"),
        ({"auth_token": "x", "replymode": "rest"}, "unknown setting(s) replymode"),
        ({"auth_token": "x", "max_segments": 11}, "max_segments must be a whole number from 1 to 10"),
        ({"auth_token": "x", "public_url": "bot.example.com/sms"}, "public_url must be the full webhook URL"),
    ],
)
def test_unusable_settings_stop_the_channel_with_the_fix(credentials: Optional[dict], fix: str) -> None:
    with pytest.raises(TwilioConfigError, match=fix.replace("(", r"\(").replace(")", r"\)")):
        SmsSettings.from_credentials(credentials)


@pytest.mark.parametrize(
    "phone, language",
    [("+34612345678", "es"), ("+4915123456789", "de"), ("+436641234567", "de"), ("+41791234567", "de"),
     ("+33612345678", "fr"), ("+8613800138000", "zh"), ("+971501234567", "ar"), ("+966501234567", "ar"),
     ("+201001234567", "ar"), ("+447700900123", "en"), ("+12025550123", "en"), ("+393331234567", None),
     ("NORDHAVEN", None)],
)
def test_the_country_code_hints_the_language(phone: str, language: Optional[str]) -> None:
    assert language_hint(phone) == language


@pytest.mark.parametrize(
    "body, keyword", [("STOP", "STOP"), ("  stop ", "STOP"), ("Stop.", "STOP"), ("stop it", "STOP IT")]
)
def test_keywords_are_the_whole_message_in_any_case(body: str, keyword: str) -> None:
    assert keyword_of(body) == keyword


# -- the real bot -------------------------------------------------------------------------


@slow
def test_a_signed_spanish_sms_gets_a_twiml_reply_in_spanish(bot: str) -> None:
    phone = new_phone("+34")
    form = twilio_form(phone, "¿Dónde está mi pedido?")
    answer = post_signed(webhook(bot), form)
    replies = [message.text for message in ElementTree.fromstring(answer.content).iter("Message")]
    assert replies == ["¿Podría indicarme su número de pedido?", "Tiene 5 dígitos y aparece en su correo de confirmación."]
    assert identify(" ".join(replies)) == ("utter_ask_order_number", "es")  # í: UCS-2, 70 a part
    [event] = user_events(bot, phone)
    assert event["input_channel"] == "sms"
    expected = {"language_hint": "es", "from": phone, "to": BOT_NUMBER, "message_sid": form["MessageSid"]}
    assert event["metadata"].items() >= expected.items()  # Rasa adds its model_id and assistant_id


@slow
@pytest.mark.parametrize(
    "forgery",
    ["no signature", "another token", "another URL", "body changed after signing", "garbage signature"],
)
def test_unsigned_or_forged_requests_are_refused_and_not_processed(bot: str, store: Store, forgery: str) -> None:
    phone = new_phone("+34")
    form = twilio_form(phone, "¿Dónde está mi pedido?")
    signed, url = RequestValidator(AUTH_TOKEN), webhook(bot)
    headers = {
        "no signature": {},
        "another token": {"X-Twilio-Signature": RequestValidator("not-the-token").compute_signature(url, form)},
        "another URL": {"X-Twilio-Signature": signed.compute_signature(webhook(bot, "x"), form)},
        "body changed after signing": {"X-Twilio-Signature": signed.compute_signature(url, form)},
        "garbage signature": {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
    }[forgery]
    sent = {**form, "Body": "STOP"} if forgery == "body changed after signing" else form
    answer = requests.post(url, data=sent, headers=headers, timeout=10)
    assert answer.status_code == 403 and "X-Twilio-Signature" in answer.text
    assert user_events(bot, phone) == []
    assert not store.is_sms_opted_out(phone)


@slow
@pytest.mark.parametrize("keyword", ["STOP", "stopall", "Unsubscribe", "CANCEL", "end", "QUIT."])
def test_a_stop_keyword_opts_out_and_then_nothing_is_sent_or_processed(bot: str, store: Store, keyword: str) -> None:
    phone = new_phone("+34")
    assert sms(bot, phone, keyword) == []  # Twilio itself confirms the opt-out
    assert store.is_sms_opted_out(phone)
    assert sms(bot, phone, "¿Dónde está mi pedido?") == []
    assert user_events(bot, phone) == []


@slow
def test_start_opts_back_in(bot: str, store: Store) -> None:
    phone = new_phone("+34")
    sms(bot, phone, "STOP")
    assert sms(bot, phone, "START") == []
    assert not store.is_sms_opted_out(phone)
    assert identify(" ".join(sms(bot, phone, "¿Dónde está mi pedido?"))) == ("utter_ask_order_number", "es")


@slow
@pytest.mark.parametrize("country_code, language", [("+49", "de"), ("+1", "en"), ("+86", "zh")])
def test_help_is_answered_in_the_numbers_language(bot: str, country_code: str, language: str) -> None:
    phone = new_phone(country_code)
    assert identify(" ".join(sms(bot, phone, "help"))) == ("utter_keyword_help", language)
    assert user_events(bot, phone) == []


@slow
def test_help_is_answered_even_after_stop(bot: str) -> None:
    phone = new_phone("+34")
    sms(bot, phone, "STOP")
    assert identify(" ".join(sms(bot, phone, "HELP"))) == ("utter_keyword_help", "es")


@slow
def test_a_retried_message_sid_is_processed_once(bot: str) -> None:
    """Twilio retries only when it got no answer, so the retry gets the same replies, from one turn."""
    phone, message_sid = new_phone("+34"), f"SM{uuid.uuid4().hex}"
    first = sms(bot, phone, "¿Dónde está mi pedido?", message_sid)
    retry = sms(bot, phone, "¿Dónde está mi pedido?", message_sid)
    assert first and retry == first
    assert [event["metadata"]["message_sid"] for event in user_events(bot, phone)] == [message_sid]


@slow
def test_a_digit_reply_picks_the_numbered_button(bot: str, store: Store) -> None:
    maria = store.customer_for_identity("web", demo_sender("maria"))
    assert maria is not None
    store.link_identity(maria.id, "sms", sms_sender(MARIAS_PHONE))  # as a one-time code would
    [question] = sms(bot, MARIAS_PHONE, "quiero cancelar mi pedido 10001")  # she has two open orders: named, so not asked which
    text, *menu = question.split("\n")
    assert identify(text) == ("utter_ask_cancel_confirmation", "es")
    assert menu == ["1. Sí", "2. No"]
    confirmation = sms(bot, MARIAS_PHONE, "1")
    assert ("utter_order_cancelled", "es") in starts(confirmation)
    assert user_events(bot, MARIAS_PHONE)[-1]["text"] == "/affirm"
    order = store.order_for_customer(maria.id, "10001")
    assert order is not None and order.status is OrderStatus.CANCELLED


@slow
def test_long_replies_are_split_at_sentences_within_ucs2_limits(bot: str) -> None:
    replies = sms(bot, new_phone("+34"), "¿Cuánto cuesta el envío?")
    assert replies == [  # í and é make it UCS-2: 70 a part; the 73-character first sentence is cut evenly
        "El envío estándar cuesta 4,95 € y es",
        "gratuito en pedidos superiores a 50 €.",
        "La entrega exprés cuesta 9,95 €.",
    ]
    assert identify(" ".join(replies)) == ("utter_faq/shipping_cost", "es")


@slow
def test_rest_reply_mode_sends_through_twilios_api(bot: str, twilio_api: StandIn) -> None:
    phone = new_phone("+34")
    answer = post_signed(webhook(bot, "sms_rest"), twilio_form(phone, "¿Dónde está mi pedido?"))
    assert answer.status_code == 200
    assert list(ElementTree.fromstring(answer.content).iter("Message")) == []
    sent = twilio_api.received(lambda request: request.form().get("To") == [phone])
    assert len(sent) == 2  # the reply's two UCS-2 parts, one message each, in order
    assert {(request.method, request.path) for request in sent} == {("POST", TWILIO_MESSAGES_PATH)}
    assert all(request.headers["authorization"].startswith("Basic ") for request in sent)
    assert all(request.form()["From"] == [BOT_NUMBER] for request in sent)
    assert identify(" ".join(request.form()["Body"][0] for request in sent)) == ("utter_ask_order_number", "es")


@slow
def test_rest_reply_mode_sends_an_opted_out_number_nothing_but_help(bot: str, twilio_api: StandIn) -> None:
    phone = new_phone("+34")
    for body in ("STOP", "¿Dónde está mi pedido?", "HELP"):
        assert post_signed(webhook(bot, "sms_rest"), twilio_form(phone, body)).status_code == 200
    sent = twilio_api.received(lambda request: request.form().get("To") == [phone])
    assert identify(" ".join(request.form()["Body"][0] for request in sent)) == ("utter_keyword_help", "es")


@slow
@pytest.mark.parametrize(
    "form, status, reason",
    [
        ({}, 400, "empty"),
        ({"From": "+34600000001", "MessageSid": "SM" + "a" * 32}, 400, "'Body' is missing"),
        ({"Body": "hola", "MessageSid": "SM" + "a" * 32}, 400, "'From' is missing"),
        ({"Body": "hola", "From": "+34600000001"}, 400, "'MessageSid' is missing"),
        ({"Body": "hola", "From": "+34600000001", "MessageSid": "SM1"}, 400, "MessageSid"),
        ({"Body": "hola", "From": "../etc", "MessageSid": "SM" + "b" * 32}, 400, "sender"),
        ({"Body": "\x00\x07", "From": "+34600000001", "MessageSid": "SM" + "c" * 32}, 400, "empty"),
        ({"Body": "a" * 6000, "From": "+34600000001", "MessageSid": "SM" + "d" * 32}, 400, "longer than"),
        ({"Body": "a" * 100_001, "From": "+34600000001", "MessageSid": "SM" + "e" * 32}, 413, "larger than"),
    ],
)
def test_bad_input_is_refused_with_a_reason_and_the_server_keeps_running(
    bot: str, form: Dict[str, str], status: int, reason: str
) -> None:
    answer = post_signed(webhook(bot), form)
    assert answer.status_code == status and reason in answer.text
    assert requests.get(f"{bot}/status", params={"token": API_TOKEN}, timeout=10).status_code == 200


@slow
def test_rasa_refuses_to_start_without_an_auth_token(tmp_path: Path, store_url: str) -> None:
    credentials = tmp_path / "credentials.yml"
    credentials.write_text("bot.sms.TwilioSmsInput:\n  reply_mode: twiml\n")
    command = [
        str(BIN / "rasa"), "run", "-i", "127.0.0.1", "-p", str(free_port()), "-m", str(MODEL),
        "--credentials", str(credentials),
    ]
    result = subprocess.run(command, env=server_env(store_url), capture_output=True, text=True, timeout=180)
    assert result.returncode != 0
    assert "TWILIO_AUTH_TOKEN" in result.stdout + result.stderr
