"""Silence towards a customer an agent holds, checked by our channels before Rasa sees a message,
and the ways out of it.

Rasa's `ConversationPaused` silences the one conversation the handoff happened in. A customer
can write on another channel too (the store maps each channel's sender to the customer); while
their ticket is open, those messages go to the ticket for the agent and get no bot reply.
Senders are matched by their namespaced id (`sms:+…`, `web:…`): a web sender named like a phone
number is never the SMS customer with that number.

A pause ends when the agent releases the ticket (bot/agent.py) or when the customer leaves it:
`/restart` in the conversation the ticket was opened in, or the chat page's "New conversation"
(bot/web.py). Leaving closes the ticket with a last transcript line saying so; the `/restart`
itself then reaches Rasa, which restarts the conversation (actions/conversation.py leaves a
paused conversation listening, so Rasa maps `/restart` to `action_restart`, not a fallback).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, ConversationResumed, Event

from cs_common.store import Store, StoreError

logger = logging.getLogger(__name__)

RESTART_COMMAND = "/restart"
# The transcript line a ticket ends with when the customer leaves it (`system:` is no one's message).
LEFT_LINE = "system: the customer {how} ({channel}); ticket closed"


def is_restart(text: Text) -> bool:
    """Rasa's restart command, as a customer (or the page) types it."""
    return text.strip() == RESTART_COMMAND


async def held_by_agent(store: Store, channel: Text, sender_id: Text, text: Text) -> bool:
    """True (and the message appended to the ticket) when an agent holds this customer.

    `/restart` in the conversation the ticket was opened in closes the ticket instead and goes
    through to Rasa. A store outage lets the message through to the bot: a paused conversation
    stays paused in Rasa anyway, and nobody is left without an answer because of a database problem.
    """
    try:
        if is_restart(text) and await leave_ticket(store, channel, sender_id, "restarted the conversation"):
            return False
        ticket_id = await asyncio.to_thread(store.add_to_open_ticket, channel, sender_id, text)
    except StoreError as error:
        logger.error("handoff.check_failed kind=%s", type(error).__name__)
        return False
    if ticket_id is not None:
        logger.info("handoff.held channel=%s ticket=%s", channel, ticket_id)
    return ticket_id is not None


async def replies_unless_held(
    store: Store,
    channel: Text,
    sender_id: Text,
    text: Text,
    metadata: Optional[Dict[Text, Any]],
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
) -> Optional[List[Dict[Text, Any]]]:
    """The bot's replies to one message, for channels that answer in the HTTP response (REST,
    the web page); None while an agent holds the customer: the agent answers, not the bot."""
    if await held_by_agent(store, channel, sender_id, text):
        return None
    collector = CollectingOutputChannel()
    await on_new_message(UserMessage(text, collector, sender_id, input_channel=channel, metadata=metadata))
    return collector.messages


async def leave_ticket(store: Store, channel: Text, sender_id: Text, how: Text) -> Optional[int]:
    """Closes the open ticket of this very conversation, noting `how` the customer left it.

    A ticket opened in another of the customer's conversations stays open: the agent holds
    them until it is released there. Returns the closed ticket's id, or None.
    """
    ticket = await asyncio.to_thread(store.open_ticket_for_identity, channel, sender_id)
    if ticket is None or ticket.sender_id != sender_id:
        return None
    await asyncio.to_thread(store.append_to_ticket, ticket.id, LEFT_LINE.format(how=how, channel=channel))
    if await asyncio.to_thread(store.close_ticket, ticket.id) is None:
        return None  # released by an agent in the meantime
    logger.info("handoff.left channel=%s ticket=%s how=%s", channel, ticket.id, how.replace(" ", "_"))
    return ticket.id


async def resume_conversation(agent: Agent, sender_id: Text, *events: Event) -> None:
    """Ends Rasa's pause of a conversation: `ConversationResumed`, then `events` (e.g. the
    release message), then the bot listens, so the customer's next message is handled as usual."""
    async with agent.lock_store.lock(sender_id):
        tracker = await agent.processor.get_tracker(sender_id)
        tracker.update(ConversationResumed())
        for event in events:
            tracker.update(event)
        tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
        await agent.processor.save_tracker(tracker)
