"""Greeting and human handoff."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import StoreAction, channel_of, current_customer, in_thread, language_of
from cs_common.plurals import format_count, plural_response
from cs_common.store.repository import Store

TRANSCRIPT_TURNS = 30


def transcript(tracker: Tracker) -> List[Text]:
    """The latest messages, one line each ("customer: …", "bot: …"), for the agent who takes
    over; the store keeps each on one line and redacts personal data."""
    lines = [
        f"{'customer' if event['event'] == 'user' else 'bot'}: {event.get('text')}"
        for event in tracker.events
        if event.get("event") in ("user", "bot") and event.get("text")
    ]
    return lines[-TRANSCRIPT_TURNS:]


class ActionGreet(StoreAction):
    """Greets known customers by name and mentions their open orders."""

    def name(self) -> Text:
        return "action_greet"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, store: Store) -> List[Dict[Text, Any]]:
        customer = await current_customer(store, tracker)
        if customer is None or not customer.name:
            dispatcher.utter_message(response="utter_greet")
            return []
        dispatcher.utter_message(response="utter_greet_customer", name=customer.name.split(" ")[0])
        orders = await in_thread(store.open_orders, customer.id)
        if orders:
            language = language_of(tracker)
            dispatcher.utter_message(
                response=plural_response("utter_open_orders", len(orders), language),
                count=format_count(len(orders), language),
                orders=", ".join(order.number for order in orders),
            )
        return []


class ActionOfferHandoff(StoreAction):
    def name(self) -> Text:
        return "action_offer_handoff"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, store: Store) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_complaint")
        return [SlotSet("handoff_offered", True)]


class ActionDeclineHandoff(StoreAction):
    def name(self) -> Text:
        return "action_decline_handoff"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, store: Store) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_anything_else")
        return [SlotSet("handoff_offered", False)]


class ActionHandoff(StoreAction):
    """Opens a ticket with the transcript, tells the customer its number, pauses the bot.

    A customer with an open ticket keeps it: asking again does not open a second one. The
    paused conversation is left listening (`action_listen` after the pause, as Rasa logs after
    every answered turn): Rasa maps `/restart` to `action_restart` only then; otherwise a
    `/restart` while paused ran the fallback and this action again (bot/handoff.py).
    """

    def name(self) -> Text:
        return "action_handoff"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, store: Store) -> List[Dict[Text, Any]]:
        channel = channel_of(tracker)
        customer = await current_customer(store, tracker)
        if customer is None:
            customer = await in_thread(store.get_or_create_guest, channel, tracker.sender_id)
        open_ticket = await in_thread(store.open_ticket_for_identity, channel, tracker.sender_id)
        if open_ticket is not None:
            ticket_id = open_ticket.id
        else:
            reason = (tracker.latest_message.get("intent") or {}).get("name") or "human_handoff"
            ticket_id = await in_thread(
                store.create_ticket, customer.id, tracker.sender_id, channel, reason, transcript(tracker)
            )
        dispatcher.utter_message(response="utter_handoff")
        dispatcher.utter_message(response="utter_handoff_ticket", ticket=ticket_id)
        return [SlotSet("handoff_offered", False), ConversationPaused(), ActionExecuted("action_listen")]
