"""The SMS channel (Twilio): `POST /webhooks/sms/webhook`, replies by TwiML or by Twilio's REST API.

It is also the one home of Twilio's signed webhook: `bot/whatsapp.py` is this channel with
WhatsApp's addresses, length limit and 24-hour window, and everything below holds there too.

Rasa's own Twilio channel never checks `X-Twilio-Signature` and cannot show buttons. This one
refuses a body over `MAX_BODY_BYTES` (413) and a request without a signature (403) before
reading the form, parses at most `MAX_FORM_FIELDS` fields, refuses (403) any request whose
signature does not match, answers bad forms with a 4xx and a reason, and processes a retried
MessageSid once. A turn runs to its end even when Twilio's connection drops (it is shielded
from the handler's cancellation), and a redelivered MessageSid whose turn is still running, or
ran in this process within the hour, is answered with that turn's replies, not dropped. Buttons
become a numbered list, and a reply that is just that number means the button. Long replies
are split at sentence boundaries within SMS segment limits (`bot/sms_text.py`). The country
code of the sender's number reaches the tracker as metadata `language_hint`. Twilio may post a
number's messages side by side; they are handled one at a time, in the order they arrived
(bot/ordering.py), so an opt-out or a reply never overtakes the message before it. Media the
customer sends (MMS, WhatsApp photos: `NumMedia`, `MediaUrl0`…) reach the tracker as metadata
`media` and the agent's ticket as links; a message of media alone is its links.

STOP / STOPALL / UNSUBSCRIBE / CANCEL / END / QUIT opt a number out (stored, see
`Store.set_sms_opt_out`) and START / UNSTOP opt it back in; nothing is sent to an opted-out
number and its messages are not processed, except HELP, which carriers require to be answered.
Twilio's own opt-out handling (on by default) also acts on these keywords: it confirms STOP and
START itself, so we send nothing for them, and it blocks sending to opted-out numbers; we store
the opt-out so the bot knows it too, whatever Twilio is configured to do. Twilio may answer HELP
as well: switch its HELP reply off (Messaging Service > Opt-Out Management) for one answer.
A keyword is the whole message: "cancel" alone opts out, as at Twilio; "cancel my order" does not.
The keyword answers are the domain's responses `utter_keyword_help`, `utter_keyword_opted_out`
and `utter_keyword_opted_in`, in every bot language, where `make lint` checks them.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Awaitable, Callable, ClassVar, Dict, List, Optional, Sequence, Text, Tuple
from urllib.parse import parse_qs

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.shared.exceptions import RasaException
from rasa.shared.utils.io import read_yaml_file
from sanic import Blueprint, response
from sanic.request import Request, RequestParameters
from sanic.response import HTTPResponse
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from actions.common import DEFAULT_LANGUAGE
from actions.store import Store, StoreError
from bot.dedup import TtlCache, deduplicator
from bot.handoff import held_by_agent
from bot.http_limits import limit_server
from bot.ordering import InArrivalOrder
from bot.sms_text import button_choice, numbered_buttons, split_message
from bot.validation import InvalidInput, clean_sender, clean_text
from cs_transformer.variations import variation_language

logger = logging.getLogger(__name__)
# twilio's HTTP client logs every request at INFO, ten lines an SMS; its warnings are enough.
_api_logger = logging.getLogger(f"{__name__}.twilio_api")
_api_logger.setLevel(logging.WARNING)

MAX_BODY_BYTES = 100_000
# Twilio posts about 20 fields (more with media: MediaUrl0..9 and their types).
MAX_FORM_FIELDS = 100
# Twilio sends at most 1600 characters in one message: 10 concatenated GSM-7 segments.
MAX_SEGMENTS = 10
# Twilio attaches at most 10 media to one message; their URLs are Twilio's, well under this.
MAX_MEDIA = 10
MAX_MEDIA_URL_CHARS = 1000
REST_TIMEOUT_S = 15
# Twilio retries a webhook within minutes; a MessageSid is remembered for an hour.
SEEN_TTL_S = 3600
SEEN_MAX_SIDS = 10_000
# A numbered list means its buttons for as long as a conversation session lasts (domain.yml).
BUTTONS_TTL_S = 3600
BUTTONS_MAX_NUMBERS = 10_000
REPLY_MODES = ("twiml", "rest")
SENDER_PREFIX = "sms:"
_MESSAGE_SID = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")
_E164 = re.compile(r"^\+[0-9]{6,15}$")
_MEDIA_URL = re.compile(r"^https://\S+$")
_CONTENT_TYPE = re.compile(r"^[\w.+-]{1,64}/[\w.+-]{1,64}$")

OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP"})
HELP_KEYWORD = "HELP"

# Country calling code -> the language most customers there write in. A hint, not a rule
# (+41 is also French and Italian); the bot still detects the language of every message.
# Calling codes are prefix-free, so at most one matches a number.
COUNTRY_LANGUAGES = {
    "+34": "es", "+49": "de", "+43": "de", "+41": "de", "+33": "fr", "+86": "zh",
    "+971": "ar", "+966": "ar", "+20": "ar", "+44": "en", "+1": "en",
}

DOMAIN_FILE = Path(__file__).resolve().parents[1] / "domain.yml"
HELP_RESPONSE = "utter_keyword_help"
OPTED_OUT_RESPONSE = "utter_keyword_opted_out"
OPTED_IN_RESPONSE = "utter_keyword_opted_in"

Deliver = Callable[[Text, Text], Awaitable[None]]
Payloads = Tuple[Text, ...]


class SmsConfigError(RasaException):
    """The channel's credentials.yml section is unusable; `rasa run` stops with this message."""


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
            raise SmsConfigError(f"{cls.SECTION}: unknown setting(s) {', '.join(unknown)} in credentials.yml.")
        if not values.get("auth_token"):
            raise SmsConfigError(
                f"{cls.SECTION} needs your Twilio auth token to check X-Twilio-Signature: put "
                "`auth_token: ${TWILIO_AUTH_TOKEN}` under it in credentials.yml and set TWILIO_AUTH_TOKEN "
                "in the environment (Twilio console > Account > API keys & tokens)."
            )
        url = values.get("public_url")
        if url is not None and not str(url).startswith(("http://", "https://")):
            raise SmsConfigError(
                f"{cls.SECTION}: public_url must be the full webhook URL configured in Twilio, "
                f"e.g. https://bot.example.com{cls.WEBHOOK}."
            )

    @classmethod
    def _require_rest_settings(cls, values: Dict[Text, Any], why: Text) -> None:
        missing = [key for key in ("account_sid", "twilio_number") if not values.get(key)]
        if missing:
            raise SmsConfigError(
                f"{cls.SECTION}: {why} needs {' and '.join(missing)} "
                "(e.g. `account_sid: ${TWILIO_ACCOUNT_SID}`, `twilio_number: \"+15017122661\"`)."
            )

    @property
    def replies_by_rest(self) -> bool:
        """Replies go through the Messages API, not as TwiML in the webhook's answer."""
        return True


