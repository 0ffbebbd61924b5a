"""Sends one-time link codes to the email address or phone number on file.

Email goes through SMTP when `CS_SMTP_URL` is set, SMS through Twilio's REST API when the
SMS channel's credentials.yml section has `account_sid`, `auth_token` and `twilio_number`, or
`TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN` and `CS_SMS_FROM` are set (cs_common/twilio_account.py).
Whatever is not configured (the demo) is written to the outbox folder instead (`CS_OUTBOX_DIR`, else
`var/outbox/`), one file per message, for a demo user to open. The code itself is never
logged, and log lines name the destination only masked.

The texts (subject, and the message that says someone asked and what to do if it was not
them) are the domain's responses `utter_link_code_subject` and `utter_link_code_message`, in
each bot language, where `make lint` checks them like every other response.

`send_soon` hands a code to a worker thread and returns at once: the action answers before
the mail server or Twilio is even contacted, so how long the answer takes never tells
whether the address is on file.
"""

from __future__ import annotations

import asyncio
import logging
import os
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path
from typing import Dict, Optional, Protocol, Set, Text
from urllib.parse import parse_qs, unquote, urlsplit

import yaml
from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from cs_common.senders import DEFAULT_LANGUAGE
from cs_common.store.engine import data_dir
from cs_common.store.models import utcnow
from cs_common.store.identities import LINK_CODE_TTL
from cs_common.store.views import Contact, ContactKind
from cs_common.twilio_account import SMS_SECTION, CredentialsError, TwilioAccount
from cs_common.variations import texts_by_language

logger = logging.getLogger(__name__)

SMTP_URL_ENV = "CS_SMTP_URL"
SMTP_FROM_ENV = "CS_SMTP_FROM"
OUTBOX_DIR_ENV = "CS_OUTBOX_DIR"
DEFAULT_SMTP_FROM = "Nordhaven support <no-reply@nordhaven.example>"
SMTP_TIMEOUT_S = 15
SMTP_SCHEMES = {"smtp": 587, "smtps": 465}

