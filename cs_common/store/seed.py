"""Deterministic demo data: `python -m cs_common.store.seed [--url URL] [--today YYYY-MM-DD]`.

Resets the store (drops its tables, migrates, seeds). Every date is fixed relative to the
reference day, so "shipped two days ago" stays true whenever the demo runs, and the same
reference day always gives the same rows. Eight customers, one per language the bot speaks
(two for es and en), each known on the web chat page as `web:demo-<first name>`: the sender id
of the demo sign-in `/webhooks/web/demo/<first name>` (bot/web.py, on only with
`CS_DEMO_SIGN_IN=1`). Nobody else can send as them: REST senders are guests and other web
senders are random. The k-th customer's orders are numbered k0001, k0002, ... newest first
(Maria: 10001-10003).
"""
import argparse
import datetime as dt
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from sqlalchemy import MetaData, Table, func, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from cs_common.store.engine import default_url, make_engine
from cs_common.store.errors import StoreError, translated_errors
from cs_common.store.migrate import VERSION_TABLE, current_revision, upgrade
from cs_common.store.models import (
    Base,
    ChannelIdentity,
    Customer,
    Order,
    OrderItem,
    Preference,
    Product,
    Refund,
)
from cs_common.store.views import OrderStatus, RefundStatus

CURRENCY = "EUR"
REST = "rest"
WEB = "web"
DEMO_SENDER_PREFIX = "web:demo-"


def demo_sender(demo_name: str) -> str:
    """The web sender id of a demo customer; only the demo sign-in issues sessions for it."""
    return f"{DEMO_SENDER_PREFIX}{demo_name}"

# sku, name, category, price in cents
PRODUCTS: Tuple[Tuple[str, str, str, int], ...] = (
    ("CL-1001", "Merino wool sweater", "clothing", 7990),
    ("CL-1002", "Linen shirt", "clothing", 4590),
    ("CL-1003", "Rain jacket", "clothing", 12900),
    ("CL-1004", "Organic cotton T-shirt", "clothing", 1990),
    ("SH-2001", "Leather ankle boots", "shoes", 14900),
    ("SH-2002", "Canvas sneakers", "shoes", 5990),
    ("SH-2003", "Trail running shoes", "shoes", 11900),
    ("SH-2004", "Wool slippers", "shoes", 3490),
    ("HO-3001", "Ceramic mug set", "home", 2990),
    ("HO-3002", "Linen bedding set", "home", 8990),
    ("HO-3003", "Scented candle", "home", 1890),
    ("HO-3004", "Cast iron pan", "home", 4490),
    ("EA-4001", "USB-C charger 65 W", "electronics accessories", 3990),
    ("EA-4002", "Wireless earbuds", "electronics accessories", 7990),
    ("EA-4003", "Phone case", "electronics accessories", 1990),
    ("EA-4004", "Laptop sleeve 14 inch", "electronics accessories", 2990),
    ("SP-5001", "Yoga mat", "sports", 3490),
    ("SP-5002", "Insulated water bottle", "sports", 2490),
    ("SP-5003", "Resistance band set", "sports", 1990),
    ("SP-5004", "Cycling gloves", "sports", 2790),
)
PRICES = {sku: price for sku, _name, _category, price in PRODUCTS}


@dataclass(frozen=True)
class DemoOrder:
    number: str
    status: OrderStatus
    days_ago: int
    items: Tuple[Tuple[str, int], ...]  # (sku, quantity)
    tracking_number: Optional[str] = None
    refund: Optional[RefundStatus] = None  # cancelled, or delivered and sent back


@dataclass(frozen=True)
class DemoCustomer:
    demo_name: str  # the demo sign-in link and the web sender id `web:demo-<demo_name>`
    name: str
    email: str
    phone: str
    language: str
    preferred_channel: str
    marketing_consent: bool
    carrier: str
    address: str
    orders: Tuple[DemoOrder, ...]


P, S, D, C = (
    OrderStatus.PROCESSING,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
    OrderStatus.CANCELLED,
)

