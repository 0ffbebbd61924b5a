"""What happens on every session start and every turn for known customers."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction
from rasa_sdk.types import DomainDict

from actions.common import channel_of, current_customer, in_thread, shared_store
from actions.conversation import HANDOFF_INTENTS, forward_to_open_ticket
from actions.frustration import FrustrationSettings, conversation_frustration, crossed
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
    """Runs after every user message (Rasa's slot validation hook), before the bot answers.

    While an agent holds the customer's ticket (opened on any of their channels), the message
    goes to the ticket and nothing else happens: the bot stays silent. Otherwise it appends the
    turn to a known customer's history, updates the `frustration` slot and, when it crosses
    the threshold, offers an agent. A store outage never blocks the conversation.
    """

    def name(self) -> Text:
        return "action_validate_slot_mappings"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        try:
            store = shared_store()
            if await forward_to_open_ticket(store, tracker) or tracker.is_paused():
                return []
            customer = await current_customer(store, tracker)
            if customer is not None and intent:
                await in_thread(store.record_interaction, customer.id, channel_of(tracker), intent, tracker.get_slot("language"))
        except StoreError as error:
            logger.error("store.unavailable action=%s reason=%s", self.name(), error)
        events = frustration_events(dispatcher, tracker, intent)
        return events + await super().run(dispatcher, tracker, domain)


def frustration_events(dispatcher: CollectingDispatcher, tracker: Tracker, intent: Optional[Text]) -> List[Dict[Text, Any]]:
    """Sets the `frustration` slot; offers an agent on the turn it crosses the threshold.

    Complaints and requests for a person have their own rules (`action_offer_handoff`,
    `action_handoff`), so the offer is not made twice.
    """
    settings = FrustrationSettings.from_env()
    previous = tracker.get_slot("frustration")
    score, signals = conversation_frustration(tracker, settings)
    events = [SlotSet("frustration", score)]
    if crossed(previous, score, settings) and intent not in HANDOFF_INTENTS and not tracker.get_slot("handoff_offered"):
        logger.info("frustration.offer score=%s signals=%s", score, ",".join(signals))
        dispatcher.utter_message(response="utter_offer_handoff_frustrated")
        events.append(SlotSet("handoff_offered", True))
    return events
