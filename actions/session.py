"""What happens on every session start.

Per-turn bookkeeping is Rasa-side, with no action-server call: the `frustration` slot and the
offer of an agent in `cs_transformer/frustration_policy.py`, a known customer's history in
`bot/history.py` (from the tracker store's save), messages to a ticket in the channels
(`bot/handoff.py`).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import current_customer, in_thread, shared_store
from cs_common.store.errors import StoreError

logger = logging.getLogger(__name__)

# Slots that describe the customer rather than one request, carried into a new session.
CARRIED_SLOTS = ("language",)


class ActionSessionStart(Action):
    """Starts a session in the customer's saved language (or the one they last used)."""

    def name(self) -> Text:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        events: List[Dict[Text, Any]] = [SessionStarted()]
        language = tracker.get_slot("language")
        try:
            store = shared_store()
            customer = await current_customer(store, tracker)
            if customer is not None:
                preferences = await in_thread(store.preferences, customer.id)
                language = preferences.language or language
        except StoreError as error:
            logger.error("store.unavailable action=action_session_start reason=%s", error)
        if language:
            events.append(SlotSet("language", language))
        events.append(ActionExecuted("action_listen"))
        return events
