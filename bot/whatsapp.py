"""The WhatsApp channel (Twilio): `POST /webhooks/whatsapp/webhook`, replies through Twilio's Messages API.

Twilio's WhatsApp API posts the same signed webhook as its SMS API, with `From=whatsapp:+…`, so
this is the SMS channel of bot/sms.py (size and signature checked first, de-duplication,
ordering, opt-outs, handoff, media as links) with what differs on WhatsApp:

- Senders are `whatsapp:+<number>`, Twilio's own address for the customer; replies go from
  `whatsapp:<twilio_number>`, always through the Messages API (one path for every message,
  so the 24-hour window below is checked for all of them).
- A message carries up to 1,600 characters, without segments: longer replies are split at
  sentence ends (`bot/sms_text.py`).
- Buttons are a numbered list answered by digit. WhatsApp's quick-reply buttons exist in
  Twilio only as Content templates created beforehand (a `ContentSid`), not for the free text
  of a bot's response.
- The 24-hour customer-service window: WhatsApp lets a business send free text only within 24
  hours of the customer's last message, after that only approved templates. A message outside
  the window (a `trigger_intent`, an agent's answer a day later) is not sent; the log says
  `whatsapp.not_sent reason=outside_service_window`. Each process remembers the windows it
  saw open: after a restart, or on another replica, a window counts as closed until the
  customer writes again, so the bot may stay silent but never breaks WhatsApp's rule.
- Twilio's keyword handling (SMS STOP filtering) is for SMS numbers: on WhatsApp the bot
  confirms STOP and START itself (`utter_keyword_opted_out`, `utter_keyword_opted_in`), once.
  Opt-outs are stored under `whatsapp:+<number>`, apart from the same number's SMS opt-out.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Text

from rasa.core.channels.channel import UserMessage

from bot.dedup import TtlCache
from bot.sms import SmsOutput, TwilioSmsInput
from bot.sms_text import split_to_length
from bot.twilio_webhook import Inbound, TwilioConfigError, TwilioSettings

logger = logging.getLogger(__name__)

CHANNEL = "whatsapp"
SENDER_PREFIX = f"{CHANNEL}:"
MAX_MESSAGE_CHARS = 1600
SERVICE_WINDOW_S = 24 * 3600
# Customers whose window this process remembers; beyond that the oldest count as closed.
MAX_OPEN_WINDOWS = 100_000


@dataclass(frozen=True)
class WhatsAppSettings(TwilioSettings):
    """The `bot.whatsapp.TwilioWhatsAppInput:` section of credentials.yml: replies always go
    through Twilio's API, so `account_sid` and `twilio_number` (the WhatsApp sender) are required."""

    SECTION = "bot.whatsapp.TwilioWhatsAppInput"
    WEBHOOK = "/webhooks/whatsapp/webhook"

    @classmethod
    def _check(cls, values: Dict[Text, Any]) -> None:
        super()._check(values)
        cls._require_rest_settings(values, "WhatsApp replies go through Twilio's Messages API, which")
        if str(values["twilio_number"]).startswith(SENDER_PREFIX):
            raise TwilioConfigError(
                f"{cls.SECTION}: twilio_number is the sender's number alone, e.g. \"+14155238886\"; "
                "the channel adds whatsapp: itself."
            )


def whatsapp_sender(phone: Text) -> Text:
    """The sender id of a WhatsApp number Twilio's signed request vouches for (actions/common.py reads the prefix)."""
    return f"{SENDER_PREFIX}{phone}"


class ServiceWindows:
    """Which customers wrote within the last 24 hours, so free text may still be sent to them."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._open: TtlCache[bool] = TtlCache(SERVICE_WINDOW_S, MAX_OPEN_WINDOWS, clock)

    def customer_wrote(self, address: Text) -> None:
        self._open.put(address, True)

    def is_open(self, address: Text) -> bool:
        return bool(self._open.get(address))


class WhatsAppOutput(SmsOutput):
    """SMS's output (opt-outs, numbered buttons) under WhatsApp's name, which selects a
    response's `channel: whatsapp` variations; the input's `_may_send` keeps the 24-hour window."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL


class TwilioWhatsAppInput(TwilioSmsInput):
    """Receives Twilio's WhatsApp webhook; see the module docstring for what differs from SMS."""

    SETTINGS = WhatsAppSettings
    OUTPUT = WhatsAppOutput
    SENDER_PREFIX = SENDER_PREFIX
    ADDRESS_PREFIX = SENDER_PREFIX
    CONFIRMS_OPT_OUT = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._windows = ServiceWindows()

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    async def _turn(self, inbound: Inbound, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> List[Text]:
        """Every signed message (re)opens its sender's window before it is handled."""
        self._windows.customer_wrote(inbound.address)
        return await super()._turn(inbound, on_new_message)

    def _may_send(self, address: Text) -> bool:
        if self._windows.is_open(address):
            return True
        # Only an approved template may go out now; the bot has none to send, so it sends nothing.
        logger.warning("%s.not_sent reason=outside_service_window", CHANNEL)
        return False

    def _split(self, text: Text) -> List[Text]:
        return split_to_length(text, MAX_MESSAGE_CHARS)
