"""The SMS channel (Twilio): `POST /webhooks/sms/webhook`, replies by TwiML or by Twilio's REST API.

Twilio's signed webhook itself (settings, signature, form, Messages API, TwiML) is
bot/twilio_webhook.py; `bot/whatsapp.py` is this channel with WhatsApp's addresses, length
limit and 24-hour window, and everything below holds there too.

Rasa's own Twilio channel never checks `X-Twilio-Signature` and cannot show buttons. This one
refuses a body over `MAX_WEBHOOK_BODY_BYTES` (413, bot/http_limits.py) and a request without a signature (403) before
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
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Awaitable, Callable, ClassVar, Dict, List, Optional, Text, Tuple

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.shared.utils.io import read_yaml_file
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator

from bot.dedup import TtlCache, deduplicator
from bot.handoff import held_by_agent
from bot.http_limits import limit_server, oversized
from bot.ordering import InArrivalOrder
from bot.sms_text import button_choice, numbered_buttons, split_message
from bot.twilio_webhook import Inbound, TwilioConfigError, TwilioRest, TwilioSettings, language_hint, signed_form, twiml
from bot.validation import InvalidInput
from cs_common.senders import DEFAULT_LANGUAGE
from cs_common.store import Store, StoreError
from cs_common.twilio_account import SMS_SECTION
from cs_common.variations import texts_by_language

logger = logging.getLogger(__name__)

# Twilio sends at most 1600 characters in one message: 10 concatenated GSM-7 segments.
MAX_SEGMENTS = 10
# Twilio retries a webhook within minutes; a MessageSid is remembered for an hour.
SEEN_TTL_S = 3600
SEEN_MAX_SIDS = 10_000
# A numbered list means its buttons for as long as a conversation session lasts (domain.yml).
BUTTONS_TTL_S = 3600
BUTTONS_MAX_NUMBERS = 10_000
REPLY_MODES = ("twiml", "rest")
SENDER_PREFIX = "sms:"

OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP"})
HELP_KEYWORD = "HELP"

DOMAIN_FILE = Path(__file__).resolve().parents[1] / "domain.yml"
HELP_RESPONSE = "utter_keyword_help"
OPTED_OUT_RESPONSE = "utter_keyword_opted_out"
OPTED_IN_RESPONSE = "utter_keyword_opted_in"

Deliver = Callable[[Text, Text], Awaitable[None]]
Payloads = Tuple[Text, ...]


@dataclass(frozen=True)
class SmsSettings(TwilioSettings):
    """The `bot.sms.TwilioSmsInput:` section of credentials.yml."""

    SECTION = SMS_SECTION  # the action server reads it too, for SMS link codes
    WEBHOOK = "/webhooks/sms/webhook"

    reply_mode: Text = "twiml"
    max_segments: int = 1

    @classmethod
    def _check(cls, values: Dict[Text, Any]) -> None:
        super()._check(values)
        mode = values.get("reply_mode", "twiml")
        if mode not in REPLY_MODES:
            raise TwilioConfigError(f"{cls.SECTION}: reply_mode must be one of {', '.join(REPLY_MODES)}, not {mode!r}.")
        if mode == "rest":
            cls._require_rest_settings(values, "reply_mode rest sends through Twilio's API and")
        segments = values.get("max_segments", 1)
        if type(segments) is not int or not 1 <= segments <= MAX_SEGMENTS:
            raise TwilioConfigError(f"{cls.SECTION}: max_segments must be a whole number from 1 to {MAX_SEGMENTS}.")

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
            raise TwilioConfigError(f"{path} has no {' or '.join(missing)}: add the response(s), one variation per bot language.")
        return cls(*(texts_by_language(responses[name], DEFAULT_LANGUAGE) for name in names))

    @staticmethod
    def in_language(texts: Dict[Text, Text], language: Optional[Text]) -> Text:
        """The text in `language`, else in the default language (the linter reports the gap)."""
        return texts.get(language or DEFAULT_LANGUAGE) or texts[DEFAULT_LANGUAGE]


@lru_cache(maxsize=1)
def keyword_texts() -> KeywordTexts:
    """The project's keyword answers, read once per process."""
    return KeywordTexts.from_domain()


def sms_sender(phone: Text) -> Text:
    """The sender id of a number Twilio's signed request vouches for (actions/common.py reads the prefix)."""
    return f"{SENDER_PREFIX}{phone}"


def keyword_of(text: Text) -> Text:
    """The message as compared with the keywords: the whole of it, trimmed, in capitals, no final . or !"""
    return text.strip().rstrip(".!").upper()


class SmsOutput(OutputChannel):
    """The bot's messages as parts, handed to `deliver` (the TwiML answer or the REST API).

    Every message passes the opt-out check here, so nothing reaches an opted-out number,
    whichever way it was triggered. `address_of` turns Rasa's recipient (the sender id) into
    Twilio's address; `split` cuts a text into the parts the channel can carry; `may_send`
    says whether the channel lets anything reach the address now (WhatsApp's 24-hour window).
    """

    def __init__(
        self,
        deliver: Deliver,
        store: Store,
        buttons: TtlCache[Payloads],
        split: Callable[[Text], List[Text]],
        address_of: Callable[[Text], Text],
        may_send: Callable[[Text], bool],
    ) -> None:
        self._deliver = deliver
        self._store = store
        self._buttons = buttons
        self._split = split
        self._address_of = address_of
        self._may_send = may_send

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
        if not self._may_send(address):
            return
        for part in self._split(text):
            await self._deliver(address, part)


class TwilioSmsInput(InputChannel):
    """Receives Twilio's SMS webhook; see the module docstring for what it guarantees.

    Subclasses (bot/whatsapp.py) change the class attributes and the hooks below them.
    """

    SETTINGS: ClassVar[type] = SmsSettings
    OUTPUT: ClassVar[type] = SmsOutput
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
        self._rest = TwilioRest(settings, self.name(), self.ADDRESS_PREFIX)
        self._seen = deduplicator(self.name(), SEEN_TTL_S, SEEN_MAX_SIDS)
        # This process's turns by MessageSid, so a redelivery gets the replies of its turn.
        self._turns: TtlCache[asyncio.Task] = TtlCache(SEEN_TTL_S, SEEN_MAX_SIDS)
        self._buttons: TtlCache[Payloads] = TtlCache(BUTTONS_TTL_S, BUTTONS_MAX_NUMBERS)
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
            too_large = oversized(request)
            if too_large:
                return response.text(too_large, status=413)
            form = signed_form(request, self._validator, self.settings.public_url)
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
        return self._output_through(self._rest.send)

    def sender_id(self, phone: Text) -> Text:
        return f"{self.SENDER_PREFIX}{phone}"

    def address_of(self, sender_id: Text) -> Text:
        """Twilio's address for a sender id of this channel (`sms:+34…` → `+34…`)."""
        phone = sender_id[len(self.SENDER_PREFIX):] if sender_id.startswith(self.SENDER_PREFIX) else sender_id
        return f"{self.ADDRESS_PREFIX}{phone}"

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

        return self._output_through(self._rest.send if self.settings.replies_by_rest else collect)

    def _output_through(self, deliver: Deliver) -> SmsOutput:
        return self.OUTPUT(deliver, self._store, self._buttons, self._split, self.address_of, self._may_send)

    def _may_send(self, address: Text) -> bool:
        """SMS may reach a number at any time (opt-outs are checked apart, in `SmsOutput`)."""
        return True

    def _split(self, text: Text) -> List[Text]:
        return split_message(text, self.settings.max_segments)
