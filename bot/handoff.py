"""Silence towards a customer an agent holds, checked by our channels before Rasa sees a message.

Rasa's `ConversationPaused` silences the one conversation the handoff happened in. A customer
can write on another channel too (the store maps each channel's sender to the customer); while
their ticket is open, those messages go to the ticket for the agent and get no bot reply.
Senders are matched by their namespaced id (`sms:+…`, `web:…`): a web sender named like a phone
number is never the SMS customer with that number.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Text

from actions.store import Store, StoreError

logger = logging.getLogger(__name__)


async def held_by_agent(store: Store, channel: Text, sender_id: Text, text: Text) -> bool:
    """True (and the message appended to the ticket) when an agent holds this customer.

    A store outage lets the message through to the bot: a paused conversation stays paused
    in Rasa anyway, and nobody is left without an answer because of a database problem.
    """
    try:
        ticket_id = await asyncio.to_thread(store.add_to_open_ticket, channel, sender_id, text)
    except StoreError as error:
        logger.error("handoff.check_failed kind=%s", type(error).__name__)
        return False
    if ticket_id is not None:
        logger.info("handoff.held channel=%s ticket=%s", channel, ticket_id)
    return ticket_id is not None
