"""The store's tables, as SQLAlchemy 1.4 declarative models.

Only `repository.py`, `seed.py` and the migrations' env use these. Money is stored in
integer minor units (`*_cents`): exact on every backend, where SQLite would store a
Numeric as a float. Times are stored in UTC and always come back timezone-aware.
The migrations under `migrations/versions/` must produce exactly these tables (a test
compares them).
"""
import datetime as dt
from typing import Any, Optional

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import declarative_base, relationship
from sqlalchemy.types import TypeDecorator

from cs_common.store.views import OrderStatus, RefundStatus, TicketStatus

# Named constraints, so later migrations can drop or alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Base: Any = declarative_base(metadata=MetaData(naming_convention=NAMING_CONVENTION))


def utcnow() -> dt.datetime:
    """Now, timezone-aware, in UTC: the only clock the store uses."""
    return dt.datetime.now(dt.timezone.utc)


def values_check(column: str, enum: Any) -> str:
    """SQL for `column IN (...)` over an Enum's values."""
    return f"{column} IN ({', '.join(repr(member.value) for member in enum)})"


class UtcDateTime(TypeDecorator):
    """A timestamp that is UTC in the database and aware in Python, on every backend.

    SQLite has no time zones: a naive value there means UTC. Naive input is refused,
    because guessing its zone is how off-by-hours bugs start.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Optional[dt.datetime], dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("store timestamps must be timezone-aware")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Optional[dt.datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class Customer(Base):
    __tablename__ = "customers"

    id = Column(Integer, primary_key=True)
    name = Column(String(200))
    email = Column(String(320), index=True)
    phone = Column(String(32))
    created_at = Column(UtcDateTime, nullable=False, default=utcnow)


class ChannelIdentity(Base):
    """Who a (channel, sender id) pair is; one customer can have many."""

    __tablename__ = "channel_identities"

    channel = Column(String(32), primary_key=True)
    sender_id = Column(String(255), primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False, index=True)


class Preference(Base):
    __tablename__ = "preferences"

    customer_id = Column(Integer, ForeignKey("customers.id"), primary_key=True)
    language = Column(String(8))
    preferred_channel = Column(String(32))
    marketing_consent = Column(Boolean, nullable=False, default=False)
    updated_at = Column(UtcDateTime, nullable=False, default=utcnow)


class Product(Base):
    __tablename__ = "products"

    sku = Column(String(32), primary_key=True)
    name = Column(String(200), nullable=False)
    category = Column(String(64), nullable=False)
    price_cents = Column(Integer, nullable=False)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(values_check("status", OrderStatus), name="status"),
        CheckConstraint("length(number) = 5", name="number_length"),
    )

    id = Column(Integer, primary_key=True)
    number = Column(String(5), nullable=False, unique=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False, index=True)
    status = Column(String(16), nullable=False)
    carrier = Column(String(64))
    tracking_number = Column(String(64))
    placed_at = Column(UtcDateTime, nullable=False)
    delivery_date = Column(Date)
    total_cents = Column(Integer, nullable=False)
    currency = Column(String(3), nullable=False)
    shipping_address = Column(Text, nullable=False)

    items = relationship("OrderItem", order_by="OrderItem.id")
    refund = relationship("Refund", uselist=False)


class OrderItem(Base):
    __tablename__ = "order_items"

    id = Column(Integer, primary_key=True)
    order_id = Column(Integer, ForeignKey("orders.id"), nullable=False, index=True)
    sku = Column(String(32), ForeignKey("products.sku"), nullable=False, index=True)
    quantity = Column(Integer, nullable=False)
    price_cents = Column(Integer, nullable=False)

    product = relationship("Product")


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint(values_check("status", RefundStatus), name="status"),)

    id = Column(Integer, primary_key=True)
    order_id = Column(Integer, ForeignKey("orders.id"), nullable=False, unique=True)
    amount_cents = Column(Integer, nullable=False)
    status = Column(String(16), nullable=False)
    expected_date = Column(Date)


class Interaction(Base):
    """Append-only: one row per handled turn, never updated."""

    __tablename__ = "interactions"
    __table_args__ = (Index("ix_interactions_customer_id_at", "customer_id", "at"),)

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False)
    at = Column(UtcDateTime, nullable=False, default=utcnow)
    channel = Column(String(32), nullable=False)
    intent = Column(String(64), nullable=False)
    language = Column(String(8))


class HandoffTicket(Base):
    __tablename__ = "handoff_tickets"
    __table_args__ = (CheckConstraint(values_check("status", TicketStatus), name="status"),)

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False, index=True)
    sender_id = Column(String(255), nullable=False)
    channel = Column(String(32), nullable=False)
    reason = Column(String(255), nullable=False)
    transcript = Column(Text, nullable=False)
    status = Column(String(8), nullable=False, default=TicketStatus.OPEN.value)
    created_at = Column(UtcDateTime, nullable=False, default=utcnow)


class SmsOptOut(Base):
    """Phone numbers that texted STOP; kept after START too, as the record of consent."""

    __tablename__ = "sms_opt_outs"

    phone = Column(String(32), primary_key=True)
    opted_out = Column(Boolean, nullable=False)
    updated_at = Column(UtcDateTime, nullable=False, default=utcnow)


class LinkCode(Base):
    """A one-time code that proves a sender on a new channel is an existing customer.

    Only a salted HMAC of the code is kept. `customer_id` is empty when the email or phone
    given matched nobody: the row still counts towards the sender's rate limit, so asking
    for codes behaves the same whether or not an account exists.
    """

    __tablename__ = "link_codes"
    __table_args__ = (Index("ix_link_codes_channel_sender_id", "channel", "sender_id"),)

    id = Column(Integer, primary_key=True)
    channel = Column(String(32), nullable=False)
    sender_id = Column(String(255), nullable=False)
    customer_id = Column(Integer, ForeignKey("customers.id"), index=True)
    code_hash = Column(String(64), nullable=False)
    salt = Column(String(32), nullable=False)
    created_at = Column(UtcDateTime, nullable=False, default=utcnow, index=True)  # the limits count by it
    expires_at = Column(UtcDateTime, nullable=False)
    attempts = Column(Integer, nullable=False, default=0)
    used_at = Column(UtcDateTime)
