"""Changing the delivery address of an order that has not shipped yet (a form)."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.common import StoreAction, current_customer, in_thread
from actions.orders import resolve_or_ask
from cs_common.store.repository import Store
from cs_common.store.views import OrderStatus

MAX_ADDRESS_CHARS = 200
_CJK = re.compile(r"[\u3400-\u9fff]")


def plausible_address(text: Text) -> bool:
    """Street, number, postcode and city: at least a number and enough words (or CJK characters)."""
    text = text.strip()
    if not text or len(text) > MAX_ADDRESS_CHARS or not any(ch.isdigit() for ch in text):
        return False
    if len(_CJK.findall(text)) >= 6:
        return True
    words = [w for w in re.split(r"[\s,،]+", text) if w]
    return len(words) >= 3


class ActionPrepareAddressChange(StoreAction):
    """Finds the order; starts the address form only if the order has not shipped."""

    def name(self) -> Text:
        return "action_prepare_address_change"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, store: Store) -> List[Dict[Text, Any]]:
        if await current_customer(store, tracker) is None:
            dispatcher.utter_message(response="utter_change_address")
            return []
        order, events = await resolve_or_ask(dispatcher, tracker, store, "change_address")
        if order is None:
            return events
        if order.status is not OrderStatus.PROCESSING:
            dispatcher.utter_message(response="utter_address_cannot_change", order_number=order.number)
            return [SlotSet("order_number", order.number), SlotSet("pending_task", None)]
        return [SlotSet("order_number", order.number), SlotSet("pending_task", None), FollowupAction("address_form")]


class ValidateAddressForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_address_form"

    def validate_new_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Optional[Text]]:
        if isinstance(value, str) and plausible_address(value):
            return {"new_address": value.strip()}
        dispatcher.utter_message(response="utter_address_invalid")
        return {"new_address": None}


class ActionChangeAddress(StoreAction):
    def name(self) -> Text:
        return "action_change_address"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, store: Store) -> List[Dict[Text, Any]]:
        number, address = tracker.get_slot("order_number"), tracker.get_slot("new_address")
        customer = await current_customer(store, tracker)
        changed = bool(customer and number and address) and await in_thread(
            store.change_shipping_address, customer.id, number, address
        )
        if changed:
            dispatcher.utter_message(response="utter_address_changed", order_number=number, address=address)
        else:
            dispatcher.utter_message(response="utter_address_cannot_change", order_number=number or "—")
        return [SlotSet("new_address", None)]
