"""Twilio's signed webhook (bot/twilio_webhook.py) as the SMS and WhatsApp channels serve it,
without `rasa run`: each channel's blueprint in a real Sanic app on 127.0.0.1, a real seeded
store, requests signed with twilio's own RequestValidator. Only keywords are sent here: they
are answered by the channel itself and never reach Rasa.

tests/bot/test_sms.py and tests/bot/test_whatsapp.py run both channels end to end.
"""

from __future__ import annotations

import uuid
from typing import Dict, Iterator
from xml.etree import ElementTree

import pytest
import requests
from twilio.request_validator import RequestValidator

from cs_common.store import Store
from bot.http_limits import MAX_WEBHOOK_BODY_BYTES
from bot.sms import SmsSettings, TwilioSmsInput, keyword_texts
from bot.twilio_webhook import MAX_FORM_FIELDS, MAX_MEDIA
from bot.whatsapp import TwilioWhatsAppInput, WhatsAppSettings
from tests.bot.stand_in import TWILIO_ACCOUNT_SID
from tests.servers import serving_channel

AUTH_TOKEN = "twilio-unit-auth-token-0123456789"
TIMEOUT_S = 30


@pytest.fixture(scope="module")
def webhooks(store: Store) -> Iterator[Dict[str, str]]:
    """The webhook URL of each channel, by name; both use the module's store (tests/conftest.py)."""
    sms = TwilioSmsInput(SmsSettings.from_credentials({"auth_token": AUTH_TOKEN}), store)
    # WhatsApp replies go through the Messages API; nothing here is answered that way.
    whatsapp_settings = {"auth_token": AUTH_TOKEN, "account_sid": TWILIO_ACCOUNT_SID, "twilio_number": "+14155238886"}
    whatsapp = TwilioWhatsAppInput(WhatsAppSettings.from_credentials(whatsapp_settings), store)
    with serving_channel(sms) as sms_base, serving_channel(whatsapp) as whatsapp_base:
        yield {"sms": f"{sms_base}/webhooks/sms/webhook", "whatsapp": f"{whatsapp_base}/webhooks/whatsapp/webhook"}


def form(sender: str, body: str, **fields: str) -> Dict[str, str]:
    return {"From": sender, "To": "+15005550006", "Body": body, "MessageSid": f"SM{uuid.uuid4().hex}", "NumMedia": "0", **fields}


def post_signed(url: str, fields: Dict[str, str], signed_url: str = "", token: str = AUTH_TOKEN) -> requests.Response:
    signature = RequestValidator(token).compute_signature(signed_url or url, fields)
    return requests.post(url, data=fields, headers={"X-Twilio-Signature": signature}, timeout=TIMEOUT_S)


def twiml_messages(reply: requests.Response) -> list:
    assert reply.status_code == 200, reply.text
    return [message.text for message in ElementTree.fromstring(reply.content).iter("Message")]


def new_number() -> str:
    return f"+346{uuid.uuid4().int % 10**8:08d}"


def test_help_is_answered_in_the_numbers_language_in_twiml(webhooks: Dict[str, str]) -> None:
    texts = keyword_texts()  # one SMS segment each (max_segments 1): the parts, joined, are the text
    assert " ".join(twiml_messages(post_signed(webhooks["sms"], form(new_number(), "help")))) == texts.help["es"]
    assert " ".join(twiml_messages(post_signed(webhooks["sms"], form("+4915112345678", "HELP!")))) == texts.help["de"]


def test_stop_is_stored_per_channel_address(webhooks: Dict[str, str], store: Store) -> None:
    phone = new_number()
    assert twiml_messages(post_signed(webhooks["sms"], form(phone, "stop"))) == []  # Twilio confirms STOP on SMS itself
    assert store.is_sms_opted_out(phone) and not store.is_sms_opted_out(f"whatsapp:{phone}")
    assert twiml_messages(post_signed(webhooks["sms"], form(phone, "START"))) == []
    assert not store.is_sms_opted_out(phone)


@pytest.mark.parametrize(
    "channel, sign",
    [
        ("sms", lambda url, fields: {}),
        ("sms", lambda url, fields: {"X-Twilio-Signature": RequestValidator("another-token").compute_signature(url, fields)}),
        ("sms", lambda url, fields: {"X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(url + "x", fields)}),
        ("whatsapp", lambda url, fields: {"X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(url, {})}),
    ],
    ids=["unsigned", "another account's token", "signed for another URL", "signed for another form"],
)
def test_a_request_twilio_did_not_sign_is_refused_and_not_processed(
    webhooks: Dict[str, str], store: Store, channel: str, sign
) -> None:
    url, phone = webhooks[channel], new_number()
    sender = phone if channel == "sms" else f"whatsapp:{phone}"
    fields = form(sender, "STOP")
    reply = requests.post(url, data=fields, headers=sign(url, fields), timeout=TIMEOUT_S)
    assert reply.status_code == 403 and "X-Twilio-Signature" in reply.text
    assert not store.is_sms_opted_out(sender)


def test_a_body_over_the_webhook_limit_is_refused_before_its_signature_is_checked(webhooks: Dict[str, str]) -> None:
    for url in (webhooks["sms"], webhooks["whatsapp"]):
        reply = requests.post(url, data={"Body": "a" * MAX_WEBHOOK_BODY_BYTES}, timeout=TIMEOUT_S)
        assert reply.status_code == 413 and str(MAX_WEBHOOK_BODY_BYTES) in reply.text


def test_a_form_with_more_fields_than_twilios_or_not_utf8_is_not_read(webhooks: Dict[str, str]) -> None:
    crowded = {**form(new_number(), "HELP"), **{f"Extra{index}": "x" for index in range(MAX_FORM_FIELDS)}}
    assert post_signed(webhooks["sms"], crowded).status_code == 403
    reply = requests.post(webhooks["sms"], data=b"Body=\xff&From=%2B34600000001", headers={"X-Twilio-Signature": "x"}, timeout=TIMEOUT_S)
    assert reply.status_code == 403


@pytest.mark.parametrize(
    "channel, fields, reason",
    [
        ("sms", {"Body": None}, "'Body' is missing"),
        ("sms", {"MessageSid": "SM123"}, "'MessageSid' must be"),
        ("sms", {"From": "a b"}, "'sender'"),
        ("sms", {"NumMedia": "²"}, f"from 0 to {MAX_MEDIA}"),
        ("sms", {"NumMedia": "1", "MediaUrl0": "http://example.com/a.jpg", "MediaContentType0": "image/jpeg"}, "'MediaUrl0' must be an https URL"),
        ("sms", {"NumMedia": "1", "MediaUrl0": "https://api.twilio.com/m", "MediaContentType0": "jpeg"}, "'MediaContentType0'"),
        ("whatsapp", {"From": "+34600000001"}, "whatsapp:+<number>"),
    ],
)
def test_a_signed_form_that_is_not_a_message_is_a_400_with_a_reason(
    webhooks: Dict[str, str], channel: str, fields: Dict[str, object], reason: str
) -> None:
    url = webhooks[channel]
    message = form(f"whatsapp:{new_number()}" if channel == "whatsapp" else new_number(), "HELP")
    message.update(fields)
    reply = post_signed(url, {key: value for key, value in message.items() if value is not None})
    assert reply.status_code == 400 and reason in reply.text
