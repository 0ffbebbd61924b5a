"""`Store`: every read and write the bot's actions make, one short transaction each.

Each method opens its own Session, commits or rolls back before returning, and returns
frozen views (`views.py`), never ORM objects. Look-ups by order number always include the
customer, so one customer's order is never shown to another.

The methods are synchronous; from an async rasa_sdk action call them through
`asyncio.to_thread` (or the action server's executor) so a slow query does not stall
other conversations.
"""
import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
from contextlib import contextmanager
from dataclasses import asdict
from decimal import Decimal
from enum import Enum
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql import Select

from cs_common.pii import PiiRules, Redactor

from cs_common.store.engine import SQLITE_IMMEDIATE, default_url, make_engine
from cs_common.store.errors import UnknownCustomerError, translated_errors
from cs_common.store.models import (
    ChannelIdentity,
    Customer,
    HandoffTicket,
    Interaction,
    LinkCode,
    Order,
    OrderItem,
    Preference,
    Product,
    Refund,
    SmsOptOut,
    utcnow,
)
from cs_common.store.views import (
    OPEN_ORDER_STATUSES,
    CancelResult,
    CodeWithheld,
    Contact,
    ContactKind,
    CustomerView,
    InteractionView,
    LinkCodeIssue,
    LinkRequestResult,
    LinkVerification,
    LinkVerifyResult,
    OrderItemView,
    OrderStatus,
    OrderView,
    PreferenceView,
    ProductView,
    Purchase,
    RefundStatus,
    RefundView,
    TicketStatus,
    TicketView,
)

# How long the payment provider takes to return money for a cancelled order.
REFUND_EXPECTED_DAYS = 7
DEFAULT_HISTORY_LIMIT = 20
DEFAULT_POPULAR_LIMIT = 5

# One-time link codes: how long one lives, how many guesses it allows, how many a sender
# may ask for per hour, how many one customer is sent per quarter hour (short, so that a
# stranger asking for her codes locks her out for minutes only), and how many are sent
# per hour overall (the SMS and mail bill; `CS_LINK_CODES_PER_HOUR`).
LINK_CODE_DIGITS = 6
LINK_CODE_TTL = dt.timedelta(minutes=10)
LINK_CODE_MAX_ATTEMPTS = 5
LINK_CODE_WINDOW = dt.timedelta(hours=1)
LINK_CODES_PER_SENDER = 3
LINK_CODE_TARGET_WINDOW = dt.timedelta(minutes=15)
LINK_CODES_PER_TARGET = 3
LINK_CODES_PER_HOUR_ENV = "CS_LINK_CODES_PER_HOUR"
DEFAULT_LINK_CODES_PER_HOUR = 200

