"""Delivering one-time link codes: the demo outbox, a real SMTP conversation, Twilio's client.

The SMTP server is Python's own (`smtpd`) on 127.0.0.1; Twilio's real client is pointed at
the local stand-in (tests/bot/stand_in.py), which records what it was sent.
"""
import asyncio
import asyncore
import logging
import smtpd
import stat
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from contextlib import contextmanager
from typing import Callable, Iterator, List, NamedTuple

import pytest
from rasa.shared.utils.io import read_yaml_file

from actions.code_delivery import (
    DOMAIN_FILE,
    MESSAGE_RESPONSE,
    SUBJECT_RESPONSE,
    CodeDelivery,
    CodeTexts,
    DeliveryConfigError,
    DeliveryError,
    masked,
)
from actions.identity import phone_number
from cs_common.pii import digits_of
from cs_common.store import Store
from cs_common.store.seed import reset
from cs_common.store.views import Contact, ContactKind
from tests.actions.test_action_server import ActionServer, run_action_server
from tests.bot.stand_in import running_stand_in

ACCOUNT_SID = "AC" + "0" * 32
EMAIL = Contact(ContactKind.EMAIL, "maria.garcia@example.com")
MARIAS_PHONE = "+34612345678"
PHONE = Contact(ContactKind.PHONE, MARIAS_PHONE)
DELIVERY_ENV = ("CS_SMTP_URL", "CS_SMTP_FROM", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "CS_SMS_FROM", "CS_TWILIO_API_URL")


class RecordingSmtpServer(smtpd.SMTPServer):
    """Accepts mail once `gate` is open (it is unless a test closes it) and keeps it."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), None, decode_data=False)
        self.port = self.socket.getsockname()[1]
        self.messages: List[EmailMessage] = []
        self.gate = threading.Event()
        self.gate.set()
        self.knocked = threading.Event()  # a client has handed over a message

    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs) -> None:  # noqa: ANN001
        self.knocked.set()
        self.gate.wait(timeout=120)
        self.messages.append(message_from_bytes(data, policy=policy.default))


@contextmanager
def running_smtp_server() -> Iterator[RecordingSmtpServer]:
    server = RecordingSmtpServer()
    thread = threading.Thread(target=asyncore.loop, kwargs={"timeout": 0.1, "map": server._map}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.gate.set()
        server.close()
        thread.join(timeout=5)


@pytest.fixture
def smtp_server() -> Iterator[RecordingSmtpServer]:
    with running_smtp_server() as server:
        yield server


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No real delivery configured (no credentials.yml either); the outbox in a temporary folder."""
    for name in DELIVERY_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CS_CREDENTIALS_FILE", str(tmp_path / "no-credentials.yml"))
    monkeypatch.setenv("CS_OUTBOX_DIR", str(tmp_path / "outbox"))
    return monkeypatch


