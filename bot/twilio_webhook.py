"""Twilio's signed messaging webhook, shared by the SMS (bot/sms.py) and WhatsApp (bot/whatsapp.py) channels.

What Twilio's SMS and WhatsApp APIs have in common: the credentials.yml settings
(`TwilioSettings`), the `X-Twilio-Signature` check on the posted form (`signed_form`, with
twilio's `RequestValidator`), the form as one validated message (`Inbound`, media included),
the Messages API (`TwilioRest`, twilio's async client) and the TwiML answer (`twiml`). The
channels' own rules (keywords, opt-outs, buttons, the 24-hour window) live in their modules.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Dict, Optional, Sequence, Text, Tuple
from urllib.parse import parse_qs

import aiohttp
from rasa.shared.exceptions import RasaException
from sanic import response
from sanic.request import Request, RequestParameters
from sanic.response import HTTPResponse
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from bot.validation import InvalidInput, clean_sender, clean_text

logger = logging.getLogger(__name__)
# twilio's HTTP client logs every request at INFO, ten lines an SMS; its warnings are enough.
_api_logger = logging.getLogger(f"{__name__}.api")
_api_logger.setLevel(logging.WARNING)

# Twilio posts about 20 fields (more with media: MediaUrl0..9 and their types).
MAX_FORM_FIELDS = 100
# Twilio attaches at most 10 media to one message; their URLs are Twilio's, well under this.
MAX_MEDIA = 10
MAX_MEDIA_URL_CHARS = 1000
REST_TIMEOUT_S = 15
_MESSAGE_SID = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")
_E164 = re.compile(r"^\+[0-9]{6,15}$")
_MEDIA_URL = re.compile(r"^https://\S+$")
_CONTENT_TYPE = re.compile(r"^[\w.+-]{1,64}/[\w.+-]{1,64}$")


# Country calling code -> the language most customers there write in. A hint, not a rule
# (+41 is also French and Italian); the bot still detects the language of every message.
# Calling codes are prefix-free, so at most one matches a number.
COUNTRY_LANGUAGES = {
    "+34": "es", "+49": "de", "+43": "de", "+41": "de", "+33": "fr", "+86": "zh",
    "+971": "ar", "+966": "ar", "+20": "ar", "+44": "en", "+1": "en",
}


class TwilioConfigError(RasaException):
    """A Twilio channel's credentials.yml section is unusable; `rasa run` stops with this message."""


@dataclass(frozen=True)
class TwilioSettings:
    """What every Twilio messaging channel's credentials.yml section holds; subclasses name
    their section and webhook (for the error messages) and add settings and checks."""

    SECTION: ClassVar[Text]
    WEBHOOK: ClassVar[Text]

    auth_token: Text
    public_url: Optional[Text] = None
    account_sid: Optional[Text] = None
    twilio_number: Optional[Text] = None
    api_base_url: Optional[Text] = None

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "TwilioSettings":
        """Checks every setting, so a bad one stops `rasa run` with its fix instead of failing later."""
        values = {key: value for key, value in (credentials or {}).items() if value not in (None, "")}
        cls._check(values)
        return cls(**values)

    @classmethod
    def _check(cls, values: Dict[Text, Any]) -> None:
        unknown = sorted(set(values) - {field.name for field in fields(cls)})
        if unknown:
            raise TwilioConfigError(f"{cls.SECTION}: unknown setting(s) {', '.join(unknown)} in credentials.yml.")
        if not values.get("auth_token"):
            raise TwilioConfigError(
                f"{cls.SECTION} needs your Twilio auth token to check X-Twilio-Signature: put "
                "`auth_token: ${TWILIO_AUTH_TOKEN}` under it in credentials.yml and set TWILIO_AUTH_TOKEN "
                "in the environment (Twilio console > Account > API keys & tokens)."
            )
        url = values.get("public_url")
        if url is not None and not str(url).startswith(("http://", "https://")):
            raise TwilioConfigError(
                f"{cls.SECTION}: public_url must be the full webhook URL configured in Twilio, "
                f"e.g. https://bot.example.com{cls.WEBHOOK}."
            )

    @classmethod
    def _require_rest_settings(cls, values: Dict[Text, Any], why: Text) -> None:
        missing = [key for key in ("account_sid", "twilio_number") if not values.get(key)]
        if missing:
            raise TwilioConfigError(
                f"{cls.SECTION}: {why} needs {' and '.join(missing)} "
                "(e.g. `account_sid: ${TWILIO_ACCOUNT_SID}`, `twilio_number: \"+15017122661\"`)."
            )

    @property
    def replies_by_rest(self) -> bool:
        """Replies go through the Messages API, not as TwiML in the webhook's answer."""
        return True



def language_hint(phone: Text) -> Optional[Text]:
    """The language suggested by the number's country calling code, if we serve that country."""
    return next((language for code, language in COUNTRY_LANGUAGES.items() if phone.startswith(code)), None)



@dataclass(frozen=True)
class Attachment:
    """One media item of a message: Twilio's URL for it (its console login fetches it) and its type."""

    url: Text
    content_type: Text


