"""The bot's one home for database access: `Store` for the actions and the channels.

Deploys migrate first with `python -m cs_common.store.migrate` (or `migrate.upgrade(url)`);
demos reset with `python -m cs_common.store.seed`.

    from cs_common.store import Store, StoreUnavailableError

    store = Store.from_env()          # CS_STORE_URL, else SQLite in $CS_DATA_DIR or var/
    customer = store.get_or_create_guest("rest", sender_id)
    order = store.order_for_customer(customer.id, "10001")
"""
from cs_common.store.errors import StoreError, StoreUnavailableError, UnknownCustomerError
from cs_common.store.repository import Store
from cs_common.store.views import (
    CancelResult,
    CustomerView,
    InteractionView,
    OrderItemView,
    OrderStatus,
    OrderView,
    PreferenceView,
    ProductView,
    Purchase,
    RefundStatus,
    RefundView,
    TicketView,
)

__all__ = [
    "CancelResult",
    "CustomerView",
    "InteractionView",
    "OrderItemView",
    "OrderStatus",
    "OrderView",
    "PreferenceView",
    "ProductView",
    "Purchase",
    "RefundStatus",
    "RefundView",
    "Store",
    "StoreError",
    "StoreUnavailableError",
    "TicketView",
    "UnknownCustomerError",
]