@dataclass(frozen=True)
class SmsSettings(TwilioSettings):
    """The `bot.sms.TwilioSmsInput:` section of credentials.yml."""

    SECTION = "bot.sms.TwilioSmsInput"
    WEBHOOK = "/webhooks/sms/webhook"

    reply_mode: Text = "twiml"
    max_segments: int = 1

    @classmethod
    def _check(cls, values: Dict[Text, Any]) -> None:
        super()._check(values)
        mode = values.get("reply_mode", "twiml")
        if mode not in REPLY_MODES:
            raise SmsConfigError(f"{cls.SECTION}: reply_mode must be one of {', '.join(REPLY_MODES)}, not {mode!r}.")
        if mode == "rest":
            cls._require_rest_settings(values, "reply_mode rest sends through Twilio's API and")
        segments = values.get("max_segments", 1)
        if type(segments) is not int or not 1 <= segments <= MAX_SEGMENTS:
            raise SmsConfigError(f"{cls.SECTION}: max_segments must be a whole number from 1 to {MAX_SEGMENTS}.")

    @property
    def replies_by_rest(self) -> bool:
        return self.reply_mode == "rest"


@dataclass(frozen=True)
class KeywordTexts:
    """The answers to HELP, STOP and START per language, from the domain's responses."""

    help: Dict[Text, Text]
    opted_out: Dict[Text, Text]
    opted_in: Dict[Text, Text]

    @classmethod
    def from_domain(cls, path: Path = DOMAIN_FILE) -> "KeywordTexts":
        responses = (read_yaml_file(path) or {}).get("responses") or {}
        names = (HELP_RESPONSE, OPTED_OUT_RESPONSE, OPTED_IN_RESPONSE)
        missing = [name for name in names if not responses.get(name)]
        if missing:
            raise SmsConfigError(f"{path} has no {' or '.join(missing)}: add the response(s), one variation per bot language.")
        return cls(*(_by_language(responses[name]) for name in names))

    @staticmethod
    def in_language(texts: Dict[Text, Text], language: Optional[Text]) -> Text:
        """The text in `language`, else in the default language (the linter reports the gap)."""
        return texts.get(language or DEFAULT_LANGUAGE) or texts[DEFAULT_LANGUAGE]


