"""The WhatsApp channel end to end: a real `rasa run` and action server, requests signed like
Twilio's, replies recorded by a local stand-in for Twilio's Messages API."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest
import requests
from twilio.request_validator import RequestValidator

from cs_common.store import OrderStatus, Store
from cs_common.store.seed import demo_sender
from bot.twilio_webhook import TwilioConfigError
from bot.whatsapp import SERVICE_WINDOW_S, ServiceWindows, WhatsAppSettings, whatsapp_sender
from tests.bot.stand_in import TWILIO_ACCOUNT_SID, TWILIO_MESSAGES_PATH, Recorded, StandIn, twilio_env
from tests.bot.test_sms import AUTH_TOKEN, MARIAS_PHONE, new_phone, post_signed
from tests.client import rest, tracker
from tests.responses import identify
from tests.servers import API_TOKEN, running_bot

slow = pytest.mark.slow

WHATSAPP_NUMBER = "+14155238886"  # Twilio's WhatsApp sandbox number
CREDENTIALS = f"""
bot.rest.GuestRestInput:
bot.whatsapp.TwilioWhatsAppInput:
  auth_token: ${{TWILIO_AUTH_TOKEN}}
  account_sid: ${{TWILIO_ACCOUNT_SID}}
  twilio_number: "{WHATSAPP_NUMBER}"
  api_base_url: ${{TWILIO_API_BASE_URL}}
"""
PHOTO = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages/MM{'a' * 32}/Media/ME{'b' * 32}"


@pytest.fixture(scope="module")
def bot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("whatsapp-bot")


@pytest.fixture(scope="module")
def bot(bot_dir: Path, store_url: str, twilio_api: StandIn) -> Iterator[str]:
    credentials = bot_dir / "credentials.yml"
    credentials.write_text(CREDENTIALS)
    with running_bot(bot_dir, store_url, extra_env=twilio_env(twilio_api, AUTH_TOKEN), credentials=credentials) as base:
        yield base


def whatsapp_form(
    phone: str, body: str, message_sid: Optional[str] = None, media: Optional[Dict[str, str]] = None
) -> Dict[str, str]:
    """The form Twilio posts for an incoming WhatsApp message (`media`: URL -> content type)."""
    sid = message_sid or f"SM{uuid.uuid4().hex}"
    form = {
        "SmsMessageSid": sid, "NumMedia": str(len(media or {})), "ProfileName": "Customer", "SmsSid": sid,
        "WaId": phone.lstrip("+"), "SmsStatus": "received", "Body": body, "To": f"whatsapp:{WHATSAPP_NUMBER}",
        "NumSegments": "1", "ReferralNumMedia": "0", "MessageSid": sid, "AccountSid": TWILIO_ACCOUNT_SID,
        "From": whatsapp_sender(phone), "ApiVersion": "2010-04-01",
    }
    for index, (url, content_type) in enumerate((media or {}).items()):
        form[f"MediaUrl{index}"], form[f"MediaContentType{index}"] = url, content_type
    return form


def webhook(bot: str) -> str:
    return f"{bot}/webhooks/whatsapp/webhook"


def whatsapp(bot: str, phone: str, body: str, message_sid: Optional[str] = None, **form: str) -> requests.Response:
    answer = post_signed(webhook(bot), {**whatsapp_form(phone, body, message_sid), **form})
    assert answer.status_code == 200, answer.text
    return answer


def sent_to(api: StandIn, phone: str) -> List[Recorded]:
    """What the bot sent this WhatsApp number through Twilio's Messages API, in order."""
    return api.received(lambda request: request.form().get("To") == [whatsapp_sender(phone)])


def bodies(requests_sent: List[Recorded]) -> List[str]:
    return [request.form()["Body"][0] for request in requests_sent]


def user_events(bot: str, phone: str) -> List[dict]:
    return [event for event in tracker(bot, whatsapp_sender(phone))["events"] if event["event"] == "user"]


