"""A known customer's history: each message the bot handled, appended when the turn is saved.

`RedactingTrackerStore.save` (bot/tracker_store.py) knows which events a turn added and calls
`InteractionHistory.record` with them, so history costs no action-server call and no reading
of the whole tracker. A message counts when the bot acted on it (an action ran after it):
messages to a paused conversation do not, and our channels hand the messages of a customer an
agent holds to the ticket before Rasa sees them (`bot/handoff.py`). Guests (REST, unknown
senders) have no history. A store outage is logged and never blocks the conversation.
"""

from __future__ import annotations

import asyncio
import logging
from functools import cached_property
from typing import Optional, Sequence, Text

from rasa.shared.core.events import ActionExecuted, Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from cs_common.senders import GUEST_CHANNEL, sender_channel
from cs_common.store import Store, StoreError

logger = logging.getLogger(__name__)

LANGUAGE_SLOT = "language"


class InteractionHistory:
    """Writes handled turns of known customers to the store that `CS_STORE_URL` names."""

    @cached_property
    def store(self) -> Store:
        """Opened on the first customer message, so a store without customers never needs one."""
        return Store.from_env()

    async def record(self, tracker: DialogueStateTracker, new_events: Sequence[Event]) -> None:
        intent = handled_intent(new_events)
        channel = sender_channel(tracker.sender_id)
        if intent is None or channel == GUEST_CHANNEL:
            return
        language: Optional[Text] = tracker.get_slot(LANGUAGE_SLOT)
        try:
            await asyncio.to_thread(self._write, channel, tracker.sender_id, intent, language)
        except StoreError as error:
            logger.error("store.unavailable step=history reason=%s", error)
        except Exception as error:  # raised into the tracker store's save, Rasa would keep the clear tracker
            logger.error("history.failed sender=%s error=%s", tracker.sender_id, type(error).__name__)

    def _write(self, channel: Text, sender_id: Text, intent: Text, language: Optional[Text]) -> None:
        customer = self.store.customer_for_identity(channel, sender_id)
        if customer is not None:
            self.store.record_interaction(customer.id, channel, intent, language)


def handled_intent(events: Sequence[Event]) -> Optional[Text]:
    """The intent of the last user message in `events`, if an action followed it.

    Only the last: a turn adds one message, and a save whose events are all new (a tracker
    Rasa did not read from the store) then records at most that one again.
    """
    for index in range(len(events) - 1, -1, -1):
        if isinstance(events[index], UserUttered):
            handled = any(isinstance(event, ActionExecuted) for event in events[index + 1:])
            return events[index].intent_name if handled else None
    return None
