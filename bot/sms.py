"""The SMS channel (Twilio): `POST /webhooks/sms/webhook`, replies by TwiML or by Twilio's REST API.

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
(bot/ordering.py), so an opt-out or a reply never overtakes the message before it.

STOP / STOPALL / UNSUBSCRIBE / CANCEL / END / QUIT opt a number out (stored, see
`Store.set_sms_opt_out`) and START / UNSTOP opt it back in; nothing is sent to an opted-out
number and its messages are not processed, except HELP, which carriers require to be answered.
Twilio's own opt-out handling (on by default) also acts on these keywords: it confirms STOP and
START itself, so we send nothing for them, and it blocks sending to opted-out numbers; we store
the opt-out so the bot knows it too, whatever Twilio is configured to do. Twilio may answer HELP
as well: switch its HELP reply off (Messaging Service > Opt-Out Management) for one answer.
A keyword is the whole message: "cancel" alone opts out, as at Twilio; "cancel my order" does not.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, fields
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence, Text, Tuple
from urllib.parse import parse_qs

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request, RequestParameters
from sanic.response import HTTPResponse
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from actions.store import Store, StoreError
from bot.dedup import TtlCache, deduplicator
from bot.handoff import held_by_agent
from bot.http_limits import limit_server
from bot.ordering import InArrivalOrder
from bot.sms_text import button_choice, numbered_buttons, split_message
from bot.validation import InvalidInput, clean_sender, clean_text

logger = logging.getLogger(__name__)
# twilio's HTTP client logs every request at INFO, ten lines an SMS; its warnings are enough.
_api_logger = logging.getLogger(f"{__name__}.twilio_api")
_api_logger.setLevel(logging.WARNING)

MAX_BODY_BYTES = 100_000
# Twilio posts about 20 fields (more with media: MediaUrl0..9 and their types).
MAX_FORM_FIELDS = 100
# Twilio sends at most 1600 characters in one message: 10 concatenated GSM-7 segments.
MAX_SEGMENTS = 10
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
HELP_TEXTS = {
    "en": "Nordhaven support: text us your question about orders, returns or refunds. "
          "Reply STOP to unsubscribe, START to subscribe again.",
    "es": "Soporte de Nordhaven: escríbanos su pregunta sobre pedidos, devoluciones o reembolsos. "
          "Responda STOP para darse de baja y START para volver a suscribirse.",
    "de": "Nordhaven-Support: Schreiben Sie uns Ihre Frage zu Bestellungen, Rücksendungen oder "
          "Erstattungen. Antworten Sie STOP zum Abmelden, START zum erneuten Anmelden.",
    "fr": "Support Nordhaven : écrivez-nous votre question sur vos commandes, retours ou "
          "remboursements. Répondez STOP pour vous désabonner, START pour vous réabonner.",
    "zh": "Nordhaven客服：请发送您关于订单、退货或退款的问题。回复STOP退订，回复START重新订阅。",
    "ar": "دعم نوردهافن: أرسل لنا سؤالك عن الطلبات أو الإرجاع أو الاسترداد. "
          "أرسل STOP لإلغاء الاشتراك و START لإعادة الاشتراك.",
}

Deliver = Callable[[Text, Text], Awaitable[None]]
Payloads = Tuple[Text, ...]


class SmsConfigError(RasaException):
    """The channel's credentials.yml section is unusable; `rasa run` stops with this message."""


@dataclass(frozen=True)
class SmsSettings:
    """The `bot.sms.TwilioSmsInput:` section of credentials.yml."""

    auth_token: Text
    public_url: Optional[Text] = None
    reply_mode: Text = "twiml"
    account_sid: Optional[Text] = None
    twilio_number: Optional[Text] = None
    api_base_url: Optional[Text] = None
    max_segments: int = 1

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "SmsSettings":
        """Checks every setting, so a bad one stops `rasa run` with its fix instead of failing later."""
        values = {key: value for key, value in (credentials or {}).items() if value not in (None, "")}
        _check_known_keys(values)
        _check_auth_token(values)
        _check_public_url(values)
        _check_reply_mode(values)
        _check_max_segments(values)
        return cls(**values)


def _check_known_keys(values: Dict[Text, Any]) -> None:
    unknown = sorted(set(values) - {field.name for field in fields(SmsSettings)})
    if unknown:
        raise SmsConfigError(f"bot.sms.TwilioSmsInput: unknown setting(s) {', '.join(unknown)} in credentials.yml.")


def _check_auth_token(values: Dict[Text, Any]) -> None:
    if not values.get("auth_token"):
        raise SmsConfigError(
            "bot.sms.TwilioSmsInput needs your Twilio auth token to check X-Twilio-Signature: put "
            "`auth_token: ${TWILIO_AUTH_TOKEN}` under it in credentials.yml and set TWILIO_AUTH_TOKEN "
            "in the environment (Twilio console > Account > API keys & tokens)."
        )


