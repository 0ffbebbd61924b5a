"""What the bot says outside a customer's turn (an agent's answer, the release message), taken
to the customer on the channel of the conversation the ticket was opened in.

Each such message is a `BotUttered` in that conversation's tracker marked `pushed` (with the
ticket's id), then:
- web: the chat page polls `GET /webhooks/web/updates?after=<cursor>` (bot/web.py), which
  answers with the pushed messages after the cursor, read from the tracker: nothing is kept
  in memory, so any replica answers and a page that was closed catches up when it comes back;
- sms: Twilio's Messages API (`get_output_channel` of bot/sms.py: needs `account_sid` and
  `twilio_number` in credentials.yml, in either reply mode); the opt-out check applies;
- slack: `chat.postMessage` into the Slack channel and thread the customer last wrote from;
- rest: no way to reach a REST caller; the message is in the tracker and in the agent API's answer.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, OutputChannel
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic

from bot.validation import InvalidInput

logger = logging.getLogger(__name__)

PUSHED = "pushed"  # metadata of a BotUttered sent outside a turn
MAX_UPDATES = 20  # messages per poll; the cursor moves on to the rest
MAX_CURSOR_CHARS = 32


def pushed_message(message: Dict[Text, Any], ticket_id: int, **marks: Any) -> BotUttered:
    """The tracker event of a message the bot sends outside a turn (`message`: text, buttons)."""
    data = {key: message[key] for key in ("buttons", "image", "attachment", "custom") if message.get(key)}
    return BotUttered(message.get("text"), data, metadata={PUSHED: True, "ticket": ticket_id, **marks})


async def deliver(app: Sanic, channel: Text, tracker: DialogueStateTracker, event: BotUttered) -> bool:
    """Sends `event` on `channel` to the conversation of `tracker`; whether it went out (web:
    it waits in the tracker for the page's next poll, which counts as delivered)."""
    if channel == "web":
        return True
    output = _push_output(app, channel, tracker)
    if output is None:
        logger.warning("delivery.not_pushed channel=%s reason=channel_cannot_push", channel)
        return False
    try:
        await output.send_response(tracker.sender_id, event.message())
    except Exception as error:  # a third-party API down must not fail the agent's request
        logger.error("delivery.failed channel=%s kind=%s", channel, type(error).__name__)
        return False
    logger.info("delivery.pushed channel=%s", channel)
    return True


def _push_output(app: Sanic, channel: Text, tracker: DialogueStateTracker) -> Optional[OutputChannel]:
    """The output channel that reaches this conversation without a request to answer, if any.

    Slack's needs the Slack channel and thread (`output_for`, from the latest message's
    metadata); others offer Rasa's own `get_output_channel()`, or None when they cannot push.
    """
    input_channel: Optional[InputChannel] = next(
        (each for each in getattr(app.ctx, "input_channels", None) or [] if each.name() == channel), None
    )
    if input_channel is None:
        return None
    output_for = getattr(input_channel, "output_for", None)
    if output_for is not None:
        return output_for(tracker.latest_message.metadata if tracker.latest_message else {})
    return input_channel.get_output_channel()


def parse_cursor(raw: Optional[Text]) -> Optional[float]:
    """The `after` of an updates request: a cursor this server gave out (a timestamp), or none."""
    if raw is None or raw == "":
        return None
    if len(raw) > MAX_CURSOR_CHARS:
        raise InvalidInput("'after' must be the cursor of the last updates answer.")
    try:
        cursor = float(raw)
    except ValueError:
        raise InvalidInput("'after' must be the cursor of the last updates answer.") from None
    if not math.isfinite(cursor) or cursor < 0:
        raise InvalidInput("'after' must be the cursor of the last updates answer.")
    return cursor


async def updates(tracker: Optional[DialogueStateTracker], after: Optional[float]) -> Tuple[List[Dict[Text, Any]], Text]:
    """The pushed messages after `after`, as the webhook answers messages, and the next cursor.

    Without `after` (a page that never polled), those since the customer's latest message: an
    agent's answer sent before the page's first poll is not lost.
    """
    events = list(tracker.events) if tracker is not None else []
    if after is None:
        after = next((event.timestamp for event in reversed(events) if isinstance(event, UserUttered)), 0.0)
    pushed = [
        event for event in events
        if isinstance(event, BotUttered) and event.metadata.get(PUSHED) and event.timestamp > after
    ][:MAX_UPDATES]
    collector = CollectingOutputChannel()
    for event in pushed:
        await collector.send_response(tracker.sender_id, event.message())
    return collector.messages, repr(pushed[-1].timestamp if pushed else after)
