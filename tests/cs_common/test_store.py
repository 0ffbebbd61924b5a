"""Contract tests of `cs_common.store`, each run on SQLite and on PostgreSQL (see conftest)."""
import datetime as dt
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Callable, Dict, Iterator, List, TypeVar

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from cs_common.store import (
    CancelResult,
    OrderStatus,
    RefundStatus,
    Store,
    StoreUnavailableError,
    UnknownCustomerError,
)
from cs_common.store.engine import SQLITE_BUSY_TIMEOUT_MS, default_url, make_engine
from cs_common.store.migrate import VERSION_TABLE, current_revision, downgrade, upgrade
from cs_common.store.models import Base
from cs_common.store.seed import CUSTOMERS, PRODUCTS, demo_sender, reset
from tests.servers import free_port

TODAY = dt.date(2025, 1, 15)
PHONE_PREFIXES = {"es": "+34", "de": "+49", "fr": "+33", "zh": "+86", "ar": "+971", "en": "+44"}
WRITERS = 50
T = TypeVar("T")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated, empty store."""
    upgrade(store_url)
    store = Store(store_url)
    yield store
    store.close()


@pytest.fixture
def seeded(store_url: str) -> Iterator[Store]:
    """The demo store, seeded for `TODAY`."""
    reset(store_url, TODAY)
    store = Store(store_url)
    yield store
    store.close()


def customer_id(store: Store, demo_name: str) -> int:
    customer = store.customer_for_identity("web", demo_sender(demo_name))
    assert customer is not None
    return customer.id


def table_counts(url: str) -> Dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in Base.metadata.tables
            }
    finally:
        engine.dispose()


def in_parallel(count: int, work: Callable[[int], T]) -> List[T]:
    """Run work(0..count-1) on `count` threads released at the same moment."""
    start = threading.Barrier(count)

    def run(index: int) -> T:
        start.wait()
        return work(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


# -- migrations -------------------------------------------------------------------------


def test_migrations_build_the_models_schema_on_an_empty_database(store_url: str) -> None:
    assert current_revision(store_url) is None
    upgrade(store_url)
    assert current_revision(store_url) == "0005"
    engine = make_engine(store_url)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            differences = compare_metadata(
                MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}),
                Base.metadata,
            )
    finally:
        engine.dispose()
    assert tables == set(Base.metadata.tables) | {VERSION_TABLE}
    assert differences == []


def test_upgrading_from_0001_keeps_existing_data(store_url: str) -> None:
    upgrade(store_url, "0001")
    engine = make_engine(store_url)
    try:
        with engine.begin() as connection:
            assert "handoff_tickets" not in inspect(connection).get_table_names()
            connection.execute(
                text(
                    "INSERT INTO customers (id, name, email, created_at) "
                    "VALUES (1, 'Ana', 'ana@example.com', '2024-05-01 10:00:00+00')"
                )
            )
            connection.execute(
                text("INSERT INTO channel_identities VALUES ('rest', 'ana', 1)")
            )
            connection.execute(
                text("INSERT INTO products VALUES ('SKU-1', 'Mug', 'home', 1250)")
            )
            connection.execute(
                text(
                    "INSERT INTO orders (id, number, customer_id, status, placed_at, total_cents,"
                    " currency, shipping_address) VALUES (1, '12345', 1, 'processing',"
                    " '2024-05-02 10:00:00+00', 2500, 'EUR', 'Calle 1, Madrid')"
                )
            )
            connection.execute(text("INSERT INTO order_items VALUES (1, 1, 'SKU-1', 2, 1250)"))
    finally:
        engine.dispose()

    upgrade(store_url)

    assert current_revision(store_url) == "0005"
    store = Store(store_url)
    try:
        customer = store.customer_for_identity("rest", "ana")
        assert customer is not None and customer.email == "ana@example.com"
        order = store.order_for_customer(customer.id, "12345")
        assert order is not None and order.total == Decimal("25.00")
        assert order.items[0].name == "Mug"
        assert store.create_ticket(customer.id, "ana", "rest", "complaint", ["customer: hi"]) > 0
    finally:
        store.close()


def test_downgrading_to_0001_drops_only_the_tickets(seeded: Store, store_url: str) -> None:
    before = table_counts(store_url)
    downgrade(store_url, "0001")
    assert current_revision(store_url) == "0001"
    upgrade(store_url)
    assert table_counts(store_url) == before


# -- seed -------------------------------------------------------------------------------


def test_seed_gives_the_expected_counts(store_url: str) -> None:
    counts = reset(store_url, TODAY)
    orders = [order for customer in CUSTOMERS for order in customer.orders]
    assert counts == {
        "customers": 8,
        "channel_identities": 8,  # one demo web identity per customer
        "preferences": 8,
        "products": 20,
        "orders": 22,
        "order_items": sum(len(order.items) for order in orders),
        "refunds": 4,
    }
    assert {category for _sku, _name, category, _price in PRODUCTS} == {
        "clothing",
        "shoes",
        "home",
        "electronics accessories",
        "sports",
    }


def test_seed_is_deterministic_and_matches_the_personas(store_url: str) -> None:
    reset(store_url, TODAY)
    store = Store(store_url)
    try:
        first = {demo.demo_name: store.export_customer(customer_id(store, demo.demo_name))
                 for demo in CUSTOMERS}
    finally:
        store.close()
    reset(store_url, TODAY)
    store = Store(store_url)
    try:
        for demo in CUSTOMERS:
            export = store.export_customer(customer_id(store, demo.demo_name))
            assert export == first[demo.demo_name]
            assert export["customer"]["phone"].startswith(PHONE_PREFIXES[demo.language])
            assert export["preferences"]["language"] == demo.language
            assert all(len(order["number"]) == 5 and order["number"].isdigit()
                       for order in export["orders"])
    finally:
        store.close()


def test_most_seeded_customers_have_a_processing_and_a_shipped_order(seeded: Store) -> None:
    both = [
        demo.demo_name
        for demo in CUSTOMERS
        if {OrderStatus.PROCESSING, OrderStatus.SHIPPED}
        <= {order.status for order in seeded.open_orders(customer_id(seeded, demo.demo_name))}
    ]
    assert len(both) >= 6


# -- ownership and orders -----------------------------------------------------------------


def test_another_customers_order_is_never_returned(seeded: Store) -> None:
    maria, lukas = customer_id(seeded, "maria"), customer_id(seeded, "lukas")
    assert seeded.order_for_customer(maria, "10001") is not None
    assert seeded.order_for_customer(lukas, "10001") is None
    assert seeded.refund_for_order(lukas, "10003") is None
    assert seeded.cancel_order(lukas, "10001") is CancelResult.NOT_FOUND
    assert seeded.order_for_customer(maria, "10001").status is OrderStatus.PROCESSING
    assert all(order.number[0] == "2" for order in seeded.open_orders(lukas))


def test_guests_verify_an_order_with_its_email(seeded: Store) -> None:
    assert seeded.order_by_number_and_email("10001", "lukas.schneider@example.com") is None
    assert seeded.order_by_number_and_email("10001", "") is None
    order = seeded.order_by_number_and_email("10001", "  Maria.Garcia@Example.com ")
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


# -- identities, preferences, history -----------------------------------------------------


def test_a_new_sender_becomes_one_guest(store: Store) -> None:
    guests = in_parallel(20, lambda _index: store.get_or_create_guest("rest", "new-sender"))
    assert len({guest.id for guest in guests}) == 1
    assert guests[0].is_guest and guests[0].name is None
    assert store.customer_for_identity("rest", "new-sender") == guests[0]
    assert store.preferences(guests[0].id).language is None


def test_linking_moves_an_identity_to_the_verified_customer(seeded: Store) -> None:
    guest = seeded.get_or_create_guest("socketio", "abc123")
    maria = customer_id(seeded, "maria")
    seeded.link_identity(maria, "socketio", "abc123")
    assert seeded.customer_for_identity("socketio", "abc123").id == maria != guest.id


def test_writes_for_an_unknown_customer_raise(store: Store) -> None:
    with pytest.raises(UnknownCustomerError):
        store.record_interaction(404, "rest", "greet")
    with pytest.raises(UnknownCustomerError):
        store.set_language(404, "es")
    with pytest.raises(UnknownCustomerError):
        store.link_identity(404, "rest", "ghost")
    with pytest.raises(UnknownCustomerError):
        store.export_customer(404)


def test_history_is_newest_first_and_limited(store: Store) -> None:
    guest = store.get_or_create_guest("rest", "h")
    for intent in ("greet", "order_status", "goodbye"):
        store.record_interaction(guest.id, "rest", intent, "en")
    assert [entry.intent for entry in store.history(guest.id, limit=2)] == [
        "goodbye",
        "order_status",
    ]


def test_purchase_history_and_popular_products_ignore_cancelled_orders(seeded: Store) -> None:
    camille = customer_id(seeded, "camille")
    purchases = seeded.purchase_history(camille)
    assert [purchase.sku for purchase in purchases] == ["CL-1001", "HO-3002", "HO-3003"]
    sku, _name, category, placed_at = purchases[0]
    assert (sku, category, placed_at.date()) == ("CL-1001", "clothing", TODAY - dt.timedelta(3))
    top = lambda: [product.sku for product in seeded.popular_products(3)]  # noqa: E731
    assert top() == ["HO-3003", "SP-5002", "CL-1004"]  # 5, 4 and 3 units (tie broken by sku)
    seeded.cancel_order(customer_id(seeded, "emma"), "60001")  # one SP-5002 fewer
    assert top() == ["HO-3003", "CL-1004", "HO-3001"]


def test_fifty_concurrent_writers_lose_nothing(seeded: Store) -> None:
    lukas = customer_id(seeded, "lukas")
    assert seeded.preferences(lukas).marketing_consent is False

    def write(index: int) -> None:
        seeded.record_interaction(lukas, "rest", f"turn_{index}", "fr")
        if index % 2:
            seeded.set_marketing_consent(lukas, True)
        else:
            seeded.set_language(lukas, "fr")

    in_parallel(WRITERS, write)

    history = seeded.history(lukas, limit=WRITERS * 2)
    assert sorted(entry.intent for entry in history) == sorted(
        f"turn_{index}" for index in range(WRITERS)
    )
    preferences = seeded.preferences(lukas)
    assert (preferences.language, preferences.marketing_consent) == ("fr", True)
    assert preferences.updated_at.date() >= TODAY


# -- privacy -----------------------------------------------------------------------------


def test_export_is_json_and_complete(seeded: Store) -> None:
    maria = customer_id(seeded, "maria")
    seeded.record_interaction(maria, "rest", "greet", "es")
    ticket = seeded.create_ticket(maria, "maria", "rest", "complaint", ["user: ¡hola!"])
    export = json.loads(json.dumps(seeded.export_customer(maria)))
    assert export["customer"]["name"] == "Maria García"
    assert export["identities"] == [{"channel": "web", "sender_id": "web:demo-maria"}]
    assert [order["number"] for order in export["orders"]] == ["10001", "10002", "10003"]
    assert export["orders"][2]["refund"]["amount"] == "79.90"
    assert export["interactions"][0]["intent"] == "greet"
    assert export["handoff_tickets"][0]["id"] == ticket
    assert export["handoff_tickets"][0]["status"] == "open"


def test_forget_removes_every_row_about_the_customer(seeded: Store, store_url: str) -> None:
    maria = customer_id(seeded, "maria")
    seeded.record_interaction(maria, "rest", "greet", "es")
    seeded.create_ticket(maria, "maria", "rest", "complaint", ["customer: transcript"])
    before = table_counts(store_url)

    assert seeded.forget_customer(maria) is True

    after = table_counts(store_url)
    assert before["customers"] - after["customers"] == 1
    assert before["orders"] - after["orders"] == 3
    assert before["refunds"] - after["refunds"] == 1
    assert after["interactions"] == after["handoff_tickets"] == 0
    assert after["products"] == before["products"]
    assert seeded.customer_for_identity("web", demo_sender("maria")) is None
    assert seeded.order_by_number_and_email("10001", "maria.garcia@example.com") is None
    with pytest.raises(UnknownCustomerError):
        seeded.export_customer(maria)
    assert seeded.forget_customer(maria) is False
    assert seeded.customer_for_identity("web", demo_sender("lukas")) is not None


# -- configuration and failure ---------------------------------------------------------------


def test_default_url_reads_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CS_STORE_URL", raising=False)
    monkeypatch.setenv("CS_DATA_DIR", str(tmp_path / "data"))
    assert default_url() == f"sqlite:///{tmp_path / 'data' / 'store.db'}"
    assert (tmp_path / "data").is_dir()
    monkeypatch.setenv("CS_STORE_URL", "postgresql+psycopg2://bot@db/cs")
    assert default_url() == "postgresql+psycopg2://bot@db/cs"


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        with engine.connect() as connection:
            pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
            assert pragma("journal_mode") == "wal"
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") == SQLITE_BUSY_TIMEOUT_MS
    finally:
        engine.dispose()


def unreachable_urls(tmp_path: Path) -> Dict[str, str]:
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    return {
        "postgresql": f"postgresql+psycopg2://bot:{PASSWORD}@127.0.0.1:{free_port()}/cs",
        "sqlite": f"sqlite:///{not_a_folder / 'store.db'}",
    }


PASSWORD = "s3cret-Pa55word"


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_an_unreachable_store_raises_a_helpful_error_without_secrets(
    backend: str, tmp_path: Path
) -> None:
    url = unreachable_urls(tmp_path)[backend]
    store = Store(url)
    calls: List[Callable[[], object]] = [
        lambda: store.order_by_number_and_email("10001", "maria.garcia@example.com"),
        lambda: store.record_interaction(1, "rest", "greet", "es"),
        lambda: upgrade(url),
    ]
    for call in calls:
        with pytest.raises(StoreUnavailableError) as raised:
            call()
        message = str(raised.value)
        assert "CS_STORE_URL" in message
        assert PASSWORD not in message and "maria.garcia" not in message
        assert raised.value.__suppress_context__  # the driver error, with its SQL, is dropped
    store.close()