CUSTOMERS: Tuple[DemoCustomer, ...] = (
    DemoCustomer(
        demo_name="maria",
        name="Maria García",
        email="maria.garcia@example.com",
        phone="+34612345678",
        language="es",
        preferred_channel="twilio",
        marketing_consent=True,
        carrier="SEUR",
        address="Calle de Alcalá 42, 28014 Madrid, España",
        orders=(
            DemoOrder("10001", P, 2, (("CL-1002", 1), ("SP-5002", 2))),
            DemoOrder("10002", S, 5, (("SH-2002", 1),), "SEUR4471010002"),
            DemoOrder("10003", D, 30, (("EA-4002", 1),), "SEUR4471010003", RefundStatus.PENDING),
        ),
    ),
    DemoCustomer(
        demo_name="lukas",
        name="Lukas Schneider",
        email="lukas.schneider@example.com",
        phone="+4915123456789",
        language="de",
        preferred_channel="slack",
        marketing_consent=False,
        carrier="DHL",
        address="Torstraße 118, 10119 Berlin, Deutschland",
        orders=(
            DemoOrder("20001", P, 1, (("HO-3004", 1), ("HO-3001", 1))),
            DemoOrder("20002", S, 4, (("SP-5001", 1), ("SP-5003", 1)), "JJD0004120002"),
            DemoOrder("20003", D, 21, (("SH-2003", 1),), "JJD0004120003"),
        ),
    ),
    DemoCustomer(
        demo_name="camille",
        name="Camille Martin",
        email="camille.martin@example.com",
        phone="+33612345678",
        language="fr",
        preferred_channel="socketio",
        marketing_consent=True,
        carrier="Colissimo",
        address="12 rue de Rivoli, 75004 Paris, France",
        orders=(
            DemoOrder("30001", P, 3, (("CL-1001", 1),)),
            DemoOrder("30002", S, 6, (("HO-3002", 1), ("HO-3003", 2)), "6A30002000001"),
            DemoOrder("30003", C, 12, (("EA-4001", 1),), refund=RefundStatus.ISSUED),
        ),
    ),
    DemoCustomer(
        demo_name="wangwei",
        name="王伟",
        email="wang.wei@example.com",
        phone="+8613800138000",
        language="zh",
        preferred_channel=REST,
        marketing_consent=False,
        carrier="SF Express",
        address="北京市朝阳区建国路88号 100022",
        orders=(
            DemoOrder("40001", P, 1, (("EA-4002", 1), ("EA-4003", 1))),
            DemoOrder("40002", S, 3, (("EA-4004", 1),), "SF1040002001"),
            DemoOrder("40003", D, 45, (("SH-2001", 1),), "SF1040003001"),
        ),
    ),
    DemoCustomer(
        demo_name="fatima",
        name="فاطمة الزهراء",
        email="fatima.alzahra@example.com",
        phone="+971501234567",
        language="ar",
        preferred_channel=REST,
        marketing_consent=True,
        carrier="Aramex",
        address="Sheikh Zayed Road 101, Dubai, الإمارات العربية المتحدة",
        orders=(
            DemoOrder("50001", P, 2, (("HO-3001", 2),)),
            DemoOrder("50002", S, 7, (("CL-1003", 1),), "ARX50002001"),
            DemoOrder(
                "50003", D, 25, (("SP-5001", 1), ("SP-5002", 1)), "ARX50003001",
                RefundStatus.ISSUED,
            ),
        ),
    ),
    DemoCustomer(
        demo_name="emma",
        name="Emma Wilson",
        email="emma.wilson@example.com",
        phone="+447700900123",
        language="en",
        preferred_channel=REST,
        marketing_consent=False,
        carrier="Royal Mail",
        address="221 Baker Street, London NW1 6XE, United Kingdom",
        orders=(
            DemoOrder("60001", P, 0, (("SP-5004", 1), ("SP-5002", 1))),
            DemoOrder("60002", S, 2, (("SH-2004", 1), ("CL-1004", 3)), "RM600020001GB"),
            DemoOrder("60003", D, 14, (("HO-3003", 3),), "RM600030001GB"),
        ),
    ),
    DemoCustomer(
        demo_name="carlos",
        name="Carlos Ruiz",
        email="carlos.ruiz@example.com",
        phone="+34698765432",
        language="es",
        preferred_channel=REST,
        marketing_consent=False,
        carrier="SEUR",
        address="Avinguda Diagonal 640, 08017 Barcelona, España",
        orders=(
            DemoOrder("70001", S, 3, (("EA-4001", 1), ("EA-4003", 1)), "SEUR4471070001"),
            DemoOrder("70002", D, 40, (("SP-5003", 2),), "SEUR4471070002"),
        ),
    ),
    DemoCustomer(
        demo_name="oliver",
        name="Oliver Brown",
        email="oliver.brown@example.com",
        phone="+447700900456",
        language="en",
        preferred_channel=REST,
        marketing_consent=True,
        carrier="Royal Mail",
        address="14 Deansgate, Manchester M3 2BW, United Kingdom",
        orders=(
            DemoOrder("80001", D, 60, (("CL-1001", 1), ("SH-2002", 1)), "RM800010001GB"),
            DemoOrder("80002", C, 20, (("HO-3002", 1),), refund=RefundStatus.ISSUED),
        ),
    ),
)

# Delivery dates: past for delivered orders, expected for open ones.
DELIVERED_AFTER_DAYS = 4
ARRIVES_IN_DAYS = {OrderStatus.PROCESSING: 5, OrderStatus.SHIPPED: 2}
# Pending refunds are expected this many days ahead; issued ones arrived this many days ago.
REFUND_DAYS = 7
# Customers signed up this long before the reference day, one day apart.
SIGNUP_DAYS_AGO = 400
SEEDED_TABLES = (Customer, ChannelIdentity, Preference, Product, Order, OrderItem, Refund)