def trigger_greeting(bot: str, phone: str) -> None:
    """A message the bot starts itself (no customer message before it): Rasa's trigger_intent."""
    answer = requests.post(
        f"{bot}/conversations/{whatsapp_sender(phone)}/trigger_intent",
        params={"token": API_TOKEN, "output_channel": "whatsapp"},
        json={"name": "greet"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text


# -- without a server ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "credentials, fix",
    [
        (None, "TWILIO_AUTH_TOKEN"),
        ({"auth_token": "x"}, "account_sid and twilio_number"),
        ({"auth_token": "x", "account_sid": TWILIO_ACCOUNT_SID}, "needs twilio_number"),
        ({"auth_token": "x", "account_sid": TWILIO_ACCOUNT_SID, "twilio_number": "whatsapp:+14155238886"}, "adds whatsapp: itself"),
        ({"auth_token": "x", "account_sid": TWILIO_ACCOUNT_SID, "twilio_number": "+1", "reply_mode": "twiml"}, r"unknown setting\(s\) reply_mode"),
        ({"auth_token": "x", "account_sid": TWILIO_ACCOUNT_SID, "twilio_number": "+1", "public_url": "bot.example.com"}, "/webhooks/whatsapp/webhook"),
    ],
)
def test_unusable_settings_stop_the_channel_with_the_fix(credentials: Optional[dict], fix: str) -> None:
    with pytest.raises(TwilioConfigError, match=fix):
        WhatsAppSettings.from_credentials(credentials)


def test_the_service_window_closes_24_hours_after_the_customers_last_message() -> None:
    now = [0.0]
    windows = ServiceWindows(clock=lambda: now[0])
    assert not windows.is_open("whatsapp:+34600000001")  # never wrote
    windows.customer_wrote("whatsapp:+34600000001")
    now[0] = SERVICE_WINDOW_S - 1
    assert windows.is_open("whatsapp:+34600000001")
    windows.customer_wrote("whatsapp:+34600000001")  # writing again reopens it for 24 hours
    now[0] = 2 * SERVICE_WINDOW_S - 2
    assert windows.is_open("whatsapp:+34600000001")
    now[0] = 2 * SERVICE_WINDOW_S
    assert not windows.is_open("whatsapp:+34600000001")
    assert not windows.is_open("whatsapp:+34600000002")


# -- the real bot -------------------------------------------------------------------------


@slow
@pytest.mark.parametrize(
    "country_code, message, language",
    [("+34", "¿Dónde está mi pedido?", "es"), ("+86", "我的订单到哪里了？", "zh"), ("+971", "أين طلبي؟ لم يصل بعد", "ar")],
)
def test_a_signed_message_is_answered_in_its_language_through_twilios_api(
    bot: str, twilio_api: StandIn, country_code: str, message: str, language: str
) -> None:
    phone = new_phone(country_code)
    answer = whatsapp(bot, phone, message)
    assert "<Message>" not in answer.text  # replies go through the API, never as TwiML
    [sent] = sent_to(twilio_api, phone)  # one message: WhatsApp needs no SMS segments
    assert (sent.method, sent.path) == ("POST", TWILIO_MESSAGES_PATH)
    assert sent.headers["authorization"].startswith("Basic ")
    assert sent.form()["From"] == [f"whatsapp:{WHATSAPP_NUMBER}"]
    assert identify(bodies([sent])[0]) == ("utter_ask_order_number", language)
    [event] = user_events(bot, phone)
    assert event["input_channel"] == "whatsapp"
    assert event["metadata"]["language_hint"] == language
    assert event["metadata"]["from"] == whatsapp_sender(phone)


@slow
@pytest.mark.parametrize(
    "forgery", ["no signature", "another token", "the SMS webhook's URL", "body changed after signing", "garbage"]
)
def test_unsigned_or_forged_requests_are_refused_and_not_processed(
    bot: str, store: Store, twilio_api: StandIn, forgery: str
) -> None:
    phone = new_phone("+34")
    form, url = whatsapp_form(phone, "¿Dónde está mi pedido?"), webhook(bot)
    signed = RequestValidator(AUTH_TOKEN)
    headers = {
        "no signature": {},
        "another token": {"X-Twilio-Signature": RequestValidator("not-the-token").compute_signature(url, form)},
        "the SMS webhook's URL": {"X-Twilio-Signature": signed.compute_signature(f"{bot}/webhooks/sms/webhook", form)},
        "body changed after signing": {"X-Twilio-Signature": signed.compute_signature(url, form)},
        "garbage": {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
    }[forgery]
    sent = {**form, "Body": "STOP"} if forgery == "body changed after signing" else form
    answer = requests.post(url, data=sent, headers=headers, timeout=10)
    assert answer.status_code == 403 and "X-Twilio-Signature" in answer.text
    assert user_events(bot, phone) == []
    assert not store.is_sms_opted_out(whatsapp_sender(phone))
    assert sent_to(twilio_api, phone) == []


@slow
@pytest.mark.parametrize("sender", ["+34600000001", "whatsapp:NORDHAVEN", "whatsapp:+34"])
def test_a_signed_request_from_no_whatsapp_number_is_refused_with_a_reason(bot: str, sender: str) -> None:
    form = {**whatsapp_form(new_phone("+34"), "hola"), "From": sender}
    answer = post_signed(webhook(bot), form)
    assert answer.status_code == 400 and "whatsapp:+<number>" in answer.text


@slow
def test_buttons_are_a_numbered_list_and_a_digit_picks_one(bot: str, store: Store, twilio_api: StandIn) -> None:
    maria = store.customer_for_identity("web", demo_sender("maria"))
    assert maria is not None
    store.link_identity(maria.id, "whatsapp", whatsapp_sender(MARIAS_PHONE))  # as a one-time code would
    whatsapp(bot, MARIAS_PHONE, "quiero cancelar mi pedido 10001")  # she has two open orders: named, so not asked which
    [question] = bodies(sent_to(twilio_api, MARIAS_PHONE))
    text, *menu = question.split("\n")
    assert identify(text) == ("utter_ask_cancel_confirmation", "es")
    assert menu == ["1. Sí", "2. No"]
    whatsapp(bot, MARIAS_PHONE, "1")
    assert ("utter_order_cancelled", "es") in [identify(body) for body in bodies(sent_to(twilio_api, MARIAS_PHONE))]
    assert user_events(bot, MARIAS_PHONE)[-1]["text"] == "/affirm"
    order = store.order_for_customer(maria.id, "10001")
    assert order is not None and order.status is OrderStatus.CANCELLED


@slow
def test_a_customer_linked_on_whatsapp_is_recognised_there_and_nowhere_else(
    bot: str, store: Store, twilio_api: StandIn
) -> None:
    maria = store.customer_for_identity("web", demo_sender("maria"))
    assert maria is not None
    store.link_identity(maria.id, "whatsapp", whatsapp_sender(MARIAS_PHONE))
    before = len(sent_to(twilio_api, MARIAS_PHONE))
    whatsapp(bot, MARIAS_PHONE, "/greet")
    assert any("Maria" in body for body in bodies(sent_to(twilio_api, MARIAS_PHONE)[before:]))
    for claim in (whatsapp_sender(MARIAS_PHONE), MARIAS_PHONE):  # REST callers naming her number are guests
        replies = rest(bot, claim, "/greet")
        assert replies and not any("Maria" in reply for reply in replies)


@slow
def test_a_retried_message_sid_is_answered_once(bot: str, twilio_api: StandIn) -> None:
    phone, message_sid = new_phone("+34"), f"SM{uuid.uuid4().hex}"
    whatsapp(bot, phone, "¿Dónde está mi pedido?", message_sid)
    whatsapp(bot, phone, "¿Dónde está mi pedido?", message_sid)  # Twilio's retry
    assert [identify(body) for body in bodies(sent_to(twilio_api, phone))] == [("utter_ask_order_number", "es")]
    assert [event["metadata"]["message_sid"] for event in user_events(bot, phone)] == [message_sid]


@slow
def test_stop_is_confirmed_once_then_nothing_is_sent_or_processed_until_start(
    bot: str, store: Store, twilio_api: StandIn
) -> None:
    phone = new_phone("+34")
    whatsapp(bot, phone, "stop")
    assert [identify(body) for body in bodies(sent_to(twilio_api, phone))] == [("utter_keyword_opted_out", "es")]
    assert store.is_sms_opted_out(whatsapp_sender(phone))
    assert not store.is_sms_opted_out(phone)  # the same number's SMS consent is its own
    whatsapp(bot, phone, "¿Dónde está mi pedido?")
    assert len(sent_to(twilio_api, phone)) == 1 and user_events(bot, phone) == []
    whatsapp(bot, phone, "HELP")  # still answered after STOP
    whatsapp(bot, phone, "START")
    whatsapp(bot, phone, "¿Dónde está mi pedido?")
    assert [identify(body) for body in bodies(sent_to(twilio_api, phone))] == [
        ("utter_keyword_opted_out", "es"), ("utter_keyword_help", "es"), ("utter_keyword_opted_in", "es"),
        ("utter_ask_order_number", "es"),
    ]
    assert not store.is_sms_opted_out(whatsapp_sender(phone))


@slow
def test_outside_the_24_hour_window_nothing_is_sent_and_the_log_says_why(
    bot: str, bot_dir: Path, twilio_api: StandIn
) -> None:
    stranger, customer = new_phone("+34"), new_phone("+34")
    trigger_greeting(bot, stranger)  # never wrote: no window is open
    assert sent_to(twilio_api, stranger) == []
    assert "whatsapp.not_sent reason=outside_service_window" in (bot_dir / "rasa.log").read_text()
    whatsapp(bot, customer, "¿Dónde está mi pedido?")
    trigger_greeting(bot, customer)  # the control: within 24 hours of their message it is sent
    first, *later = [identify(body)[0] for body in bodies(sent_to(twilio_api, customer))]
    assert first == "utter_ask_order_number" and "utter_greet" in later


@slow
def test_media_reach_the_tracker_and_an_agents_ticket_as_links(bot: str, store: Store, twilio_api: StandIn) -> None:
    phone = new_phone("+34")
    whatsapp(bot, phone, "Mi pedido llegó roto", NumMedia="1", MediaUrl0=PHOTO, MediaContentType0="image/jpeg")
    [event] = user_events(bot, phone)
    assert event["text"] == "Mi pedido llegó roto"
    assert event["metadata"]["media"] == [{"url": PHOTO, "content_type": "image/jpeg"}]

    guest = store.get_or_create_guest("whatsapp", whatsapp_sender(phone))
    store.create_ticket(guest.id, whatsapp_sender(phone), "whatsapp", "human_handoff", [])
    answered = len(sent_to(twilio_api, phone))
    whatsapp(bot, phone, "", NumMedia="1", MediaUrl0=PHOTO, MediaContentType0="image/jpeg")  # a photo alone
    ticket = store.open_ticket_for_identity("whatsapp", whatsapp_sender(phone))
    assert ticket is not None and ticket.transcript.endswith(f"customer (whatsapp): [image/jpeg] {PHOTO}")
    assert len(sent_to(twilio_api, phone)) == answered  # an agent holds the customer: the bot is silent


@slow
@pytest.mark.parametrize(
    "fields, reason",
    [
        ({"NumMedia": "11"}, "'NumMedia' must be a whole number from 0 to 10"),
        ({"NumMedia": "²"}, "'NumMedia' must be a whole number from 0 to 10"),
        ({"NumMedia": "1"}, "'MediaUrl0' must be an https URL"),
        ({"NumMedia": "1", "MediaUrl0": "http://example.com/x.jpg", "MediaContentType0": "image/jpeg"}, "'MediaUrl0' must be an https URL"),
        ({"NumMedia": "1", "MediaUrl0": PHOTO, "MediaContentType0": "<script>"}, "'MediaContentType0' must be a media type"),
        ({"Body": ""}, "'message' is empty"),
    ],
)
def test_bad_media_fields_are_refused_with_a_reason(bot: str, fields: Dict[str, str], reason: str) -> None:
    answer = post_signed(webhook(bot), {**whatsapp_form(new_phone("+34"), "hola"), **fields})
    assert answer.status_code == 400 and reason in answer.text
