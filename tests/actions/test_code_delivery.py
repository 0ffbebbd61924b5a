"""Delivering one-time link codes: the demo outbox, a real SMTP conversation, Twilio's client.

The SMTP server is Python's own (`smtpd`) on 127.0.0.1; Twilio's real client is pointed at
the local stand-in (tests/bot/stand_in.py), which records what it was sent.
"""
import asyncore
import smtpd
import stat
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Iterator, List

import pytest

from actions.code_delivery import CodeDelivery, DeliveryConfigError, DeliveryError, masked
from actions.identity import digits, phone_number
from actions.store.views import Contact, ContactKind
from tests.bot.stand_in import running_stand_in

ACCOUNT_SID = "AC" + "0" * 32
EMAIL = Contact(ContactKind.EMAIL, "maria.garcia@example.com")
PHONE = Contact(ContactKind.PHONE, "+34612345678")
DELIVERY_ENV = ("CS_SMTP_URL", "CS_SMTP_FROM", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "CS_SMS_FROM", "CS_TWILIO_API_URL")


class RecordingSmtpServer(smtpd.SMTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), None, decode_data=False)
        self.port = self.socket.getsockname()[1]
        self.messages: List[EmailMessage] = []

    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs) -> None:  # noqa: ANN001
        self.messages.append(message_from_bytes(data, policy=policy.default))


@pytest.fixture
def smtp_server() -> Iterator[RecordingSmtpServer]:
    server = RecordingSmtpServer()
    thread = threading.Thread(target=asyncore.loop, kwargs={"timeout": 0.1, "map": server._map}, daemon=True)
    thread.start()
    yield server
    server.close()
    thread.join(timeout=5)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No real delivery configured; the outbox in a temporary folder."""
    for name in DELIVERY_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CS_OUTBOX_DIR", str(tmp_path / "outbox"))
    return monkeypatch


def test_without_settings_codes_go_to_the_outbox_readable_only_by_the_owner(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    delivery = CodeDelivery.from_env()
    assert delivery.outbox_for(ContactKind.EMAIL) == delivery.outbox_for(ContactKind.PHONE) == tmp_path / "outbox"
    delivery.send(EMAIL, "048213", "es")
    [written] = (tmp_path / "outbox").iterdir()
    text = written.read_text(encoding="utf-8")
    assert text.startswith("To: maria.garcia@example.com\nSubject: Su código de verificación de Nordhaven\n")
    assert "048213" in text
    assert stat.S_IMODE(written.stat().st_mode) == 0o600


def test_email_goes_through_smtp_when_configured(env: pytest.MonkeyPatch, smtp_server: RecordingSmtpServer) -> None:
    env.setenv("CS_SMTP_URL", f"smtp://127.0.0.1:{smtp_server.port}?starttls=false")
    env.setenv("CS_SMTP_FROM", "Nordhaven <support@nordhaven.example>")
    delivery = CodeDelivery.from_env()
    assert delivery.outbox_for(ContactKind.EMAIL) is None
    delivery.send(EMAIL, "731904", "de")
    [message] = smtp_server.messages
    assert message["To"] == "maria.garcia@example.com"
    assert message["From"] == "Nordhaven <support@nordhaven.example>"
    assert message["Subject"] == "Ihr Nordhaven-Bestätigungscode"
    assert "731904" in message.get_content()


def test_an_unreachable_mail_server_is_a_delivery_error_without_the_code(env: pytest.MonkeyPatch) -> None:
    from tests.servers import free_port

    env.setenv("CS_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    with pytest.raises(DeliveryError) as raised:
        CodeDelivery.from_env().send(EMAIL, "731904", "en")
    assert "731904" not in str(raised.value) and "maria" not in str(raised.value)


def test_sms_goes_through_twilios_messages_api_when_configured(env: pytest.MonkeyPatch) -> None:
    messages_path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    with running_stand_in({messages_path: {"sid": "SM" + "1" * 32, "status": "queued"}}) as twilio:
        env.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
        env.setenv("TWILIO_AUTH_TOKEN", "secret-token")
        env.setenv("CS_SMS_FROM", "+15017122661")
        env.setenv("CS_TWILIO_API_URL", twilio.url)
        delivery = CodeDelivery.from_env()
        assert delivery.outbox_for(ContactKind.PHONE) is None
        assert delivery.outbox_for(ContactKind.EMAIL) is not None  # no SMTP: email still goes to the outbox
        delivery.send(PHONE, "550219", "fr")
        [sent] = twilio.received(lambda request: request.path == messages_path)
    form = sent.form()
    assert form["To"] == ["+34612345678"] and form["From"] == ["+15017122661"]
    assert "550219" in form["Body"][0] and form["Body"][0].startswith("Votre code Nordhaven")
    assert sent.headers["authorization"].startswith("Basic ")


def test_the_auth_token_alone_leaves_sms_codes_in_the_outbox(env: pytest.MonkeyPatch) -> None:
    env.setenv("TWILIO_AUTH_TOKEN", "only-for-the-sms-channel-signature-check")
    assert CodeDelivery.from_env().outbox_for(ContactKind.PHONE) is not None


@pytest.mark.parametrize(
    "settings, named",
    [
        ({"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": "t"}, r"missing: CS_SMS_FROM\)"),
        ({"CS_SMS_FROM": "+15017122661"}, r"missing: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN\)"),
        ({"CS_SMTP_URL": "mail.example.com:25"}, "CS_SMTP_URL must look like"),
    ],
)
def test_incomplete_settings_name_the_fix(env: pytest.MonkeyPatch, settings: dict, named: str) -> None:
    for name, value in settings.items():
        env.setenv(name, value)
    with pytest.raises(DeliveryConfigError, match=named):
        CodeDelivery.from_env()


def test_destinations_are_masked() -> None:
    assert masked(EMAIL) == "m•••@example.com"
    assert masked(PHONE) == "+34•••678"


@pytest.mark.parametrize(
    "typed, number", [("+34 612 345 678", "+34612345678"), ("0034 612-345-678", "+34612345678"), ("(+44) 7700 900123", "+447700900123")]
)
def test_phone_numbers_are_normalised_as_stored(typed: str, number: str) -> None:
    assert phone_number(typed) == number


def test_codes_typed_in_arabic_indic_digits_are_read() -> None:
    assert digits("١٩٠٥٧٢") == "190572"
