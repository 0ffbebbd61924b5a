"""The customer's rights over their data: see what we store, and have it deleted."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import StoreAction, current_customer, in_thread, language_of
from cs_common.plurals import format_count
from cs_common.store.repository import Store


class ActionExportData(StoreAction):
    """Summarises everything stored about the customer (the full export stays server-side)."""

    def name(self) -> Text:
        return "action_export_data"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, store: Store) -> List[Dict[Text, Any]]:
        customer = await current_customer(store, tracker)
        if customer is None:
            dispatcher.utter_message(response="utter_data_export_none")
            return []
        export = await in_thread(store.export_customer, customer.id)
        profile = export["customer"]
        preferences = export["preferences"] or {}
        dispatcher.utter_message(
            response="utter_data_export",
            name=profile.get("name") or "—",
            email=profile.get("email") or "—",
            phone=profile.get("phone") or "—",
            language=preferences.get("language") or "—",
            orders=format_count(len(export["orders"]), language_of(tracker)),
            interactions=format_count(len(export["interactions"]), language_of(tracker)),
        )
        return []


class ActionAskForget(StoreAction):
    def name(self) -> Text:
        return "action_ask_forget"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, store: Store) -> List[Dict[Text, Any]]:
        if await current_customer(store, tracker) is None:
            dispatcher.utter_message(response="utter_data_export_none")
            return []
        dispatcher.utter_message(response="utter_ask_forget_confirmation")
        return [SlotSet("forget_pending", True)]


class ActionForgetCustomer(StoreAction):
    """Deletes the customer and everything linked to them, after they confirmed."""

    def name(self) -> Text:
        return "action_forget_customer"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, store: Store) -> List[Dict[Text, Any]]:
        customer = await current_customer(store, tracker)
        if customer is not None:
            await in_thread(store.forget_customer, customer.id)
        dispatcher.utter_message(response="utter_forgotten")
        return [SlotSet("forget_pending", False), SlotSet("order_number", None)]


class ActionAbortForget(StoreAction):
    def name(self) -> Text:
        return "action_abort_forget"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, store: Store) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_forget_aborted")
        return [SlotSet("forget_pending", False)]