def _by_language(variations: List[Dict[Text, Any]]) -> Dict[Text, Text]:
    return {variation_language(variation, DEFAULT_LANGUAGE): variation["text"] for variation in variations}


@lru_cache(maxsize=1)
def keyword_texts() -> KeywordTexts:
    """The project's keyword answers, read once per process."""
    return KeywordTexts.from_domain()


def sms_sender(phone: Text) -> Text:
    """The sender id of a number Twilio's signed request vouches for (actions/common.py reads the prefix)."""
    return f"{SENDER_PREFIX}{phone}"


def language_hint(phone: Text) -> Optional[Text]:
    """The language suggested by the number's country calling code, if we serve that country."""
    return next((language for code, language in COUNTRY_LANGUAGES.items() if phone.startswith(code)), None)


def keyword_of(text: Text) -> Text:
    """The message as compared with the keywords: the whole of it, trimmed, in capitals, no final . or !"""
    return text.strip().rstrip(".!").upper()


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


class SmsOutput(OutputChannel):
    """The bot's messages as parts, handed to `deliver` (the TwiML answer or the REST API).

    Every message passes the opt-out check here, so nothing reaches an opted-out number,
    whichever way it was triggered. `address_of` turns Rasa's recipient (the sender id) into
    Twilio's address; `split` cuts a text into the parts the channel can carry.
    """

    def __init__(
        self,
        deliver: Deliver,
        store: Store,
        buttons: TtlCache[Payloads],
        split: Callable[[Text], List[Text]],
        address_of: Callable[[Text], Text],
    ) -> None:
        self._deliver = deliver
        self._store = store
        self._buttons = buttons
        self._split = split
        self._address_of = address_of

    @classmethod
    def name(cls) -> Text:
        return "sms"

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self._send(self._address_of(recipient_id), text, payloads=())

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        titles = [button["title"] for button in buttons]
        payloads = tuple(button.get("payload") or button["title"] for button in buttons)
        await self._send(self._address_of(recipient_id), numbered_buttons(text, titles), payloads)

    async def send_notice(self, address: Text, text: Text) -> None:
        """The texts an opted-out number still gets: carriers require HELP to be answered, and an
        opt-out the channel confirms itself (WhatsApp) is confirmed once."""
        await self._deliver_parts(address, text)

    async def _send(self, address: Text, text: Text, payloads: Payloads) -> None:
        """Sends unless the number opted out; the last message sent decides what a digit means."""
        if await asyncio.to_thread(self._store.is_sms_opted_out, address):
            logger.info("%s.not_sent reason=opted_out", self.name())
            return
        self._buttons.put(address, payloads)
        await self._deliver_parts(address, text)

    async def _deliver_parts(self, address: Text, text: Text) -> None:
        for part in self._split(text):
            await self._deliver(address, part)