def _check_public_url(values: Dict[Text, Any]) -> None:
    url = values.get("public_url")
    if url is not None and not str(url).startswith(("http://", "https://")):
        raise SmsConfigError(
            "bot.sms.TwilioSmsInput: public_url must be the full webhook URL configured in Twilio, "
            "e.g. https://bot.example.com/webhooks/sms/webhook."
        )


def _check_reply_mode(values: Dict[Text, Any]) -> None:
    mode = values.get("reply_mode", "twiml")
    if mode not in REPLY_MODES:
        raise SmsConfigError(
            f"bot.sms.TwilioSmsInput: reply_mode must be one of {', '.join(REPLY_MODES)}, not {mode!r}."
        )
    missing = [key for key in ("account_sid", "twilio_number") if mode == "rest" and not values.get(key)]
    if missing:
        raise SmsConfigError(
            f"bot.sms.TwilioSmsInput: reply_mode rest sends through Twilio's API and needs {' and '.join(missing)} "
            "(e.g. `account_sid: ${TWILIO_ACCOUNT_SID}`, `twilio_number: \"+15017122661\"`)."
        )


def _check_max_segments(values: Dict[Text, Any]) -> None:
    segments = values.get("max_segments", 1)
    if type(segments) is not int or not 1 <= segments <= MAX_SEGMENTS:
        raise SmsConfigError(f"bot.sms.TwilioSmsInput: max_segments must be a whole number from 1 to {MAX_SEGMENTS}.")


def sms_sender(phone: Text) -> Text:
    """The sender id of a number Twilio's signed request vouches for (actions/common.py reads the prefix)."""
    return f"{SENDER_PREFIX}{phone}"


def phone_of(sender_id: Text) -> Text:
    return sender_id[len(SENDER_PREFIX):] if sender_id.startswith(SENDER_PREFIX) else sender_id


def language_hint(phone: Text) -> Optional[Text]:
    """The language suggested by the number's country calling code, if we serve that country."""
    return next((language for code, language in COUNTRY_LANGUAGES.items() if phone.startswith(code)), None)


def keyword_of(text: Text) -> Text:
    """The message as compared with the keywords: the whole of it, trimmed, in capitals, no final . or !"""
    return text.strip().rstrip(".!").upper()


@dataclass(frozen=True)
class Inbound:
    """One SMS as Twilio posted it, validated."""

    phone: Text
    to: Optional[Text]
    text: Text
    message_sid: Text

    @classmethod
    def from_form(cls, form: RequestParameters) -> "Inbound":
        if not form:
            raise InvalidInput("The request body is empty; Twilio posts a form with From, Body and MessageSid.")
        for field in ("From", "Body", "MessageSid"):
            if field not in form:
                raise InvalidInput(f"'{field}' is missing from the form.")
        message_sid = form.get("MessageSid")
        if not _MESSAGE_SID.match(message_sid):
            raise InvalidInput("'MessageSid' must be two capital letters and 32 hex digits.")
        to = form.get("To")
        return cls(
            phone=clean_sender(form.get("From")),
            to=clean_sender(to) if to else None,
            text=clean_text(form.get("Body")),
            message_sid=message_sid,
        )

    def metadata(self) -> Dict[Text, Text]:
        """What reaches the tracker: the language hint and Twilio's ids of the message."""
        hint = language_hint(self.phone)
        values = {"language_hint": hint, "from": self.phone, "to": self.to, "message_sid": self.message_sid}
        return {key: value for key, value in values.items() if value}


class SmsOutput(OutputChannel):
    """The bot's messages as SMS parts, handed to `deliver` (the TwiML answer or the REST API).

    Every message passes the opt-out check here, so nothing reaches an opted-out number,
    whichever way it was triggered.
    """

    def __init__(self, deliver: Deliver, store: Store, buttons: TtlCache[Payloads], max_segments: int) -> None:
        self._deliver = deliver
        self._store = store
        self._buttons = buttons
        self._max_segments = max_segments

    @classmethod
    def name(cls) -> Text:
        return "sms"

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self._send(phone_of(recipient_id), text, payloads=())

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        titles = [button["title"] for button in buttons]
        payloads = tuple(button.get("payload") or button["title"] for button in buttons)
        await self._send(phone_of(recipient_id), numbered_buttons(text, titles), payloads)

    async def send_help(self, recipient_id: Text, text: Text) -> None:
        """The one text an opted-out number still gets: carriers require HELP to be answered."""
        await self._deliver_parts(recipient_id, text)

    async def _send(self, recipient_id: Text, text: Text, payloads: Payloads) -> None:
        """Sends unless the number opted out; the last message sent decides what a digit means."""
        if await asyncio.to_thread(self._store.is_sms_opted_out, recipient_id):
            logger.info("sms.not_sent reason=opted_out")
            return
        self._buttons.put(recipient_id, payloads)
        await self._deliver_parts(recipient_id, text)

    async def _deliver_parts(self, recipient_id: Text, text: Text) -> None:
        for part in split_message(text, self._max_segments):
            await self._deliver(recipient_id, part)


