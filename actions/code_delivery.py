"""Sends one-time link codes to the email address or phone number on file.

Email goes through SMTP when `CS_SMTP_URL` is set, SMS through Twilio's REST API when
`TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN` and `CS_SMS_FROM` are set. Whatever is not
configured (the demo) is written to the outbox folder instead (`CS_OUTBOX_DIR`, else
`var/outbox/`), one file per message, for a demo user to open. The code itself is never
logged, and log lines name the destination only masked.
"""

from __future__ import annotations

import os
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path
from typing import Dict, Optional, Protocol, Text
from urllib.parse import parse_qs, unquote, urlsplit

from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from actions.store.engine import data_dir
from actions.store.models import utcnow
from actions.store.repository import LINK_CODE_TTL
from actions.store.views import Contact, ContactKind

SMTP_URL_ENV = "CS_SMTP_URL"
SMTP_FROM_ENV = "CS_SMTP_FROM"
SMS_FROM_ENV = "CS_SMS_FROM"
TWILIO_SID_ENV = "TWILIO_ACCOUNT_SID"
TWILIO_TOKEN_ENV = "TWILIO_AUTH_TOKEN"
TWILIO_API_URL_ENV = "CS_TWILIO_API_URL"
OUTBOX_DIR_ENV = "CS_OUTBOX_DIR"
DEFAULT_SMTP_FROM = "Nordhaven support <no-reply@nordhaven.example>"
SMTP_TIMEOUT_S = 15
SMTP_SCHEMES = {"smtp": 587, "smtps": 465}

_MINUTES = int(LINK_CODE_TTL.total_seconds() // 60)
SUBJECTS: Dict[Text, Text] = {
    "en": "Your Nordhaven verification code",
    "es": "Su código de verificación de Nordhaven",
    "de": "Ihr Nordhaven-Bestätigungscode",
    "fr": "Votre code de vérification Nordhaven",
    "zh": "您的Nordhaven验证码",
    "ar": "رمز التحقق الخاص بك من نوردهافن",
}
BODIES: Dict[Text, Text] = {
    "en": "Your Nordhaven code is {code}. Type it in the chat within {minutes} minutes to link it to "
          "your account. If you did not ask for it, ignore this message.",
    "es": "Su código de Nordhaven es {code}. Escríbalo en el chat en los próximos {minutes} minutos para "
          "vincularlo a su cuenta. Si no lo ha pedido, ignore este mensaje.",
    "de": "Ihr Nordhaven-Code lautet {code}. Geben Sie ihn innerhalb von {minutes} Minuten im Chat ein, "
          "um ihn mit Ihrem Konto zu verknüpfen. Falls Sie ihn nicht angefordert haben, ignorieren Sie "
          "diese Nachricht.",
    "fr": "Votre code Nordhaven est {code}. Saisissez-le dans la conversation d'ici {minutes} minutes pour "
          "la relier à votre compte. Si vous ne l'avez pas demandé, ignorez ce message.",
    "zh": "您的Nordhaven验证码是{code}。请在{minutes}分钟内在聊天中输入，以关联您的账户。如非本人操作，请忽略此消息。",
    "ar": "رمزك من نوردهافن هو {code}. اكتبه في المحادثة خلال {minutes} دقائق لربطها بحسابك. "
          "إذا لم تطلبه، فتجاهل هذه الرسالة.",
}


class DeliveryConfigError(ValueError):
    """A delivery setting in the environment is unusable; the message names the fix."""


class DeliveryError(RuntimeError):
    """The code could not be handed to the mail server, Twilio or the outbox."""


@dataclass(frozen=True)
class CodeMessage:
    to: Text
    subject: Text
    body: Text


def code_message(contact: Contact, code: Text, language: Text) -> CodeMessage:
    body = BODIES.get(language, BODIES["en"]).format(code=code, minutes=_MINUTES)
    return CodeMessage(contact.value, SUBJECTS.get(language, SUBJECTS["en"]), body)


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
    """Picks the sender for each kind of contact."""

    def __init__(self, senders: Dict[ContactKind, Sender]) -> None:
        self.senders = senders

    @classmethod
    def from_env(cls) -> "CodeDelivery":
        outbox = OutboxSender(Path(os.environ.get(OUTBOX_DIR_ENV) or data_dir() / "outbox"))
        return cls({ContactKind.EMAIL: _email_sender() or outbox, ContactKind.PHONE: _sms_sender() or outbox})

    def outbox_for(self, kind: ContactKind) -> Optional[Path]:
        """The outbox folder when `kind` is not really delivered (the demo), else None."""
        sender = self.senders[kind]
        return sender.folder if isinstance(sender, OutboxSender) else None

    def send(self, contact: Contact, code: Text, language: Text) -> None:
        self.senders[contact.kind].send(code_message(contact, code, language))


@lru_cache(maxsize=1)
def shared_delivery() -> CodeDelivery:
    """One delivery setup per action-server process, from the environment."""
    return CodeDelivery.from_env()


def _email_sender() -> Optional[SmtpSender]:
    url = os.environ.get(SMTP_URL_ENV)
    return SmtpSender(url, os.environ.get(SMTP_FROM_ENV) or DEFAULT_SMTP_FROM) if url else None


def _sms_sender() -> Optional[TwilioSmsSender]:
    names = (TWILIO_SID_ENV, TWILIO_TOKEN_ENV, SMS_FROM_ENV)
    values = [os.environ.get(name) for name in names]
    if not any(values[0::2]):  # the auth token alone serves the SMS channel's signature check
        return None
    missing = [name for name, value in zip(names, values) if not value]
    if missing:
        raise DeliveryConfigError(
            f"Sending link codes by SMS needs {', '.join(names)} (missing: {', '.join(missing)}); "
            "set them, or unset them all to write the codes to the outbox."
        )
    return TwilioSmsSender(*values, os.environ.get(TWILIO_API_URL_ENV))