@dataclass(frozen=True)
class Inbound:
    """One message as Twilio posted it, validated.

    `address` is Twilio's `From` as it is ("+34…", "whatsapp:+34…"): replies go to it and
    opt-outs are stored under it, so an SMS opt-out never silences WhatsApp, nor the reverse.
    """

    address: Text
    phone: Text
    to: Optional[Text]
    text: Text
    message_sid: Text
    media: Tuple[Attachment, ...] = ()

    @classmethod
    def from_form(cls, form: RequestParameters, address_prefix: Text = "") -> "Inbound":
        if not form:
            raise InvalidInput("The request body is empty; Twilio posts a form with From, Body and MessageSid.")
        for field in ("From", "Body", "MessageSid"):
            if field not in form:
                raise InvalidInput(f"'{field}' is missing from the form.")
        message_sid = form.get("MessageSid")
        if not _MESSAGE_SID.match(message_sid):
            raise InvalidInput("'MessageSid' must be two capital letters and 32 hex digits.")
        address = clean_sender(form.get("From"))
        phone = address[len(address_prefix):]
        # SMS senders may be names ("NORDHAVEN"); a prefixed address (WhatsApp) is always a number.
        if address_prefix and not (address.startswith(address_prefix) and _E164.match(phone)):
            raise InvalidInput(f"'From' must be a {address_prefix}+<number> address on this webhook.")
        to = form.get("To")
        media = _media_of(form)
        body = form.get("Body")
        return cls(
            address=address,
            phone=phone,
            to=clean_sender(to) if to else None,
            text=clean_text(body) if body.strip() or not media else "",
            message_sid=message_sid,
            media=media,
        )

    def for_bot(self) -> Text:
        """What the bot reads: the text, or the media's links when there is no text."""
        return self.text or " ".join(item.url for item in self.media)

    def for_ticket(self) -> Text:
        """What the agent reads in the ticket: the text and a link to every media item."""
        links = [f"[{item.content_type}] {item.url}" for item in self.media]
        return " ".join([self.text, *links] if self.text else links)

    def metadata(self) -> Dict[Text, Any]:
        """What reaches the tracker: the language hint, Twilio's ids of the message and its media."""
        hint = language_hint(self.phone)
        values: Dict[Text, Any] = {"language_hint": hint, "from": self.address, "to": self.to, "message_sid": self.message_sid}
        values["media"] = [{"url": item.url, "content_type": item.content_type} for item in self.media]
        return {key: value for key, value in values.items() if value}


def _media_of(form: RequestParameters) -> Tuple[Attachment, ...]:
    """`MediaUrl0`… and `MediaContentType0`…, as many as `NumMedia` says (absent: none)."""
    count = form.get("NumMedia") or "0"
    if not (count.isascii() and count.isdigit()) or int(count) > MAX_MEDIA:  # "²".isdigit(), but int() refuses it
        raise InvalidInput(f"'NumMedia' must be a whole number from 0 to {MAX_MEDIA}.")
    media = []
    for index in range(int(count)):
        url, content_type = form.get(f"MediaUrl{index}") or "", form.get(f"MediaContentType{index}") or ""
        if len(url) > MAX_MEDIA_URL_CHARS or not _MEDIA_URL.match(url):
            raise InvalidInput(f"'MediaUrl{index}' must be an https URL of at most {MAX_MEDIA_URL_CHARS} characters.")
        if not _CONTENT_TYPE.match(content_type):
            raise InvalidInput(f"'MediaContentType{index}' must be a media type such as image/jpeg.")
        media.append(Attachment(url, content_type))
    return tuple(media)


def signed_form(request: Request, validator: RequestValidator, public_url: Optional[Text]) -> Optional[RequestParameters]:
    """The POSTed form if X-Twilio-Signature matches it and the public URL, else None.

    Without the header nothing is parsed; a form of more than `MAX_FORM_FIELDS` fields is
    not Twilio's. Blank fields are kept: Twilio signs them too.
    """
    signature = request.headers.get("X-Twilio-Signature")
    if not signature:
        return None
    try:
        posted = parse_qs(request.body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:  # not UTF-8 (UnicodeDecodeError), or too many fields
        return None
    form = RequestParameters(posted)
    return form if validator.validate(public_url or request.url, form, signature) else None


class TwilioRest:
    """Sends through Twilio's Messages API from the channel's number (`whatsapp:` before it on WhatsApp)."""

    def __init__(self, settings: TwilioSettings, channel: Text, address_prefix: Text) -> None:
        self._settings = settings
        self._channel = channel
        self._sender = f"{address_prefix}{settings.twilio_number}"
        self._client: Optional[Client] = None

    async def send(self, address: Text, part: Text) -> None:
        """One message; a failure is logged and the conversation goes on."""
        messages = self._rest_client().messages
        try:
            await asyncio.wait_for(messages.create_async(to=address, from_=self._sender, body=part), REST_TIMEOUT_S)
        except TwilioRestException as error:
            logger.error("%s.send_failed status=%s code=%s", self._channel, error.status, error.code)
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            logger.error("%s.send_failed kind=%s", self._channel, type(error).__name__)

    def _rest_client(self) -> Client:
        """Twilio's own client, made on first use inside the server's event loop (aiohttp needs one)."""
        if self._client is None:
            settings = self._settings
            http_client = AsyncTwilioHttpClient(logger=_api_logger)
            self._client = Client(settings.account_sid, settings.auth_token, http_client=http_client)
            if settings.api_base_url:  # a stand-in in tests; api.twilio.com otherwise
                self._client.api.base_url = settings.api_base_url
        return self._client


def twiml(replies: Sequence[Text]) -> HTTPResponse:
    """Twilio's answer format: one <Message> per part, or none (then Twilio sends nothing)."""
    answer = MessagingResponse()
    for part in replies:
        answer.message(part)
    return response.text(str(answer), content_type="text/xml; charset=utf-8")