class TwilioSmsInput(InputChannel):
    """Receives Twilio's SMS webhook; see the module docstring for what it guarantees."""

    def __init__(self, settings: SmsSettings, store: Store) -> None:
        self.settings = settings
        self._store = store
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
        return cls(SmsSettings.from_credentials(credentials), Store.from_env())

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sms = Blueprint(f"{self.name()}_webhook", __name__)

        @sms.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if len(request.body) > MAX_BODY_BYTES:
                return response.text(f"The request body is larger than {MAX_BODY_BYTES} bytes.", status=413)
            form = self._signed_form(request)
            if form is None:
                logger.warning("sms.rejected reason=signature")
                return response.text("X-Twilio-Signature is missing or does not match this request.", status=403)
            try:
                inbound = Inbound.from_form(form)
            except InvalidInput as error:
                return response.text(str(error), status=400)
            turn = self._turns.get(inbound.message_sid)
            if turn is None:
                if not await self._seen.first_time(inbound.message_sid):
                    logger.info("sms.duplicate")  # handled by another replica, or an hour ago
                    return twiml([])
                turn = self._in_order.submit(inbound.phone, self._turn(inbound, on_new_message))
                self._turns.put(inbound.message_sid, turn)
            else:
                logger.info("sms.redelivery answered=True")
            try:
                # A dropped connection cancels this handler, never the turn (nor the next message's).
                replies = await asyncio.shield(turn)
            except StoreError as error:
                self._turns.pop(inbound.message_sid)
                await self._seen.forget(inbound.message_sid)  # not handled: let Twilio's retry through
                logger.error("sms.store_error kind=%s", type(error).__name__)
                return response.text("Opt-outs cannot be checked right now; try again later.", status=503)
            return twiml(replies)

        return limit_server(sms)

    def get_output_channel(self) -> Optional[OutputChannel]:
        """For messages the bot starts itself (`trigger_intent`, an agent's answer: bot/delivery.py):
        only the REST API can send them, so they need `account_sid` and `twilio_number`, in either reply mode."""
        if not (self.settings.account_sid and self.settings.twilio_number):
            return None
        return SmsOutput(self._send_by_rest, self._store, self._buttons, self.settings.max_segments)

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
        """Handles one message; returns the SMS parts of the TwiML answer (none in REST mode)."""
        replies: List[Text] = []
        await self._handle(inbound, on_new_message, self._output(replies))
        return replies

    async def _handle(
        self, inbound: Inbound, on_new_message: Callable[[UserMessage], Awaitable[Any]], output: SmsOutput
    ) -> None:
        """Keywords first (they never reach the bot), then the bot, unless the number opted out or
        an agent holds the customer (then the message goes to their ticket)."""
        phone, keyword = inbound.phone, keyword_of(inbound.text)
        if keyword == HELP_KEYWORD:
            await output.send_help(phone, HELP_TEXTS[language_hint(phone) or "en"])
        elif keyword in OPT_OUT_KEYWORDS or keyword in OPT_IN_KEYWORDS:
            opted_out = keyword in OPT_OUT_KEYWORDS
            await asyncio.to_thread(self._store.set_sms_opt_out, phone, opted_out)
            logger.info("sms.opt_out opted_out=%s", opted_out)
        elif await asyncio.to_thread(self._store.is_sms_opted_out, phone):
            logger.info("sms.ignored reason=opted_out")
        elif await held_by_agent(self._store, self.name(), sms_sender(phone), inbound.text):
            logger.info("sms.ignored reason=agent_holds_customer")
        else:
            text = button_choice(inbound.text, self._buttons.get(phone) or ()) or inbound.text
            await on_new_message(
                UserMessage(text, output, sms_sender(phone), input_channel=self.name(), metadata=inbound.metadata())
            )

    def _output(self, replies: List[Text]) -> SmsOutput:
        """TwiML mode collects the parts into `replies` for the HTTP answer; REST mode sends them."""

        async def collect(recipient_id: Text, part: Text) -> None:
            replies.append(part)

        deliver = self._send_by_rest if self.settings.reply_mode == "rest" else collect
        return SmsOutput(deliver, self._store, self._buttons, self.settings.max_segments)

    async def _send_by_rest(self, recipient_id: Text, part: Text) -> None:
        """One SMS through Twilio's Messages API; a failure is logged and the conversation goes on."""
        messages = self._rest_client().messages
        try:
            await asyncio.wait_for(
                messages.create_async(to=recipient_id, from_=self.settings.twilio_number, body=part), REST_TIMEOUT_S
            )
        except TwilioRestException as error:
            logger.error("sms.send_failed status=%s code=%s", error.status, error.code)
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            logger.error("sms.send_failed kind=%s", type(error).__name__)

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
