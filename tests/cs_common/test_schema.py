"""The store's schema, demo data and connections: migrations, seed, engine settings and outages."""
from decimal import Decimal
from pathlib import Path
from typing import Callable, Dict, List

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from cs_common.store import OrderStatus, Store, StoreUnavailableError
from cs_common.store.engine import SQLITE_BUSY_TIMEOUT_MS, default_url, make_engine
from cs_common.store.migrate import VERSION_TABLE, current_revision, downgrade, upgrade
from cs_common.store.models import Base
from cs_common.store.seed import CUSTOMERS, PRODUCTS, reset
from tests.cs_common.helpers import PHONE_PREFIXES, TODAY, customer_id, email, table_counts
from tests.servers import free_port


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
        lambda: store.order_by_number_and_contact("10001", email("maria.garcia@example.com")),
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
