"""The customer's rights over their data: export everything (access) and forget everything (erasure)."""
import datetime as dt
from dataclasses import asdict
from decimal import Decimal
from enum import Enum
from typing import Any, Dict, List

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cs_common.store.errors import UnknownCustomerError
from cs_common.store.identities import customer_view
from cs_common.store.models import (
    ChannelIdentity,
    Customer,
    HandoffTicket,
    Interaction,
    LinkCode,
    Order,
    OrderItem,
    Preference,
    Refund,
)
from cs_common.store.orders import order_query, order_view, refund_view
from cs_common.store.profile import interaction_view, preference_view
from cs_common.store.transactions import BULK, Transactions


class Privacy:
    """Export and erasure of one customer's rows, across every aggregate."""

    def __init__(self, transactions: Transactions) -> None:
        self._transactions = transactions

    def export_customer(self, customer_id: int) -> Dict[str, Any]:
        """Everything stored about the customer, JSON-serialisable (right of access)."""
        with self._transactions.read() as session:
            customer = session.get(Customer, customer_id)
            if customer is None:
                raise UnknownCustomerError(customer_id)
            return _jsonable(_export(session, customer))

    def forget_customer(self, customer_id: int) -> bool:
        """Delete the customer and every row about them (right to erasure).

        Returns False when there was nothing to forget.
        """
        with self._transactions.write(customer_id) as session:
            order_ids = select(Order.id).where(Order.customer_id == customer_id)
            statements = [
                delete(Refund).where(Refund.order_id.in_(order_ids)),
                delete(OrderItem).where(OrderItem.order_id.in_(order_ids)),
                *(
                    delete(model).where(model.customer_id == customer_id)
                    for model in (Order, Interaction, HandoffTicket, Preference, ChannelIdentity, LinkCode)
                ),
            ]
            for statement in statements:
                session.execute(statement, execution_options=BULK)
            deleted = session.execute(delete(Customer).where(Customer.id == customer_id), execution_options=BULK)
            return bool(deleted.rowcount)


def _export(session: Session, customer: Customer) -> Dict[str, Any]:
    """The export document; ORM rows become views first, so it shows what actions see."""
    customer_id = customer.id
    orders = session.execute(order_query().where(Order.customer_id == customer_id)).scalars()
    preference = session.get(Preference, customer_id)

    def rows(model: Any) -> List[Any]:
        return session.execute(select(model).where(model.customer_id == customer_id)).scalars().all()

    return {
        "customer": asdict(customer_view(customer)),
        "identities": [{"channel": row.channel, "sender_id": row.sender_id} for row in rows(ChannelIdentity)],
        "preferences": asdict(preference_view(preference)) if preference else None,
        "orders": [
            {**asdict(order_view(order)), "refund": asdict(refund_view(order.refund, order)) if order.refund else None}
            for order in orders
        ],
        "interactions": [asdict(interaction_view(row)) for row in rows(Interaction)],
        "handoff_tickets": [
            {
                "id": ticket.id,
                "created_at": ticket.created_at,
                "channel": ticket.channel,
                "sender_id": ticket.sender_id,
                "reason": ticket.reason,
                "status": ticket.status,
                "transcript": ticket.transcript,
            }
            for ticket in rows(HandoffTicket)
        ],
    }


def _jsonable(value: Any) -> Any:
    """Dates as ISO 8601, money as exact decimal strings, enums as their values."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value