# What splits a line (str.splitlines), shown as ⏎ so one entry stays one transcript line;
# other control characters and the bidi overrides that could reorder what an agent sees
# become U+FFFD.
_LINE_BREAKS = re.compile(r"\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_INVISIBLE = re.compile(r"[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f\u202a-\u202e\u2066-\u2069]")
LINE_BREAK_MARK = " ⏎ "

_REFUSED_CANCELLATIONS = {
    OrderStatus.SHIPPED.value: CancelResult.ALREADY_SHIPPED,
    OrderStatus.DELIVERED.value: CancelResult.ALREADY_SHIPPED,
    OrderStatus.CANCELLED.value: CancelResult.ALREADY_CANCELLED,
}
# Bulk deletes run in a fresh session: there are no loaded objects to keep in sync.
_BULK = {"synchronize_session": False}
_DIALECT_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
_NO_PREFERENCES = PreferenceView(
    language=None, preferred_channel=None, marketing_consent=False, updated_at=None
)


class Store:
    """The personalisation and order store; `Store.from_env()` in actions."""

    def __init__(
        self,
        url: Optional[str] = None,
        redactor: Optional[Redactor] = None,
        link_codes_per_hour: Optional[int] = None,
    ) -> None:
        """`redactor` cleans ticket transcripts (default: the tracker store's rules, pii.yml)."""
        self._engine = make_engine(url)
        self._redactor = redactor or Redactor(PiiRules.from_file())
        self._link_codes_per_hour = link_codes_per_hour or _codes_per_hour_from_env()

    @classmethod
    def from_env(cls) -> "Store":
        """The store that `CS_STORE_URL` / `CS_DATA_DIR` point to."""
        return cls(default_url())

    def close(self) -> None:
        """Release pooled connections (tests, shutdown)."""
        self._engine.dispose()

    # -- identities -------------------------------------------------------------------

    def customer_for_identity(self, channel: str, sender_id: str) -> Optional[CustomerView]:
        """Who is talking on `channel` as `sender_id`, if we know them."""
        with self._read() as session:
            customer = _identity_customer(session, channel, sender_id)
            return _customer_view(customer) if customer else None

    def link_identity(self, customer_id: int, channel: str, sender_id: str) -> None:
        """Make (`channel`, `sender_id`) mean `customer_id`, e.g. once a guest verified.

        An identity already linked elsewhere moves; the old (guest) customer keeps its rows.
        """
        with self._write(customer_id) as session:
            _link(session, customer_id, channel, sender_id)

    def issue_link_code(self, channel: str, sender_id: str, contact: Contact) -> LinkCodeIssue:
        """A new one-time code for linking (`channel`, `sender_id`) to the owner of `contact`.

        The code replaces the sender's earlier ones. Whether `contact` matches a customer
        only shows in the returned `code` (set when there is someone to send it to): a
        sender over its limit, or any sender once the hourly cap on sent codes is reached,
        is refused either way. No code goes to a phone number that opted out of SMS, nor
        to a customer already sent `LINK_CODES_PER_TARGET` codes this quarter hour;
        `withheld` says why, for the log only.
        """
        now = utcnow()
        with self._write() as session:
            asked = _codes_since(session, now - LINK_CODE_WINDOW, LinkCode.channel == channel, LinkCode.sender_id == sender_id)
            if asked >= LINK_CODES_PER_SENDER:
                return LinkCodeIssue(LinkRequestResult.RATE_LIMITED, withheld=CodeWithheld.SENDER_LIMIT)
            if _codes_since(session, now - LINK_CODE_WINDOW, LinkCode.customer_id.is_not(None)) >= self._link_codes_per_hour:
                return LinkCodeIssue(LinkRequestResult.RATE_LIMITED, withheld=CodeWithheld.HOURLY_CAP)
            customer, withheld = _code_recipient(session, contact, now)
            session.execute(
                update(LinkCode)
                .where(
                    LinkCode.channel == channel,
                    LinkCode.sender_id == sender_id,
                    LinkCode.used_at.is_(None),
                )
                .values(used_at=now),
                execution_options=_BULK,
            )
            code = f"{secrets.randbelow(10 ** LINK_CODE_DIGITS):0{LINK_CODE_DIGITS}d}"
            salt = secrets.token_hex(16)
            session.add(
                LinkCode(
                    channel=channel,
                    sender_id=sender_id,
                    customer_id=customer.id if customer else None,
                    code_hash=_code_hash(salt, code),
                    salt=salt,
                    created_at=now,
                    expires_at=now + LINK_CODE_TTL,
                    attempts=0,
                )
            )
            if customer is None:
                return LinkCodeIssue(LinkRequestResult.ISSUED, withheld=withheld)
            return LinkCodeIssue(LinkRequestResult.ISSUED, code, _customer_view(customer))

    def verify_link_code(self, channel: str, sender_id: str, code: str) -> LinkVerification:
        """Checks `code` against the sender's live code; a match links the sender to its customer.

        Each guess counts (the row is locked first), so at most `LINK_CODE_MAX_ATTEMPTS`
        guesses are ever compared; a matched code is used up.
        """
        now = utcnow()
        with self._write() as session:
            row = session.execute(
                select(LinkCode)
                .where(
                    LinkCode.channel == channel,
                    LinkCode.sender_id == sender_id,
                    LinkCode.used_at.is_(None),
                )
                .order_by(LinkCode.id.desc())
                .limit(1)
                .with_for_update()
            ).scalar_one_or_none()
            if row is None or row.expires_at <= now or row.attempts >= LINK_CODE_MAX_ATTEMPTS:
                return LinkVerification(LinkVerifyResult.NO_VALID_CODE)
            row.attempts += 1
            matches = hmac.compare_digest(row.code_hash, _code_hash(row.salt, code))
            if row.customer_id is None or not matches:
                return LinkVerification(LinkVerifyResult.WRONG_CODE)
            row.used_at = now
            _link(session, row.customer_id, channel, sender_id)
            customer = session.get(Customer, row.customer_id)
            return LinkVerification(LinkVerifyResult.LINKED, _customer_view(customer))

    def get_or_create_guest(self, channel: str, sender_id: str) -> CustomerView:
        """The customer behind this sender, creating a nameless guest on first contact.

        Safe when two workers see the same new sender at once: one guest wins.
        """
        with self._write() as session:
            known = _identity_customer(session, channel, sender_id)
            if known:
                return _customer_view(known)
            guest = Customer()
            session.add(guest)
            session.flush()
            linked = session.execute(
                _insert(session, ChannelIdentity)
                .values(channel=channel, sender_id=sender_id, customer_id=guest.id)
                .on_conflict_do_nothing(index_elements=["channel", "sender_id"])
            )
            if linked.rowcount:
                return _customer_view(guest)
            session.delete(guest)  # another worker linked this sender first
            return _customer_view(_identity_customer(session, channel, sender_id))

    # -- orders ---------------------------------------------------------------------

    def order_for_customer(self, customer_id: int, number: str) -> Optional[OrderView]:
        """The order `number` if it belongs to `customer_id`; None otherwise, never a leak."""
        with self._read() as session:
            orders = _orders(
                session,
                _order_query().where(Order.customer_id == customer_id, Order.number == number),
            )
            return orders[0] if orders else None

    def order_by_number_and_email(self, number: str, email: str) -> Optional[OrderView]:
        """The order `number` if its customer's email is `email` (guest verification)."""
        return self.order_by_number_and_contact(number, Contact(ContactKind.EMAIL, email.strip().lower()))

    def order_by_number_and_contact(self, number: str, contact: Contact) -> Optional[OrderView]:
        """The order `number` if its customer's email or phone is `contact` (a guest's look-up).

        One query whether or not the number exists, so neither the answer nor its timing
        tells a guest which order numbers are real.
        """
        if not contact.value:
            return None
        column = Customer.email if contact.kind is ContactKind.EMAIL else Customer.phone
        query = (
            _order_query()
            .join(Customer, Customer.id == Order.customer_id)
            .where(Order.number == number, func.lower(column) == contact.value)
        )
        with self._read() as session:
            orders = _orders(session, query)
            return orders[0] if orders else None

    def latest_order(self, customer_id: int) -> Optional[OrderView]:
        """The customer's most recently placed order, whatever its status."""
        query = _order_query().where(Order.customer_id == customer_id).limit(1)
        with self._read() as session:
            orders = _orders(session, query)
            return orders[0] if orders else None

    def open_orders(self, customer_id: int) -> List[OrderView]:
        """Orders still on their way (processing or shipped), newest first."""
        statuses = [status.value for status in OPEN_ORDER_STATUSES]
        query = _order_query().where(
            Order.customer_id == customer_id, Order.status.in_(statuses)
        )
        with self._read() as session:
            return _orders(session, query)

    def orders_with_refund(self, customer_id: int) -> List[OrderView]:
        """The customer's orders that have a refund (pending or issued), newest first."""
        query = _order_query().join(Refund, Refund.order_id == Order.id).where(Order.customer_id == customer_id)
        with self._read() as session:
            return _orders(session, query)

    def cancel_order(self, customer_id: int, number: str) -> CancelResult:
        """Cancel a processing order and open a pending refund for its total, atomically.

        The order row is locked (PostgreSQL) or the database write-locked (SQLite) first,
        so two simultaneous cancellations produce one refund.
        """
        with self._write(customer_id) as session:
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
        with self._write(customer_id) as session:
            order = _locked_order(session, customer_id, number)
            if order is None or order.status != OrderStatus.PROCESSING.value:
                return False
            order.shipping_address = address
            return True

    def refund_for_order(self, customer_id: int, number: str) -> Optional[RefundView]:
        """The refund of the customer's order `number`, if there is one."""
        with self._read() as session:
            row = session.execute(
                select(Refund, Order)
                .join(Order, Order.id == Refund.order_id)
                .where(Order.customer_id == customer_id, Order.number == number)
            ).one_or_none()
            return _refund_view(row.Refund, row.Order) if row else None

    # -- preferences and history ------------------------------------------------------

    def set_language(self, customer_id: int, language: str) -> None:
        """Remember the language to answer this customer in."""
        self._set_preference(customer_id, language=language)

    def set_marketing_consent(self, customer_id: int, consent: bool) -> None:
        """Record the customer's answer to "may we send you offers?"."""
        self._set_preference(customer_id, marketing_consent=consent)

    def preferences(self, customer_id: int) -> PreferenceView:
        """Saved preferences, or the defaults when nothing was saved."""
        with self._read() as session:
            preference = session.get(Preference, customer_id)
            return _preference_view(preference) if preference else _NO_PREFERENCES

    def record_interaction(
        self, customer_id: int, channel: str, intent: str, language: Optional[str] = None
    ) -> None:
        """Append one handled turn to the customer's history."""
        with self._write(customer_id) as session:
            session.add(
                Interaction(
                    customer_id=customer_id, channel=channel, intent=intent, language=language
                )
            )

    def history(
        self, customer_id: int, limit: int = DEFAULT_HISTORY_LIMIT
    ) -> List[InteractionView]:
        """The customer's latest interactions, newest first."""
        with self._read() as session:
            rows = session.execute(
                select(Interaction)
                .where(Interaction.customer_id == customer_id)
                .order_by(Interaction.at.desc(), Interaction.id.desc())
                .limit(limit)
            ).scalars()
            return [_interaction_view(row) for row in rows]

    def purchase_history(self, customer_id: int) -> List[Purchase]:
        """Products the customer bought (cancelled orders excluded), newest first."""
        with self._read() as session:
            rows = session.execute(
                select(Product.sku, Product.name, Product.category, Order.placed_at)
                .join(OrderItem, OrderItem.sku == Product.sku)
                .join(Order, Order.id == OrderItem.order_id)
                .where(
                    Order.customer_id == customer_id,
                    Order.status != OrderStatus.CANCELLED.value,
                )
                .order_by(Order.placed_at.desc(), Product.sku)
            )
            return [Purchase(*row) for row in rows]

    def popular_products(self, limit: int = DEFAULT_POPULAR_LIMIT) -> List[ProductView]:
        """Best sellers by units in orders that were not cancelled."""
        units = func.sum(OrderItem.quantity)
        with self._read() as session:
            rows = session.execute(
                select(Product)
                .join(OrderItem, OrderItem.sku == Product.sku)
                .join(Order, Order.id == OrderItem.order_id)
                .where(Order.status != OrderStatus.CANCELLED.value)
                .group_by(Product.sku)
                .order_by(units.desc(), Product.sku)
                .limit(limit)
            ).scalars()
            return [_product_view(product) for product in rows]

    # -- handoff --------------------------------------------------------------------

    def create_ticket(
        self, customer_id: int, sender_id: str, channel: str, reason: str, transcript: Sequence[str]
    ) -> int:
        """Open a ticket for a human agent; returns its id to quote to the customer.

        `transcript` is one line per message ("customer: …", "bot: …"), kept as one line
        each and without personal data (see `_transcript_line`).
        """
        if isinstance(transcript, str):
            raise TypeError("transcript must be a sequence of lines, not one string")
        with self._write(customer_id) as session:
            ticket = HandoffTicket(
                customer_id=customer_id,
                sender_id=sender_id,
                channel=channel,
                reason=reason,
                transcript="\n".join(self._transcript_line(line) for line in transcript),
            )
            session.add(ticket)
            session.flush()
            return ticket.id

    def open_ticket_for_identity(self, channel: str, sender_id: str) -> Optional[TicketView]:
        """The open ticket of this conversation, or of the customer behind it on any channel.

        One customer, one pause: while an agent has their ticket, none of their conversations
        gets bot replies.
        """
        with self._read() as session:
            ticket = session.execute(_open_ticket_of(session, channel, sender_id)).scalar_one_or_none()
            return _ticket_view(ticket) if ticket else None

    def add_to_open_ticket(self, channel: str, sender_id: str, text: str) -> Optional[int]:
        """Appends the customer's message `text` to the open ticket of whoever writes as
        (`channel`, `sender_id`), as one line "customer (<channel>): …".

        Returns the ticket's id, or None when no agent holds this customer.
        """
        with self._write() as session:
            ticket = session.execute(_open_ticket_of(session, channel, sender_id).with_for_update()).scalar_one_or_none()
            if ticket is None:
                return None
            _append_line(ticket, self._transcript_line(f"customer ({channel}): {text}"))
            return ticket.id

    def open_tickets(self) -> List[TicketView]:
        """Every ticket waiting for or held by an agent, oldest first."""
        with self._read() as session:
            return [_ticket_view(ticket) for ticket in session.execute(_open_tickets()).scalars()]

    def append_to_ticket(self, ticket_id: int, line: str) -> None:
        """Adds one line (e.g. an agent's answer, "agent: …") to the ticket's transcript."""
        with self._write() as session:
            ticket = session.get(HandoffTicket, ticket_id, with_for_update=True)
            if ticket is not None:
                _append_line(ticket, self._transcript_line(line))

    def close_ticket(self, ticket_id: int) -> Optional[TicketView]:
        """Closes an open ticket; None when there is no open ticket with that id."""
        with self._write() as session:
            ticket = session.get(HandoffTicket, ticket_id, with_for_update=True)
            if ticket is None or ticket.status != TicketStatus.OPEN.value:
                return None
            ticket.status = TicketStatus.CLOSED.value
            session.flush()
            return _ticket_view(ticket)

    # -- SMS opt-outs ---------------------------------------------------------------

    def set_sms_opt_out(self, phone: str, opted_out: bool) -> None:
        """Record that `phone` texted STOP (True) or START (False)."""
        values = {"opted_out": opted_out, "updated_at": utcnow()}
        with self._write() as session:
            insert = _insert(session, SmsOptOut).values(phone=phone, **values)
            session.execute(
                insert.on_conflict_do_update(index_elements=["phone"], set_=values)
            )

    def is_sms_opted_out(self, phone: str) -> bool:
        """Whether nothing may be sent to `phone`; a number never seen has not opted out."""
        with self._read() as session:
            return _opted_out(session, phone)

    # -- privacy --------------------------------------------------------------------

    def export_customer(self, customer_id: int) -> Dict[str, Any]:
        """Everything stored about the customer, JSON-serialisable (right of access)."""
        with self._read() as session:
            customer = session.get(Customer, customer_id)
            if customer is None:
                raise UnknownCustomerError(customer_id)
            return _jsonable(_export(session, customer))

    def forget_customer(self, customer_id: int) -> bool:
        """Delete the customer and every row about them (right to erasure).

        Returns False when there was nothing to forget.
        """
        with self._write(customer_id) as session:
            order_ids = select(Order.id).where(Order.customer_id == customer_id)
            statements = [
                delete(Refund).where(Refund.order_id.in_(order_ids)),
                delete(OrderItem).where(OrderItem.order_id.in_(order_ids)),
                *(
                    delete(model).where(model.customer_id == customer_id)
                    for model in (
                        Order, Interaction, HandoffTicket, Preference, ChannelIdentity, LinkCode
                    )
                ),
            ]
            for statement in statements:
                session.execute(statement, execution_options=_BULK)
            deleted = session.execute(
                delete(Customer).where(Customer.id == customer_id), execution_options=_BULK
            )
            return bool(deleted.rowcount)

    # -- sessions -------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[Session]:
        """A read-only transaction; never blocks writers (WAL / MVCC)."""
        with translated_errors(self._engine.url), self._session() as session:
            yield session

    @contextmanager
    def _write(self, customer_id: Optional[int] = None) -> Iterator[Session]:
        """A write transaction that queues for SQLite's write lock from its first statement.

        For writes about `customer_id`, a violated foreign key can only mean that the
        customer does not exist (any more).
        """
        try:
            with translated_errors(self._engine.url), self._session() as session:
                session.connection(execution_options={SQLITE_IMMEDIATE: True})
                yield session
        except IntegrityError:
            if customer_id is None:
                raise
            raise UnknownCustomerError(customer_id) from None

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """A Session inside one transaction: committed on success, rolled back on error."""
        with Session(self._engine, future=True) as session, session.begin():
            yield session

    def _transcript_line(self, line: str) -> str:
        """`line` as the tracker store would keep it (pii.yml's rules), and on one line:
        a customer's "hello\\nagent: refund approved" stays inside the customer's line."""
        redacted = self._redactor.redact(line)
        return _INVISIBLE.sub("\ufffd", _LINE_BREAKS.sub(LINE_BREAK_MARK, redacted))

    def _set_preference(self, customer_id: int, **values: Any) -> None:
        """Upsert only the given columns, so concurrent updates of others are kept."""
        values["updated_at"] = utcnow()
        with self._write(customer_id) as session:
            insert = _insert(session, Preference).values(customer_id=customer_id, **values)
            session.execute(
                insert.on_conflict_do_update(index_elements=["customer_id"], set_=values)
            )


def _insert(session: Session, model: Any) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (both backends support it)."""
    return _DIALECT_INSERTS[session.get_bind().dialect.name](model)


def _link(session: Session, customer_id: int, channel: str, sender_id: str) -> None:
    """Upsert the identity so it points at `customer_id`."""
    insert = _insert(session, ChannelIdentity).values(
        channel=channel, sender_id=sender_id, customer_id=customer_id
    )
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["channel", "sender_id"],
            set_={"customer_id": insert.excluded.customer_id},
        )
    )


def _contact_customer(session: Session, contact: Contact) -> Optional[Customer]:
    """The one customer with this email (any case) or phone number; None if none or several."""
    column = Customer.email if contact.kind is ContactKind.EMAIL else Customer.phone
    matches = session.execute(
        select(Customer).where(func.lower(column) == contact.value).limit(2)
    ).scalars().all()
    return matches[0] if len(matches) == 1 else None


def _code_recipient(
    session: Session, contact: Contact, now: dt.datetime
) -> Tuple[Optional[Customer], Optional[CodeWithheld]]:
    """Whom a code for `contact` may go to: its customer, unless the number opted out of
    SMS or the customer was sent enough codes lately; else None and the reason (None when
    nobody has this contact)."""
    customer = _contact_customer(session, contact)
    if customer is None:
        return None, None
    if contact.kind is ContactKind.PHONE and _opted_out(session, contact.value):
        return None, CodeWithheld.SMS_OPT_OUT
    if _codes_since(session, now - LINK_CODE_TARGET_WINDOW, LinkCode.customer_id == customer.id) >= LINK_CODES_PER_TARGET:
        return None, CodeWithheld.TARGET_LIMIT
    return customer, None


def _codes_since(session: Session, since: dt.datetime, *conditions: Any) -> int:
    """How many link codes matching `conditions` were issued after `since`."""
    query = select(func.count(LinkCode.id)).where(LinkCode.created_at > since, *conditions)
    return session.execute(query).scalar_one()


def _opted_out(session: Session, phone: str) -> bool:
    row = session.get(SmsOptOut, phone)
    return bool(row and row.opted_out)


def _codes_per_hour_from_env() -> int:
    value = os.environ.get(LINK_CODES_PER_HOUR_ENV, "")
    if not value:
        return DEFAULT_LINK_CODES_PER_HOUR
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{LINK_CODES_PER_HOUR_ENV} must be a whole number of at least 1, not {value!r}.")
    return int(value)


def _code_hash(salt: str, code: str) -> str:
    return hmac.new(bytes.fromhex(salt), code.encode("utf-8"), hashlib.sha256).hexdigest()


def _identity_customer(session: Session, channel: str, sender_id: str) -> Optional[Customer]:
    return session.execute(
        select(Customer)
        .join(ChannelIdentity, ChannelIdentity.customer_id == Customer.id)
        .where(ChannelIdentity.channel == channel, ChannelIdentity.sender_id == sender_id)
    ).scalar_one_or_none()


def _order_query() -> Select:
    """Orders with their items and products loaded, newest first."""
    return (
        select(Order)
        .options(selectinload(Order.items).selectinload(OrderItem.product))
        .order_by(Order.placed_at.desc(), Order.id.desc())
    )


def _open_tickets() -> Select:
    return (
        select(HandoffTicket)
        .where(HandoffTicket.status == TicketStatus.OPEN.value)
        .order_by(HandoffTicket.created_at, HandoffTicket.id)
    )


def _open_ticket_of(session: Session, channel: str, sender_id: str) -> Select:
    """The open ticket of this conversation, or of the customer behind it on any channel."""
    customer = _identity_customer(session, channel, sender_id)
    mine = HandoffTicket.sender_id == sender_id
    if customer is not None:
        mine = or_(mine, HandoffTicket.customer_id == customer.id)
    return _open_tickets().where(mine).limit(1)


def _append_line(ticket: HandoffTicket, line: str) -> None:
    ticket.transcript = f"{ticket.transcript}\n{line}" if ticket.transcript else line


def _ticket_view(ticket: HandoffTicket) -> TicketView:
    return TicketView(
        id=ticket.id,
        customer_id=ticket.customer_id,
        sender_id=ticket.sender_id,
        channel=ticket.channel,
        reason=ticket.reason,
        transcript=ticket.transcript,
        status=TicketStatus(ticket.status),
        created_at=ticket.created_at,
    )


def _orders(session: Session, query: Select) -> List[OrderView]:
    return [_order_view(order) for order in session.execute(query).scalars()]


def _locked_order(session: Session, customer_id: int, number: str) -> Optional[Order]:
    """The customer's order, row-locked for the rest of the transaction (PostgreSQL)."""
    return session.execute(
        select(Order)
        .where(Order.customer_id == customer_id, Order.number == number)
        .with_for_update()
    ).scalar_one_or_none()


def _export(session: Session, customer: Customer) -> Dict[str, Any]:
    """The export document; ORM rows become views first, so it shows what actions see."""
    customer_id = customer.id
    orders = session.execute(_order_query().where(Order.customer_id == customer_id)).scalars()
    preference = session.get(Preference, customer_id)

    def rows(model: Any) -> List[Any]:
        return session.execute(
            select(model).where(model.customer_id == customer_id)
        ).scalars().all()

    return {
        "customer": asdict(_customer_view(customer)),
        "identities": [
            {"channel": row.channel, "sender_id": row.sender_id}
            for row in rows(ChannelIdentity)
        ],
        "preferences": asdict(_preference_view(preference)) if preference else None,
        "orders": [
            {
                **asdict(_order_view(order)),
                "refund": asdict(_refund_view(order.refund, order)) if order.refund else None,
            }
            for order in orders
        ],
        "interactions": [asdict(_interaction_view(row)) for row in rows(Interaction)],
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


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def _customer_view(customer: Customer) -> CustomerView:
    return CustomerView(
        id=customer.id,
        name=customer.name,
        email=customer.email,
        phone=customer.phone,
        created_at=customer.created_at,
    )


def _order_view(order: Order) -> OrderView:
    return OrderView(
        number=order.number,
        status=OrderStatus(order.status),
        carrier=order.carrier,
        tracking_number=order.tracking_number,
        placed_at=order.placed_at,
        delivery_date=order.delivery_date,
        total=_money(order.total_cents),
        currency=order.currency,
        shipping_address=order.shipping_address,
        items=tuple(
            OrderItemView(
                sku=item.sku,
                name=item.product.name,
                quantity=item.quantity,
                price=_money(item.price_cents),
            )
            for item in order.items
        ),
    )


def _refund_view(refund: Refund, order: Order) -> RefundView:
    return RefundView(
        order_number=order.number,
        amount=_money(refund.amount_cents),
        currency=order.currency,
        status=RefundStatus(refund.status),
        expected_date=refund.expected_date,
    )


def _preference_view(preference: Preference) -> PreferenceView:
    return PreferenceView(
        language=preference.language,
        preferred_channel=preference.preferred_channel,
        marketing_consent=preference.marketing_consent,
        updated_at=preference.updated_at,
    )


def _interaction_view(interaction: Interaction) -> InteractionView:
    return InteractionView(
        at=interaction.at,
        channel=interaction.channel,
        intent=interaction.intent,
        language=interaction.language,
    )


def _product_view(product: Product) -> ProductView:
    return ProductView(
        sku=product.sku,
        name=product.name,
        category=product.category,
        price=_money(product.price_cents),
    )
