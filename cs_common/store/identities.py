"""Who a sender is: channel identities, guests, and the one-time codes that link a sender to a customer.

Identities are keyed by (channel, namespaced sender id), so a web sender can never be the SMS
customer whose number it copies. A code goes only to the customer's own email or phone, and
every limit below is counted in the database, so all workers share it.
"""
import datetime as dt
import hashlib
import hmac
import os
import secrets
from typing import Any, Optional, Tuple

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cs_common.store.consent import opted_out
from cs_common.store.models import ChannelIdentity, Customer, LinkCode, utcnow
from cs_common.store.transactions import BULK, Transactions, dialect_insert
from cs_common.store.views import (
    CodeWithheld,
    Contact,
    ContactKind,
    CustomerView,
    LinkCodeIssue,
    LinkRequestResult,
    LinkVerification,
    LinkVerifyResult,
)

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


class Identities:
    """Channel identities and link codes."""

    def __init__(self, transactions: Transactions, link_codes_per_hour: Optional[int] = None) -> None:
        self._transactions = transactions
        self._link_codes_per_hour = link_codes_per_hour or _codes_per_hour_from_env()

    def customer_for_identity(self, channel: str, sender_id: str) -> Optional[CustomerView]:
        """Who is talking on `channel` as `sender_id`, if we know them."""
        with self._transactions.read() as session:
            customer = identity_customer(session, channel, sender_id)
            return customer_view(customer) if customer else None

    def link_identity(self, customer_id: int, channel: str, sender_id: str) -> None:
        """Make (`channel`, `sender_id`) mean `customer_id`, e.g. once a guest verified.

        An identity already linked elsewhere moves; the old (guest) customer keeps its rows.
        """
        with self._transactions.write(customer_id) as session:
            _link(session, customer_id, channel, sender_id)

    def get_or_create_guest(self, channel: str, sender_id: str) -> CustomerView:
        """The customer behind this sender, creating a nameless guest on first contact.

        Safe when two workers see the same new sender at once: one guest wins.
        """
        with self._transactions.write() as session:
            known = identity_customer(session, channel, sender_id)
            if known:
                return customer_view(known)
            guest = Customer()
            session.add(guest)
            session.flush()
            linked = session.execute(
                dialect_insert(session, ChannelIdentity)
                .values(channel=channel, sender_id=sender_id, customer_id=guest.id)
                .on_conflict_do_nothing(index_elements=["channel", "sender_id"])
            )
            if linked.rowcount:
                return customer_view(guest)
            session.delete(guest)  # another worker linked this sender first
            return customer_view(identity_customer(session, channel, sender_id))

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
        with self._transactions.write() as session:
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
                execution_options=BULK,
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
            return LinkCodeIssue(LinkRequestResult.ISSUED, code, customer_view(customer))

    def verify_link_code(self, channel: str, sender_id: str, code: str) -> LinkVerification:
        """Checks `code` against the sender's live code; a match links the sender to its customer.

        Each guess counts (the row is locked first), so at most `LINK_CODE_MAX_ATTEMPTS`
        guesses are ever compared; a matched code is used up.
        """
        now = utcnow()
        with self._transactions.write() as session:
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
            return LinkVerification(LinkVerifyResult.LINKED, customer_view(customer))


def identity_customer(session: Session, channel: str, sender_id: str) -> Optional[Customer]:
    return session.execute(
        select(Customer)
        .join(ChannelIdentity, ChannelIdentity.customer_id == Customer.id)
        .where(ChannelIdentity.channel == channel, ChannelIdentity.sender_id == sender_id)
    ).scalar_one_or_none()


def customer_view(customer: Customer) -> CustomerView:
    return CustomerView(
        id=customer.id,
        name=customer.name,
        email=customer.email,
        phone=customer.phone,
        created_at=customer.created_at,
    )


def _link(session: Session, customer_id: int, channel: str, sender_id: str) -> None:
    """Upsert the identity so it points at `customer_id`."""
    insert = dialect_insert(session, ChannelIdentity).values(
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
    if contact.kind is ContactKind.PHONE and opted_out(session, contact.value):
        return None, CodeWithheld.SMS_OPT_OUT
    if _codes_since(session, now - LINK_CODE_TARGET_WINDOW, LinkCode.customer_id == customer.id) >= LINK_CODES_PER_TARGET:
        return None, CodeWithheld.TARGET_LIMIT
    return customer, None


def _codes_since(session: Session, since: dt.datetime, *conditions: Any) -> int:
    """How many link codes matching `conditions` were issued after `since`."""
    query = select(func.count(LinkCode.id)).where(LinkCode.created_at > since, *conditions)
    return session.execute(query).scalar_one()


def _codes_per_hour_from_env() -> int:
    value = os.environ.get(LINK_CODES_PER_HOUR_ENV, "")
    if not value:
        return DEFAULT_LINK_CODES_PER_HOUR
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{LINK_CODES_PER_HOUR_ENV} must be a whole number of at least 1, not {value!r}.")
    return int(value)


def _code_hash(salt: str, code: str) -> str:
    return hmac.new(bytes.fromhex(salt), code.encode("utf-8"), hashlib.sha256).hexdigest()
