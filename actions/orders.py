"""Order status, cancellation and refunds.

A customer only ever sees their own orders: a number that belongs to someone else is
answered exactly like a number that does not exist. A known customer who gives no number
gets their latest order; otherwise the bot asks for the number and remembers the task in
`pending_task`, so `action_continue_order_task` resumes it when the number arrives.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import StoreAction, current_customer, in_thread, language_of, localized_date, localized_money
from actions.store.repository import Store
from actions.store.views import CancelResult, OrderStatus, OrderView

STATUS_RESPONSES = {
    OrderStatus.PROCESSING: "utter_order_status_processing",
    OrderStatus.SHIPPED: "utter_order_status_shipped",
    OrderStatus.DELIVERED: "utter_order_status_delivered",
    OrderStatus.CANCELLED: "utter_order_status_cancelled",
}

CANCEL_RESPONSES = {
    CancelResult.CANCELLED: "utter_order_cancelled",
    CancelResult.ALREADY_SHIPPED: "utter_cannot_cancel_shipped",
    CancelResult.ALREADY_CANCELLED: "utter_order_status_cancelled",
    CancelResult.NOT_FOUND: "utter_order_not_found",
}


async def find_order(store: Store, tracker: Tracker) -> Optional[OrderView]:
    """The order the customer means: the number they gave, else their latest order."""
    customer = await current_customer(store, tracker)
    if customer is None:
        return None
    number = tracker.get_slot("order_number")
    if number:
        return await in_thread(store.order_for_customer, customer.id, number)
    return await in_thread(store.latest_order, customer.id)


def ask_for_number(dispatcher: CollectingDispatcher, task: Text) -> List[Dict[Text, Any]]:
    dispatcher.utter_message(response="utter_ask_order_number")
    return [SlotSet("pending_task", task)]


def not_found(dispatcher: CollectingDispatcher, number: Text) -> List[Dict[Text, Any]]:
    dispatcher.utter_message(response="utter_order_not_found", order_number=number)
    return [SlotSet("order_number", None), SlotSet("pending_task", None)]


async def resolve_or_ask(
    dispatcher: CollectingDispatcher, tracker: Tracker, store: Store, task: Text
) -> tuple[Optional[OrderView], List[Dict[Text, Any]]]:
    """Finds the order for `task`, or says why not and returns the events for that."""
    order = await find_order(store, tracker)
    if order is not None:
        return order, []
    number = tracker.get_slot("order_number")
    return None, not_found(dispatcher, number) if number else ask_for_number(dispatcher, task)


class ActionOrderStatus(StoreAction):
    def name(self) -> Text:
        return "action_order_status"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, store: Store) -> List[Dict[Text, Any]]:
        order, events = await resolve_or_ask(dispatcher, tracker, store, "order_status")
        if order is None:
            return events
        language = language_of(tracker)
        dispatcher.utter_message(
            response=STATUS_RESPONSES[order.status],
            order_number=order.number,
            carrier=order.carrier or "—",
            tracking_number=order.tracking_number or "—",
            delivery_date=localized_date(order.delivery_date, language),
        )
        return [SlotSet("order_number", order.number), SlotSet("pending_task", None)]


class ActionCancelOrder(StoreAction):
    """Checks that the order can be cancelled, then asks for confirmation."""

    def name(self) -> Text:
        return "action_cancel_order"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, store: Store) -> List[Dict[Text, Any]]:
        order, events = await resolve_or_ask(dispatcher, tracker, store, "cancel_order")
        if order is None:
            return events
        if order.status is OrderStatus.PROCESSING:
            dispatcher.utter_message(response="utter_ask_cancel_confirmation", order_number=order.number)
            return [SlotSet("order_number", order.number), SlotSet("cancel_pending", True), SlotSet("pending_task", None)]
        response = "utter_order_status_cancelled" if order.status is OrderStatus.CANCELLED else "utter_cannot_cancel_shipped"
        dispatcher.utter_message(response=response, order_number=order.number)
        return [SlotSet("order_number", order.number), SlotSet("pending_task", None)]


class ActionConfirmCancel(StoreAction):
    def name(self) -> Text:
        return "action_confirm_cancel"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, store: Store) -> List[Dict[Text, Any]]:
        number = tracker.get_slot("order_number")
        customer = await current_customer(store, tracker)
        result = CancelResult.NOT_FOUND
        if customer is not None and number:
            result = await in_thread(store.cancel_order, customer.id, number)
        dispatcher.utter_message(response=CANCEL_RESPONSES[result], order_number=number or "—")
        return [SlotSet("cancel_pending", False)]


class ActionAbortCancel(StoreAction):
    def name(self) -> Text:
        return "action_abort_cancel"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, store: Store) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_cancel_aborted", order_number=tracker.get_slot("order_number") or "—")
        return [SlotSet("cancel_pending", False)]


class ActionRefundStatus(StoreAction):
    def name(self) -> Text:
        return "action_refund_status"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, store: Store) -> List[Dict[Text, Any]]:
        order, events = await resolve_or_ask(dispatcher, tracker, store, "refund_status")
        if order is None:
            return events
        customer = await current_customer(store, tracker)
        refund = await in_thread(store.refund_for_order, customer.id, order.number) if customer else None
        language = language_of(tracker)
        if refund is None:
            dispatcher.utter_message(response="utter_refund_status_none", order_number=order.number)
        else:
            dispatcher.utter_message(
                response="utter_refund_status_pending",
                order_number=order.number,
                amount=localized_money(refund.amount, refund.currency, language),
                refund_date=localized_date(refund.expected_date, language),
            )
        return [SlotSet("order_number", order.number), SlotSet("pending_task", None)]