DOMAIN_FILE = Path(__file__).resolve().parents[1] / "domain.yml"
SUBJECT_RESPONSE = "utter_link_code_subject"
MESSAGE_RESPONSE = "utter_link_code_message"
_MINUTES = int(LINK_CODE_TTL.total_seconds() // 60)


class DeliveryConfigError(ValueError):
    """A delivery setting in the environment is unusable; the message names the fix."""


class DeliveryError(RuntimeError):
    """The code could not be handed to the mail server, Twilio or the outbox."""


@dataclass(frozen=True)
class CodeMessage:
    to: Text
    subject: Text
    body: Text


@dataclass(frozen=True)
class CodeTexts:
    """The code's subject and message per language, from the domain's responses."""

    subjects: Dict[Text, Text]
    messages: Dict[Text, Text]

    @classmethod
    def from_domain(cls, path: Path = DOMAIN_FILE) -> "CodeTexts":
        # PyYAML, not rasa.shared's reader: the action server does not import Rasa.
        responses = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("responses") or {}
        missing = [name for name in (SUBJECT_RESPONSE, MESSAGE_RESPONSE) if not responses.get(name)]
        if missing:
            raise DeliveryConfigError(f"{path} has no {' or '.join(missing)}: add the response(s), one variation per bot language.")
        return cls(*(texts_by_language(responses[name], DEFAULT_LANGUAGE) for name in (SUBJECT_RESPONSE, MESSAGE_RESPONSE)))

    def message(self, contact: Contact, code: Text, language: Text) -> CodeMessage:
        """The message for `contact` in `language` (the default language when there is none)."""
        body = self.messages.get(language, self.messages[DEFAULT_LANGUAGE]).format(code=code, minutes=_MINUTES)
        return CodeMessage(contact.value, self.subjects.get(language, self.subjects[DEFAULT_LANGUAGE]), body)


def masked(contact: Contact) -> Text:
    """Enough of the destination to recognise it, too little to learn it: m•••@example.com."""
    if contact.kind is ContactKind.EMAIL:
        local, _, domain = contact.value.partition("@")
        return f"{local[:1]}•••@{domain}"
    return f"{contact.value[:3]}•••{contact.value[-3:]}"


class Sender(Protocol):
    def send(self, message: CodeMessage) -> None:
        """Delivers `message` or raises `DeliveryError`."""


class OutboxSender:
    """The demo's mail server: one text file per message in a local folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: CodeMessage) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
            path = self.folder / f"{stamp}.txt"
            path.write_text(f"To: {message.to}\nSubject: {message.subject}\n\n{message.body}\n", encoding="utf-8")
            path.chmod(0o600)
        except OSError as error:
            raise DeliveryError(f"outbox {self.folder}: {type(error).__name__}") from None


class SmtpSender:
    """Email through an SMTP server: smtps://host:465 (TLS) or smtp://host:587 (STARTTLS)."""

    def __init__(self, url: Text, sender: Text) -> None:
        parts = urlsplit(url)
        if parts.scheme not in SMTP_SCHEMES or not parts.hostname:
            raise DeliveryConfigError(
                f"{SMTP_URL_ENV} must look like smtps://user:password@smtp.example.com:465 or "
                "smtp://user:password@smtp.example.com:587 (STARTTLS; add ?starttls=false for a local relay)."
            )
        self.host, self.port = parts.hostname, parts.port or SMTP_SCHEMES[parts.scheme]
        self.tls = parts.scheme == "smtps"
        self.starttls = not self.tls and parse_qs(parts.query).get("starttls", ["true"])[0] != "false"
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender

    def send(self, message: CodeMessage) -> None:
        email = EmailMessage()
        email["From"], email["To"], email["Subject"] = self.sender, message.to, message.subject
        email.set_content(message.body)
        connect = smtplib.SMTP_SSL if self.tls else smtplib.SMTP
        try:
            with connect(self.host, self.port, timeout=SMTP_TIMEOUT_S) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(email)
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(f"smtp {self.host}:{self.port}: {type(error).__name__}") from None


class TwilioSmsSender:
    """SMS through Twilio's Messages API (its own client; base URL replaceable for a stand-in)."""

    def __init__(self, account_sid: Text, auth_token: Text, from_number: Text, api_url: Optional[Text]) -> None:
        self.client = Client(account_sid, auth_token)
        if api_url:
            self.client.api.base_url = api_url.rstrip("/")
        self.from_number = from_number

    def send(self, message: CodeMessage) -> None:
        try:
            self.client.messages.create(to=message.to, from_=self.from_number, body=message.body)
        except (TwilioException, OSError) as error:
            raise DeliveryError(f"twilio: {type(error).__name__}") from None


class CodeDelivery:
    """Picks the sender for each kind of contact and words the message."""

    def __init__(self, senders: Dict[ContactKind, Sender], texts: CodeTexts) -> None:
        self.senders = senders
        self.texts = texts
        self._in_flight: Set["asyncio.Task[None]"] = set()  # the loop keeps only weak references

    @classmethod
    def from_env(cls) -> "CodeDelivery":
        outbox = OutboxSender(Path(os.environ.get(OUTBOX_DIR_ENV) or data_dir() / "outbox"))
        senders = {ContactKind.EMAIL: _email_sender() or outbox, ContactKind.PHONE: _sms_sender() or outbox}
        return cls(senders, CodeTexts.from_domain())

    def outbox_for(self, kind: ContactKind) -> Optional[Path]:
        """The outbox folder when `kind` is not really delivered (the demo), else None."""
        sender = self.senders[kind]
        return sender.folder if isinstance(sender, OutboxSender) else None

    def send(self, contact: Contact, code: Text, language: Text) -> None:
        """Delivers the code now (blocking) or raises `DeliveryError`."""
        self.senders[contact.kind].send(self.texts.message(contact, code, language))

    def send_soon(self, contact: Contact, code: Text, language: Text) -> "asyncio.Task[None]":
        """Delivers the code from a worker thread once the caller has returned; a failure is
        logged (destination masked, never the code). Returns the task, for tests to await."""
        task = asyncio.get_running_loop().create_task(self._send_logged(contact, code, language))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        return task

    async def _send_logged(self, contact: Contact, code: Text, language: Text) -> None:
        try:
            await asyncio.to_thread(self.send, contact, code, language)
        except DeliveryError as error:
            logger.error("identity.code_not_sent to=%s reason=%s", masked(contact), error)
        except Exception as error:  # a bug must not vanish with the task; its text could hold the code
            logger.error("identity.code_not_sent to=%s kind=%s", masked(contact), type(error).__name__)
        else:
            logger.info("identity.code_sent to=%s", masked(contact))


@lru_cache(maxsize=1)
def shared_delivery() -> CodeDelivery:
    """One delivery setup per action-server process, from the environment."""
    return CodeDelivery.from_env()


def _email_sender() -> Optional[SmtpSender]:
    url = os.environ.get(SMTP_URL_ENV)
    return SmtpSender(url, os.environ.get(SMTP_FROM_ENV) or DEFAULT_SMTP_FROM) if url else None


def _sms_sender() -> Optional[TwilioSmsSender]:
    try:
        account = TwilioAccount.for_sms()
    except CredentialsError as error:
        raise DeliveryConfigError(str(error)) from None
    if not (account.account_sid or account.twilio_number):  # the auth token alone serves the SMS channel's signature check
        return None
    if account.missing():
        raise DeliveryConfigError(
            f"Sending link codes by SMS needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, CS_SMS_FROM (missing: {', '.join(account.missing())}); "
            f"set them (or account_sid, auth_token, twilio_number under {SMS_SECTION} in credentials.yml), "
            "or unset them all to write the codes to the outbox."
        )
    return TwilioSmsSender(account.account_sid, account.auth_token, account.twilio_number, account.api_base_url)
