"""Orders and refunds in the store (cs_common/store/orders.py)."""

import pytest

from cs_common.store import CancelResult, OrderStatus, RefundStatus, Store
from tests.cs_common.helpers import TODAY, customer_id, email, in_parallel, table_counts


def test_another_customers_order_is_never_returned(seeded: Store) -> None:
    maria, lukas = customer_id(seeded, "maria"), customer_id(seeded, "lukas")
    assert seeded.order_for_customer(maria, "10001") is not None
    assert seeded.order_for_customer(lukas, "10001") is None
    assert seeded.refund_for_order(lukas, "10003") is None
    assert seeded.cancel_order(lukas, "10001") is CancelResult.NOT_FOUND
    assert seeded.order_for_customer(maria, "10001").status is OrderStatus.PROCESSING
    assert all(order.number[0] == "2" for order in seeded.open_orders(lukas))


def test_guests_verify_an_order_with_its_email(seeded: Store) -> None:
    assert seeded.order_by_number_and_contact("10001", email("lukas.schneider@example.com")) is None
    assert seeded.order_by_number_and_contact("10001", email("")) is None
    order = seeded.order_by_number_and_contact("10001", email("maria.garcia@example.com"))
    assert order is not None and order.number == "10001"


def test_order_views_carry_items_money_and_aware_times(seeded: Store) -> None:
    order = seeded.latest_order(customer_id(seeded, "emma"))
    assert order is not None and order.number == "60001"
    assert order.total == sum(item.price * item.quantity for item in order.items)
    assert order.placed_at.tzinfo is not None and order.placed_at.date() == TODAY
    assert order.delivery_date > TODAY


@pytest.mark.parametrize(
    "number, expected",
    [
        ("10002", CancelResult.ALREADY_SHIPPED),
        ("10003", CancelResult.ALREADY_SHIPPED),  # delivered
        ("99999", CancelResult.NOT_FOUND),
    ],
)
def test_only_processing_orders_can_be_cancelled(
    seeded: Store, number: str, expected: CancelResult
) -> None:
    maria = customer_id(seeded, "maria")
    before = seeded.order_for_customer(maria, number)
    assert seeded.cancel_order(maria, number) is expected
    assert seeded.order_for_customer(maria, number) == before


def test_cancelling_opens_a_pending_refund_for_the_total(seeded: Store) -> None:
    maria = customer_id(seeded, "maria")
    assert seeded.refund_for_order(maria, "10001") is None
    assert seeded.cancel_order(maria, "10001") is CancelResult.CANCELLED
    assert seeded.cancel_order(maria, "10001") is CancelResult.ALREADY_CANCELLED
    order = seeded.order_for_customer(maria, "10001")
    refund = seeded.refund_for_order(maria, "10001")
    assert order.status is OrderStatus.CANCELLED
    assert refund.status is RefundStatus.PENDING and refund.amount == order.total
    assert "10001" not in {open_order.number for open_order in seeded.open_orders(maria)}


def test_simultaneous_cancellations_refund_once(seeded: Store, store_url: str) -> None:
    maria = customer_id(seeded, "maria")
    refunds_before = table_counts(store_url)["refunds"]
    results = in_parallel(10, lambda _index: seeded.cancel_order(maria, "10001"))
    assert sorted(result.value for result in results) == ["already_cancelled"] * 9 + [
        "cancelled"
    ]
    assert table_counts(store_url)["refunds"] == refunds_before + 1
