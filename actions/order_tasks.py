"""Resuming a task once the customer gives the order number the bot asked for."""

from __future__ import annotations

from typing import Any, Dict, List, Text, Type

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.address import ActionPrepareAddressChange
from actions.common import StoreAction
from actions.orders import ActionCancelOrder, ActionOrderStatus, ActionRefundStatus
from cs_common.store.repository import Store

# pending_task slot value → the action that asked for the number.
TASKS: Dict[Text, Type[StoreAction]] = {
    "order_status": ActionOrderStatus,
    "cancel_order": ActionCancelOrder,
    "refund_status": ActionRefundStatus,
    "change_address": ActionPrepareAddressChange,
}


class ActionContinueOrderTask(StoreAction):
    """Runs the pending task with the number just given (order status when none is pending)."""

    def name(self) -> Text:
        return "action_continue_order_task"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, store: Store) -> List[Dict[Text, Any]]:
        task = TASKS.get(tracker.get_slot("pending_task") or "", ActionOrderStatus)
        return await task().act(dispatcher, tracker, store)