def add_demo_data(session: Session, today: dt.date) -> None:
    """Add every demo row for reference day `today` to an empty, migrated store.

    Ids come from the database (so PostgreSQL's sequences stay in step); on an empty
    store they are the same on every run because rows are added in a fixed order.
    """
    session.add_all(
        Product(sku=sku, name=name, category=category, price_cents=price)
        for sku, name, category, price in PRODUCTS
    )
    for signup_order, demo in enumerate(CUSTOMERS):
        customer = _add_customer(session, demo, today, signup_order)
        for order in demo.orders:
            _add_order(session, customer.id, demo, order, today)


def _at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.timezone.utc)


def _add_customer(
    session: Session, demo: DemoCustomer, today: dt.date, signup_order: int
) -> Customer:
    created = _at(today - dt.timedelta(days=SIGNUP_DAYS_AGO - signup_order))
    customer = Customer(name=demo.name, email=demo.email, phone=demo.phone, created_at=created)
    session.add(customer)
    session.flush()
    session.add(ChannelIdentity(channel=WEB, sender_id=demo_sender(demo.demo_name), customer_id=customer.id))
    session.add(
        Preference(
            customer_id=customer.id,
            language=demo.language,
            preferred_channel=demo.preferred_channel,
            marketing_consent=demo.marketing_consent,
            updated_at=created,
        )
    )
    return customer


def _add_order(
    session: Session, customer_id: int, demo: DemoCustomer, order: DemoOrder, today: dt.date
) -> None:
    placed = today - dt.timedelta(days=order.days_ago)
    total = sum(PRICES[sku] * quantity for sku, quantity in order.items)
    row = Order(
        number=order.number,
        customer_id=customer_id,
        status=order.status.value,
        carrier=demo.carrier if order.tracking_number else None,
        tracking_number=order.tracking_number,
        placed_at=_at(placed, hour=9 + int(order.number) % 8),
        delivery_date=_delivery_date(order.status, placed, today),
        total_cents=total,
        currency=CURRENCY,
        shipping_address=demo.address,
    )
    session.add(row)
    session.flush()
    session.add_all(
        OrderItem(order_id=row.id, sku=sku, quantity=quantity, price_cents=PRICES[sku])
        for sku, quantity in order.items
    )
    if order.refund is not None:
        days = REFUND_DAYS if order.refund is RefundStatus.PENDING else -REFUND_DAYS
        session.add(
            Refund(
                order_id=row.id,
                amount_cents=total,
                status=order.refund.value,
                expected_date=today + dt.timedelta(days=days),
            )
        )


def _delivery_date(status: OrderStatus, placed: dt.date, today: dt.date) -> Optional[dt.date]:
    if status is OrderStatus.DELIVERED:
        return placed + dt.timedelta(days=DELIVERED_AFTER_DAYS)
    if status in ARRIVES_IN_DAYS:
        return today + dt.timedelta(days=ARRIVES_IN_DAYS[status])
    return None


def reset(url: Optional[str] = None, today: Optional[dt.date] = None) -> Dict[str, int]:
    """Drop the store's tables at `url`, migrate to head, seed; returns rows per table."""
    engine = make_engine(url)
    try:
        with translated_errors(engine.url):
            _drop_store_tables(engine)
            upgrade(url)
            with Session(engine, future=True) as session, session.begin():
                add_demo_data(session, today or dt.date.today())
            with Session(engine, future=True) as session:
                return _counts(session, SEEDED_TABLES)
    finally:
        engine.dispose()


def _drop_store_tables(engine: Engine) -> None:
    """Only our tables (and our alembic version table): the database may be shared."""
    Base.metadata.drop_all(engine)
    Table(VERSION_TABLE, MetaData()).drop(engine, checkfirst=True)


def _counts(session: Session, models: Sequence[type]) -> Dict[str, int]:
    return {
        model.__tablename__: session.execute(select(func.count()).select_from(model)).scalar_one()
        for model in models
    }


def main(argv: Optional[List[str]] = None) -> None:
    """CLI: reset and seed, then print what was done."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: $CS_STORE_URL or var/store.db)")
    parser.add_argument(
        "--today", type=dt.date.fromisoformat, help="reference day, YYYY-MM-DD (default: today)"
    )
    parser.add_argument(
        "--if-empty", action="store_true",
        help="keep an existing store (only apply new migrations); seed only a new one",
    )
    args = parser.parse_args(argv)
    where = make_url(args.url or default_url()).render_as_string(hide_password=True)
    try:
        if args.if_empty and current_revision(args.url) is not None:
            upgrade(args.url)
            print(f"Store at {where}: kept its data, schema at revision {current_revision(args.url)}.")
            return
        counts = reset(args.url, args.today)
    except StoreError as error:
        raise SystemExit(f"error: {error}") from None
    print(
        f"Reset the store at {where}: dropped its tables, migrated to "
        f"revision {current_revision(args.url)}, and seeded:"
    )
    for table, count in counts.items():
        print(f"  {count:3d} {table}")


if __name__ == "__main__":
    main()
