"""Orders and refunds: look-ups always scoped to a customer (or proven by a contact), and the
cancellations and address changes that are allowed before an order ships."""
import datetime as dt
from decimal import Decimal
from typing import List, Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql import Select

from cs_common.store.models import Customer, Order, OrderItem, Refund, utcnow
from cs_common.store.transactions import Transactions
from cs_common.store.views import (
    OPEN_ORDER_STATUSES,
    CancelResult,
    Contact,
    ContactKind,
    OrderItemView,
    OrderStatus,
    OrderView,
    RefundStatus,
    RefundView,
)

# How long the payment provider takes to return money for a cancelled order.
REFUND_EXPECTED_DAYS = 7

_REFUSED_CANCELLATIONS = {
    OrderStatus.SHIPPED.value: CancelResult.ALREADY_SHIPPED,
    OrderStatus.DELIVERED.value: CancelResult.ALREADY_SHIPPED,
    OrderStatus.CANCELLED.value: CancelResult.ALREADY_CANCELLED,
}


class Orders:
    """A customer's orders and their refunds."""

    def __init__(self, transactions: Transactions) -> None:
        self._transactions = transactions

    def order_for_customer(self, customer_id: int, number: str) -> Optional[OrderView]:
        """The order `number` if it belongs to `customer_id`; None otherwise, never a leak."""
        return self._first(order_query().where(Order.customer_id == customer_id, Order.number == number))

    def order_by_number_and_contact(self, number: str, contact: Contact) -> Optional[OrderView]:
        """The order `number` if its customer's email or phone is `contact` (a guest's look-up).

        One query whether or not the number exists, so neither the answer nor its timing
        tells a guest which order numbers are real.
        """
        if not contact.value:
            return None
        column = Customer.email if contact.kind is ContactKind.EMAIL else Customer.phone
        return self._first(
            order_query()
            .join(Customer, Customer.id == Order.customer_id)
            .where(Order.number == number, func.lower(column) == contact.value)
        )

    def latest_order(self, customer_id: int) -> Optional[OrderView]:
        """The customer's most recently placed order, whatever its status."""
        return self._first(order_query().where(Order.customer_id == customer_id).limit(1))

    def open_orders(self, customer_id: int) -> List[OrderView]:
        """Orders still on their way (processing or shipped), newest first."""
        statuses = [status.value for status in OPEN_ORDER_STATUSES]
        with self._transactions.read() as session:
            return _orders(session, order_query().where(Order.customer_id == customer_id, Order.status.in_(statuses)))

    def orders_with_refund(self, customer_id: int) -> List[OrderView]:
        """The customer's orders that have a refund (pending or issued), newest first."""
        query = order_query().join(Refund, Refund.order_id == Order.id).where(Order.customer_id == customer_id)
        with self._transactions.read() as session:
            return _orders(session, query)

    def cancel_order(self, customer_id: int, number: str) -> CancelResult:
        """Cancel a processing order and open a pending refund for its total, atomically.

        The order row is locked (PostgreSQL) or the database write-locked (SQLite) first,
        so two simultaneous cancellations produce one refund.
        """
        with self._transactions.write(customer_id) as session:
            order = _locked_order(session, customer_id, number)
            if order is None:
                return CancelResult.NOT_FOUND
            refused = _REFUSED_CANCELLATIONS.get(order.status)
            if refused:
                return refused
            order.status = OrderStatus.CANCELLED.value
            session.add(
                Refund(
                    order_id=order.id,
                    amount_cents=order.total_cents,
                    status=RefundStatus.PENDING.value,
                    expected_date=utcnow().date() + dt.timedelta(days=REFUND_EXPECTED_DAYS),
                )
            )
            return CancelResult.CANCELLED

    def change_shipping_address(self, customer_id: int, number: str, address: str) -> bool:
        """Set the delivery address of the customer's order if it has not shipped yet."""
        with self._transactions.write(customer_id) as session:
            order = _locked_order(session, customer_id, number)
            if order is None or order.status != OrderStatus.PROCESSING.value:
                return False
            order.shipping_address = address
            return True

    def refund_for_order(self, customer_id: int, number: str) -> Optional[RefundView]:
        """The refund of the customer's order `number`, if there is one."""
        with self._transactions.read() as session:
            row = session.execute(
                select(Refund, Order)
                .join(Order, Order.id == Refund.order_id)
                .where(Order.customer_id == customer_id, Order.number == number)
            ).one_or_none()
            return refund_view(row.Refund, row.Order) if row else None

    def _first(self, query: Select) -> Optional[OrderView]:
        with self._transactions.read() as session:
            orders = _orders(session, query)
            return orders[0] if orders else None


def order_query() -> Select:
    """Orders with their items and products loaded, newest first."""
    return (
        select(Order)
        .options(selectinload(Order.items).selectinload(OrderItem.product))
        .order_by(Order.placed_at.desc(), Order.id.desc())
    )


def _orders(session: Session, query: Select) -> List[OrderView]:
    return [order_view(order) for order in session.execute(query).scalars()]


def _locked_order(session: Session, customer_id: int, number: str) -> Optional[Order]:
    """The customer's order, row-locked for the rest of the transaction (PostgreSQL)."""
    return session.execute(
        select(Order)
        .where(Order.customer_id == customer_id, Order.number == number)
        .with_for_update()
    ).scalar_one_or_none()


def money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def order_view(order: Order) -> OrderView:
    return OrderView(
        number=order.number,
        status=OrderStatus(order.status),
        carrier=order.carrier,
        tracking_number=order.tracking_number,
        placed_at=order.placed_at,
        delivery_date=order.delivery_date,
        total=money(order.total_cents),
        currency=order.currency,
        shipping_address=order.shipping_address,
        items=tuple(
            OrderItemView(
                sku=item.sku,
                name=item.product.name,
                quantity=item.quantity,
                price=money(item.price_cents),
            )
            for item in order.items
        ),
    )


def refund_view(refund: Refund, order: Order) -> RefundView:
    return RefundView(
        order_number=order.number,
        amount=money(refund.amount_cents),
        currency=order.currency,
        status=RefundStatus(refund.status),
        expected_date=refund.expected_date,
    )
