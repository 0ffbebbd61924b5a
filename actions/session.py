"""What happens on every session start and every turn for known customers."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction
from rasa_sdk.types import DomainDict

from actions.common import channel_of, current_customer, in_thread, shared_store
from actions.store.errors import StoreError

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


class ActionRecordInteraction(ValidationAction):
    """Runs after every user message (Rasa's slot validation hook): appends to the history.

    Only known customers have a history; a store outage never blocks the conversation.
    """

    def name(self) -> Text:
        return "action_validate_slot_mappings"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent:
            try:
                store = shared_store()
                customer = await current_customer(store, tracker)
                if customer is not None:
                    await in_thread(store.record_interaction, customer.id, channel_of(tracker), intent, tracker.get_slot("language"))
            except StoreError as error:
                logger.error("store.unavailable action=%s reason=%s", self.name(), error)
        return await super().run(dispatcher, tracker, domain)
