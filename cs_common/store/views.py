"""What the store hands to actions: frozen, ORM-free values.

Actions never see ORM objects, so nothing lazy-loads after its session closed and nothing
an action does can write to the database by accident.
"""
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import NamedTuple, Optional, Tuple


class OrderStatus(str, Enum):
    PROCESSING = "processing"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


OPEN_ORDER_STATUSES = (OrderStatus.PROCESSING, OrderStatus.SHIPPED)


class RefundStatus(str, Enum):
    PENDING = "pending"
    ISSUED = "issued"


class TicketStatus(str, Enum):
    OPEN = "open"
    CLOSED = "closed"


class CancelResult(Enum):
    """Outcome of `Store.cancel_order`; each maps to one bot response."""

    CANCELLED = "cancelled"
    ALREADY_SHIPPED = "already_shipped"
    ALREADY_CANCELLED = "already_cancelled"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class CustomerView:
    id: int
    name: Optional[str]
    email: Optional[str]
    phone: Optional[str]
    created_at: dt.datetime

    @property
    def is_guest(self) -> bool:
        """Guests have no email yet, so order look-ups must verify one first."""
        return self.email is None


@dataclass(frozen=True)
class OrderItemView:
    sku: str
    name: str
    quantity: int
    price: Decimal


@dataclass(frozen=True)
class OrderView:
    number: str
    status: OrderStatus
    carrier: Optional[str]
    tracking_number: Optional[str]
    placed_at: dt.datetime
    delivery_date: Optional[dt.date]
    total: Decimal
    currency: str
    shipping_address: str
    items: Tuple[OrderItemView, ...]


@dataclass(frozen=True)
class RefundView:
    order_number: str
    amount: Decimal
    currency: str
    status: RefundStatus
    expected_date: Optional[dt.date]


@dataclass(frozen=True)
class PreferenceView:
    language: Optional[str]
    preferred_channel: Optional[str]
    marketing_consent: bool
    updated_at: Optional[dt.datetime]


@dataclass(frozen=True)
class InteractionView:
    at: dt.datetime
    channel: str
    intent: str
    language: Optional[str]


@dataclass(frozen=True)
class ProductView:
    sku: str
    name: str
    category: str
    price: Decimal


class Purchase(NamedTuple):
    """One product a customer bought; a tuple so callers can unpack it."""

    sku: str
    name: str
    category: str
    placed_at: dt.datetime


@dataclass(frozen=True)
class TicketView:
    """A handoff ticket as the agent side sees it."""

    id: int
    customer_id: int
    sender_id: str
    channel: str
    reason: str
    transcript: str
    status: TicketStatus
    created_at: dt.datetime


class ContactKind(str, Enum):
    EMAIL = "email"
    PHONE = "phone"


@dataclass(frozen=True)
class Contact:
    """An email address (lower-case) or phone number (+ and digits) a customer gave us."""

    kind: ContactKind
    value: str


class LinkRequestResult(Enum):
    """Outcome of `Store.issue_link_code`."""

    ISSUED = "issued"
    RATE_LIMITED = "rate_limited"


class CodeWithheld(Enum):
    """Why `Store.issue_link_code` sent no code (for the log, never for the answer)."""

    SENDER_LIMIT = "sender_limit"
    HOURLY_CAP = "hourly_cap"
    TARGET_LIMIT = "target_limit"
    SMS_OPT_OUT = "sms_opt_out"


@dataclass(frozen=True)
class LinkCodeIssue:
    """What `Store.issue_link_code` did. `code` (plain, shown once) and `customer` are set
    only when a code must be delivered; the caller answers the same way either way, except
    when `result` is RATE_LIMITED (a limit on the sender or on everyone, never on the
    contact)."""

    result: LinkRequestResult
    code: Optional[str] = None
    customer: Optional[CustomerView] = None
    withheld: Optional[CodeWithheld] = None


class LinkVerifyResult(Enum):
    """Outcome of `Store.verify_link_code`."""

    LINKED = "linked"
    WRONG_CODE = "wrong_code"
    NO_VALID_CODE = "no_valid_code"  # none asked for, expired, used, or too many attempts


@dataclass(frozen=True)
class LinkVerification:
    result: LinkVerifyResult
    customer: Optional[CustomerView] = None