def test_without_settings_codes_go_to_the_outbox_readable_only_by_the_owner(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    delivery = CodeDelivery.from_env()
    assert delivery.outbox_for(ContactKind.EMAIL) == delivery.outbox_for(ContactKind.PHONE) == tmp_path / "outbox"
    delivery.send(EMAIL, "048213", "es")
    [written] = (tmp_path / "outbox").iterdir()
    text = written.read_text(encoding="utf-8")
    assert text.startswith("To: maria.garcia@example.com\nSubject: Su código de verificación de Nordhaven\n")
    assert "048213" in text and "Alguien ha pedido vincular un chat a su cuenta" in text
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
    assert "550219" in form["Body"][0] and form["Body"][0].startswith("Quelqu'un a demandé à relier une conversation")
    assert sent.headers["authorization"].startswith("Basic ")


def test_sms_codes_use_the_sms_channels_credentials_section(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    messages_path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    with running_stand_in({messages_path: {"sid": "SM" + "2" * 32, "status": "queued"}}) as twilio:
        credentials = tmp_path / "credentials.yml"
        credentials.write_text(
            f"bot.sms.TwilioSmsInput:\n  auth_token: ${{TWILIO_AUTH_TOKEN}}\n  account_sid: {ACCOUNT_SID}\n"
            f"  twilio_number: \"+15017122661\"\n  reply_mode: rest\n  api_base_url: {twilio.url}\n",
            encoding="utf-8",
        )
        env.setenv("CS_CREDENTIALS_FILE", str(credentials))
        env.setenv("TWILIO_AUTH_TOKEN", "secret-token")
        delivery = CodeDelivery.from_env()
        assert delivery.outbox_for(ContactKind.PHONE) is None
        delivery.send(PHONE, "550219", "en")
        [sent] = twilio.received(lambda request: request.path == messages_path)
    assert sent.form()["From"] == ["+15017122661"] and "550219" in sent.form()["Body"][0]


def test_an_unset_variable_in_the_credentials_section_names_it(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.yml"
    credentials.write_text("bot.sms.TwilioSmsInput:\n  account_sid: ${TWILIO_ACCOUNT_SID}\n", encoding="utf-8")
    env.setenv("CS_CREDENTIALS_FILE", str(credentials))
    with pytest.raises(DeliveryConfigError, match="account_sid uses TWILIO_ACCOUNT_SID"):
        CodeDelivery.from_env()


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


def test_send_soon_returns_before_the_mail_server_is_reached(env: pytest.MonkeyPatch, smtp_server: RecordingSmtpServer) -> None:
    env.setenv("CS_SMTP_URL", f"smtp://127.0.0.1:{smtp_server.port}?starttls=false")
    delivery = CodeDelivery.from_env()
    smtp_server.gate.clear()

    async def request_then_wait() -> None:
        task = delivery.send_soon(EMAIL, "731904", "en")
        assert not task.done() and smtp_server.messages == []
        assert await asyncio.to_thread(smtp_server.knocked.wait, 60)  # now it is on its way
        assert not task.done() and smtp_server.messages == []
        smtp_server.gate.set()
        await task

    asyncio.run(request_then_wait())
    [message] = smtp_server.messages
    assert message["To"] == EMAIL.value and "731904" in message.get_content()
    assert message.get_content().startswith("Someone asked to link a chat to your Nordhaven account.")


def test_a_failed_background_delivery_is_logged_without_the_code(env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from tests.servers import free_port

    env.setenv("CS_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    delivery = CodeDelivery.from_env()

    async def send() -> None:
        await delivery.send_soon(EMAIL, "731904", "en")  # does not raise: nobody would catch it

    with caplog.at_level(logging.INFO, logger="actions.code_delivery"):
        asyncio.run(send())
    [record] = [r for r in caplog.records if r.getMessage().startswith("identity.code_not_sent")]
    assert "m•••@example.com" in record.getMessage()
    assert "731904" not in caplog.text and "maria.garcia" not in caplog.text


def test_the_code_message_says_someone_asked_in_every_bot_language() -> None:
    from tests.conftest import BOT_LANGUAGES

    texts = CodeTexts.from_domain()
    assert set(texts.messages) == set(texts.subjects) == set(BOT_LANGUAGES)
    for language, message in texts.messages.items():
        body = texts.message(EMAIL, "731904", language).body
        assert "731904" in body and "10" in body and "{" not in body, language
        assert "{code}" in message and "{minutes}" in message
    assert texts.message(EMAIL, "731904", "pt").subject == texts.subjects["en"]  # unknown: default language


def test_missing_code_texts_name_the_fix(tmp_path: Path) -> None:
    domain = tmp_path / "domain.yml"
    responses = read_yaml_file(DOMAIN_FILE)["responses"]
    domain.write_text(f"responses:\n  {SUBJECT_RESPONSE}:\n    - text: {responses[SUBJECT_RESPONSE][0]['text']!r}\n")
    with pytest.raises(DeliveryConfigError, match=f"has no {MESSAGE_RESPONSE}: add the response"):
        CodeTexts.from_domain(domain)


def test_destinations_are_masked() -> None:
    assert masked(EMAIL) == "m•••@example.com"
    assert masked(PHONE) == "+34•••678"


@pytest.mark.parametrize(
    "typed, number", [("+34 612 345 678", "+34612345678"), ("0034 612-345-678", "+34612345678"), ("(+44) 7700 900123", "+447700900123")]
)
def test_phone_numbers_are_normalised_as_stored(typed: str, number: str) -> None:
    assert phone_number(typed) == number


def test_codes_typed_in_arabic_indic_digits_are_read() -> None:
    assert digits_of("١٩٠٥٧٢") == "190572"


# -- through the real action server (`rasa run actions`): email by SMTP, SMS to the outbox --

MARIAS_ADDRESS = "maria.garcia@example.com"


class LinkingServer(NamedTuple):
    actions: ActionServer
    mail: RecordingSmtpServer
    outbox: Path


@pytest.fixture(scope="module")
def linking(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LinkingServer]:
    tmp = tmp_path_factory.mktemp("code-delivery")
    store_url = f"sqlite:///{tmp / 'store.db'}"
    reset(store_url)
    with running_smtp_server() as mail:
        env = {
            **{name: "" for name in DELIVERY_ENV},
            "CS_SMTP_URL": f"smtp://127.0.0.1:{mail.port}?starttls=false",
            "CS_OUTBOX_DIR": str(tmp / "outbox"),
        }
        for actions in run_action_server(tmp, store_url, env):
            yield LinkingServer(actions, mail, tmp / "outbox")


def ask_for_code(actions: ActionServer, visitor: str, entity: str, value: str) -> List[str]:
    """A chat-page visitor (`web:<visitor>`) asks for a code; REST guests cannot link at all."""
    text = f"link my account: {value}"
    found = {"entity": entity, "value": value, "start": text.index(value), "end": len(text)}
    result = actions.call("action_request_link_code", f"web:{visitor}", text, "link_account", entities=[found])
    return [reply["response"] for reply in result["responses"]]


def wait_for(condition: Callable[[], bool], timeout_s: float = 60) -> bool:
    """Polls `condition` until it holds (a background delivery has no reply to wait on)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def outbox_for(server: LinkingServer, number: str) -> List[Path]:
    files = server.outbox.iterdir() if server.outbox.exists() else []
    return [path for path in files if path.read_text(encoding="utf-8").startswith(f"To: {number}\n")]


@pytest.mark.slow
def test_the_reply_goes_out_before_the_code_is_sent(linking: LinkingServer) -> None:
    before = len(linking.mail.messages)
    linking.mail.gate.clear()  # the mail server takes the message but does not finish accepting it
    try:
        replies = ask_for_code(linking.actions, "reply-first", "email", MARIAS_ADDRESS)
        assert replies == ["utter_link_code_sent"]
        assert len(linking.mail.messages) == before  # answered while the code is still undelivered
    finally:
        linking.mail.gate.set()
    assert wait_for(lambda: len(linking.mail.messages) == before + 1)
    assert linking.mail.messages[-1]["To"] == MARIAS_ADDRESS


@pytest.mark.slow
def test_a_code_to_a_number_that_opted_out_is_not_sent(linking: LinkingServer) -> None:
    store = Store(linking.actions.store_url)
    try:
        store.set_sms_opt_out(MARIAS_PHONE, True)
        assert ask_for_code(linking.actions, "opted-out-1", "phone", "+34 612 345 678") == ["utter_link_code_sent", "utter_link_code_outbox"]
        assert "identity.code_withheld reason=sms_opt_out to=+34•••678" in linking.actions.log.read_text(encoding="utf-8")
        assert outbox_for(linking, MARIAS_PHONE) == []  # withheld before the answer: nothing was scheduled

        store.set_sms_opt_out(MARIAS_PHONE, False)  # START: codes may go to her number again
        assert ask_for_code(linking.actions, "opted-out-2", "phone", "+34 612 345 678") == ["utter_link_code_sent", "utter_link_code_outbox"]
        assert wait_for(lambda: len(outbox_for(linking, MARIAS_PHONE)) == 1)
    finally:
        store.close()


@pytest.mark.slow
def test_once_the_hourly_cap_is_reached_everyone_is_told_to_wait(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    reset(store_url)
    env = {**{name: "" for name in DELIVERY_ENV}, "CS_OUTBOX_DIR": str(tmp_path / "outbox"), "CS_LINK_CODES_PER_HOUR": "1"}
    for actions in run_action_server(tmp_path, store_url, env):
        assert ask_for_code(actions, "first", "email", MARIAS_ADDRESS) == ["utter_link_code_sent", "utter_link_code_outbox"]
        for sender, address in (("second", MARIAS_ADDRESS), ("third", "nobody.here@example.com")):
            assert ask_for_code(actions, sender, "email", address) == ["utter_link_codes_busy"]
        assert "identity.code_withheld reason=hourly_cap" in actions.log.read_text(encoding="utf-8")