class TwilioSmsInput(InputChannel):
    """Receives Twilio's SMS webhook; see the module docstring for what it guarantees.

    Subclasses (bot/whatsapp.py) change the class attributes and the hooks below them.
    """

    SETTINGS: ClassVar[type] = SmsSettings
    SENDER_PREFIX: ClassVar[Text] = SENDER_PREFIX
    # What Twilio writes before the number in From and To ("whatsapp:" on WhatsApp).
    ADDRESS_PREFIX: ClassVar[Text] = ""
    # Twilio confirms STOP and START on SMS itself; a channel where it does not confirms them here.
    CONFIRMS_OPT_OUT: ClassVar[bool] = False

    def __init__(self, settings: TwilioSettings, store: Store, texts: Optional[KeywordTexts] = None) -> None:
        self.settings = settings
        self._store = store
        self._texts = texts or keyword_texts()
        self._validator = RequestValidator(settings.auth_token)
        self._seen = deduplicator(self.name(), SEEN_TTL_S, SEEN_MAX_SIDS)
        # This process's turns by MessageSid, so a redelivery gets the replies of its turn.
        self._turns: TtlCache[asyncio.Task] = TtlCache(SEEN_TTL_S, SEEN_MAX_SIDS)
        self._buttons: TtlCache[Payloads] = TtlCache(BUTTONS_TTL_S, BUTTONS_MAX_NUMBERS)
        self._client: Optional[Client] = None
        self._in_order = InArrivalOrder()

    @classmethod
    def name(cls) -> Text:
        return "sms"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls(cls.SETTINGS.from_credentials(credentials), Store.from_env())

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint(f"{self.name()}_webhook", __name__)

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if len(request.body) > MAX_BODY_BYTES:
                return response.text(f"The request body is larger than {MAX_BODY_BYTES} bytes.", status=413)
            form = self._signed_form(request)
            if form is None:
                logger.warning("%s.rejected reason=signature", self.name())
                return response.text("X-Twilio-Signature is missing or does not match this request.", status=403)
            try:
                inbound = Inbound.from_form(form, self.ADDRESS_PREFIX)
            except InvalidInput as error:
                return response.text(str(error), status=400)
            turn = self._turns.get(inbound.message_sid)
            if turn is None:
                if not await self._seen.first_time(inbound.message_sid):
                    logger.info("%s.duplicate", self.name())  # handled by another replica, or an hour ago
                    return twiml([])
                turn = self._in_order.submit(inbound.address, self._turn(inbound, on_new_message))
                self._turns.put(inbound.message_sid, turn)
            else:
                logger.info("%s.redelivery answered=True", self.name())
            try:
                # A dropped connection cancels this handler, never the turn (nor the next message's).
                replies = await asyncio.shield(turn)
            except StoreError as error:
                self._turns.pop(inbound.message_sid)
                await self._seen.forget(inbound.message_sid)  # not handled: let Twilio's retry through
                logger.error("%s.store_error kind=%s", self.name(), type(error).__name__)
                return response.text("Opt-outs cannot be checked right now; try again later.", status=503)
            return twiml(replies)

        return limit_server(webhook)

    def get_output_channel(self) -> Optional[OutputChannel]:
        """For messages the bot starts itself (`trigger_intent`, an agent's answer: bot/delivery.py):
        only the REST API can send them, so they need `account_sid` and `twilio_number`, in either reply mode."""
        if not (self.settings.account_sid and self.settings.twilio_number):
            return None
        if self.settings.replies_by_rest:
            return self._output([])  # the channel's own output (WhatsApp's keeps the 24-hour window)
        return SmsOutput(self._send_by_rest, self._store, self._buttons, self._split, self.address_of)

    def sender_id(self, phone: Text) -> Text:
        return f"{self.SENDER_PREFIX}{phone}"

    def address_of(self, sender_id: Text) -> Text:
        """Twilio's address for a sender id of this channel (`sms:+34…` → `+34…`)."""
        phone = sender_id[len(self.SENDER_PREFIX):] if sender_id.startswith(self.SENDER_PREFIX) else sender_id
        return f"{self.ADDRESS_PREFIX}{phone}"

    def _signed_form(self, request: Request) -> Optional[RequestParameters]:
        """The POSTed form if X-Twilio-Signature matches it and the public URL, else None.

        Without the header nothing is parsed; a form of more than `MAX_FORM_FIELDS` fields is
        not Twilio's. Blank fields are kept: Twilio signs them too.
        """
        signature = request.headers.get("X-Twilio-Signature")
        if not signature:
            return None
        try:
            fields = parse_qs(request.body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
        except ValueError:  # not UTF-8 (UnicodeDecodeError), or too many fields
            return None
        form = RequestParameters(fields)
        url = self.settings.public_url or request.url
        return form if self._validator.validate(url, form, signature) else None

    async def _turn(self, inbound: Inbound, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> List[Text]:
        """Handles one message; returns the parts of the TwiML answer (none in REST mode)."""
        replies: List[Text] = []
        await self._handle(inbound, on_new_message, self._output(replies))
        return replies

    async def _handle(
        self, inbound: Inbound, on_new_message: Callable[[UserMessage], Awaitable[Any]], output: SmsOutput
    ) -> None:
        """Keywords first (they never reach the bot), then the bot, unless the number opted out or
        an agent holds the customer (then the message goes to their ticket)."""
        address, keyword, texts = inbound.address, keyword_of(inbound.text), self._texts
        language = language_hint(inbound.phone)
        if keyword == HELP_KEYWORD:
            await output.send_notice(address, texts.in_language(texts.help, language))
        elif keyword in OPT_OUT_KEYWORDS or keyword in OPT_IN_KEYWORDS:
            opted_out = keyword in OPT_OUT_KEYWORDS
            await asyncio.to_thread(self._store.set_sms_opt_out, address, opted_out)
            logger.info("%s.opt_out opted_out=%s", self.name(), opted_out)
            if self.CONFIRMS_OPT_OUT:
                await output.send_notice(address, texts.in_language(texts.opted_out if opted_out else texts.opted_in, language))
        elif await asyncio.to_thread(self._store.is_sms_opted_out, address):
            logger.info("%s.ignored reason=opted_out", self.name())
        elif await held_by_agent(self._store, self.name(), self.sender_id(inbound.phone), inbound.for_ticket()):
            logger.info("%s.ignored reason=agent_holds_customer", self.name())
        else:
            text = button_choice(inbound.text, self._buttons.get(address) or ()) or inbound.for_bot()
            await on_new_message(
                UserMessage(
                    text, output, self.sender_id(inbound.phone), input_channel=self.name(), metadata=inbound.metadata()
                )
            )

    def _output(self, replies: List[Text]) -> SmsOutput:
        """TwiML mode collects the parts into `replies` for the HTTP answer; REST mode sends them."""

        async def collect(address: Text, part: Text) -> None:
            replies.append(part)

        deliver = self._send_by_rest if self.settings.replies_by_rest else collect
        return SmsOutput(deliver, self._store, self._buttons, self._split, self.address_of)

    def _split(self, text: Text) -> List[Text]:
        return split_message(text, self.settings.max_segments)

    async def _send_by_rest(self, address: Text, part: Text) -> None:
        """One message through Twilio's Messages API; a failure is logged and the conversation goes on."""
        messages = self._rest_client().messages
        sender = f"{self.ADDRESS_PREFIX}{self.settings.twilio_number}"
        try:
            await asyncio.wait_for(messages.create_async(to=address, from_=sender, body=part), REST_TIMEOUT_S)
        except TwilioRestException as error:
            logger.error("%s.send_failed status=%s code=%s", self.name(), error.status, error.code)
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            logger.error("%s.send_failed kind=%s", self.name(), type(error).__name__)

    def _rest_client(self) -> Client:
        """Twilio's own client, made on first use inside the server's event loop (aiohttp needs one)."""
        if self._client is None:
            settings = self.settings
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
