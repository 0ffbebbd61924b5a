"""Order status, cancellation and refunds.

A customer only ever sees their own orders: a number that belongs to someone else is
answered exactly like a number that does not exist. A known customer who gives no number
gets the one order the task can be about (status and cancellation: the open order; refunds:
the order with a refund); with several, the bot asks which (one button per order; the SMS
channel numbers them), and with none it takes their latest order. When the bot asks for a
number or a choice it remembers the task in `pending_task`, so `action_continue_order_task`
resumes it when the number arrives.

A guest (nobody linked to this sender) gets one order's status by giving its number and the
order's email address or phone number (`order_lookup_form`); a wrong pair and an unknown number
get the same answer, and the guest is offered to link their account.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, List, Optional, Text, Tuple

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    StoreAction,
    channel_of,
    current_customer,
    in_thread,
    language_of,
    localized_date,
    localized_money,
)
from actions.identity import contact_in
from cs_common.senders import GUEST_CHANNEL
from cs_common.store.repository import Store
from cs_common.store.views import CancelResult, Contact, OrderStatus, OrderView

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

# The form that asks a guest for the order's email or phone (domain.yml).
LOOKUP_FORM = "order_lookup_form"
# The orders a task can be about when the customer names none (default: the open ones).
CANDIDATES: Dict[Text, Callable[[Store, int], List[OrderView]]] = {
    "refund_status": Store.orders_with_refund,
}


def ask_for_number(dispatcher: CollectingDispatcher, task: Text) -> List[Dict[Text, Any]]:
    dispatcher.utter_message(response="utter_ask_order_number")
    return [SlotSet("pending_task", task)]


def not_found(dispatcher: CollectingDispatcher, number: Text) -> List[Dict[Text, Any]]:
    dispatcher.utter_message(response="utter_order_not_found", order_number=number)
    return [SlotSet("order_number", None), SlotSet("pending_task", None)]


def order_button(order: OrderView) -> Dict[Text, Text]:
    """One choice: the number and what is in the order; choosing it gives the number."""
    items = order.items[0].name if order.items else ""
    if len(order.items) > 1:
        items += f" +{len(order.items) - 1}"
    payload = "/inform_order_number" + json.dumps({"order_number": order.number})
    return {"title": f"{order.number} · {items}" if items else order.number, "payload": payload}


def ask_which(dispatcher: CollectingDispatcher, orders: List[OrderView], task: Text) -> List[Dict[Text, Any]]:
    dispatcher.utter_message(response="utter_ask_which_order", buttons=[order_button(order) for order in orders])
    return [SlotSet("pending_task", task)]


def say_status(dispatcher: CollectingDispatcher, tracker: Tracker, order: OrderView) -> None:
    dispatcher.utter_message(
        response=STATUS_RESPONSES[order.status],
        order_number=order.number,
        carrier=order.carrier or "—",
        tracking_number=order.tracking_number or "—",
        delivery_date=localized_date(order.delivery_date, language_of(tracker)),
    )


async def resolve_or_ask(
    dispatcher: CollectingDispatcher, tracker: Tracker, store: Store, task: Text
) -> Tuple[Optional[OrderView], List[Dict[Text, Any]]]:
    """The customer's order for `task`, or (None, events) after asking or answering why not.

    A guest's look-up ends here too: it answers with the order's status at most.
    """
    number = tracker.get_slot("order_number")
    customer = await current_customer(store, tracker)
    if customer is None:
        return None, await look_up_as_guest(dispatcher, tracker, store, task)
    if number:
        order = await in_thread(store.order_for_customer, customer.id, number)
        return (order, []) if order else (None, not_found(dispatcher, number))
    candidates = await in_thread(CANDIDATES.get(task, Store.open_orders), store, customer.id)
    if len(candidates) > 1:
        return None, ask_which(dispatcher, candidates, task)
    order = candidates[0] if candidates else await in_thread(store.latest_order, customer.id)
    return (order, []) if order else (None, ask_for_number(dispatcher, task))


async def look_up_as_guest(
    dispatcher: CollectingDispatcher, tracker: Tracker, store: Store, task: Text
) -> List[Dict[Text, Any]]:
    """Asks a guest for the number, then the order's email or phone, unless this message has them."""
    number = tracker.get_slot("order_number")
    if not number:
        return ask_for_number(dispatcher, task)
    contact = contact_in(tracker)
    if contact is None:
        return [SlotSet("pending_task", task), SlotSet("order_contact", None), FollowupAction(LOOKUP_FORM)]
    return await answer_guest(dispatcher, tracker, store, number, contact)


async def answer_guest(
    dispatcher: CollectingDispatcher, tracker: Tracker, store: Store, number: Text, contact: Contact
) -> List[Dict[Text, Any]]:
    """The order's status if number and contact match; else one line that never says which was wrong."""
    order = await in_thread(store.order_by_number_and_contact, number, contact)
    if order is None:
        dispatcher.utter_message(response="utter_guest_order_no_match", order_number=number)
    else:
        say_status(dispatcher, tracker, order)
    if channel_of(tracker) != GUEST_CHANNEL:  # linking is refused on REST (README, "Security")
        dispatcher.utter_message(response="utter_offer_link_account")
    return [
        SlotSet("order_number", order.number if order else None),
        SlotSet("order_contact", None),
        SlotSet("pending_task", None),
    ]


class ActionGuestOrderLookup(StoreAction):
    """After `order_lookup_form`: the guest's order, found by its number and the contact just typed.

    The contact is read from this message's entities, the only place it is unredacted (pii.yml).
    """

    def name(self) -> Text:
        return "action_guest_order_lookup"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, store: Store) -> List[Dict[Text, Any]]:
        return await look_up_as_guest(dispatcher, tracker, store, tracker.get_slot("pending_task") or "order_status")


class ActionOrderStatus(StoreAction):
    def name(self) -> Text:
        return "action_order_status"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, store: Store) -> List[Dict[Text, Any]]:
        order, events = await resolve_or_ask(dispatcher, tracker, store, "order_status")
        if order is None:
            return events
        say_status(dispatcher, tracker, order)
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
