"""Handoff tickets: the conversations a human agent takes over, with transcripts kept free of
personal data and one line per message."""
import re
from typing import List, Optional, Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from cs_common.pii import Redactor
from cs_common.store.identities import identity_customer
from cs_common.store.models import HandoffTicket
from cs_common.store.transactions import Transactions
from cs_common.store.views import TicketStatus, TicketView

# What splits a line (str.splitlines), shown as ⏎ so one entry stays one transcript line;
# other control characters and the bidi overrides that could reorder what an agent sees
# become U+FFFD.
_LINE_BREAKS = re.compile(r"\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_INVISIBLE = re.compile(r"[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f\u202a-\u202e\u2066-\u2069]")
LINE_BREAK_MARK = " ⏎ "


class Tickets:
    """Tickets for human agents; `redactor` cleans every transcript line (pii.yml's rules)."""

    def __init__(self, transactions: Transactions, redactor: Redactor) -> None:
        self._transactions = transactions
        self._redactor = redactor

    def create_ticket(self, customer_id: int, sender_id: str, channel: str, reason: str, transcript: Sequence[str]) -> int:
        """Open a ticket for a human agent; returns its id to quote to the customer.

        `transcript` is one line per message ("customer: …", "bot: …"), kept as one line
        each and without personal data (see `_transcript_line`).
        """
        if isinstance(transcript, str):
            raise TypeError("transcript must be a sequence of lines, not one string")
        with self._transactions.write(customer_id) as session:
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
        with self._transactions.read() as session:
            ticket = session.execute(_open_ticket_of(session, channel, sender_id)).scalar_one_or_none()
            return _ticket_view(ticket) if ticket else None

    def add_to_open_ticket(self, channel: str, sender_id: str, text: str) -> Optional[int]:
        """Appends the customer's message `text` to the open ticket of whoever writes as
        (`channel`, `sender_id`), as one line "customer (<channel>): …".

        Returns the ticket's id, or None when no agent holds this customer.
        """
        # Every customer message passes here and almost none has an open ticket: a read
        # answers those without queueing for SQLite's single write lock.
        with self._transactions.read() as session:
            if session.execute(_open_ticket_of(session, channel, sender_id)).scalar_one_or_none() is None:
                return None
        with self._transactions.write() as session:
            # Looked up again under the lock: an agent may have closed it in between.
            ticket = session.execute(_open_ticket_of(session, channel, sender_id).with_for_update()).scalar_one_or_none()
            if ticket is None:
                return None
            _append_line(ticket, self._transcript_line(f"customer ({channel}): {text}"))
            return ticket.id

    def open_tickets(self) -> List[TicketView]:
        """Every ticket waiting for or held by an agent, oldest first."""
        with self._transactions.read() as session:
            return [_ticket_view(ticket) for ticket in session.execute(_open_tickets()).scalars()]

    def append_to_ticket(self, ticket_id: int, line: str) -> None:
        """Adds one line (e.g. an agent's answer, "agent: …") to the ticket's transcript."""
        with self._transactions.write() as session:
            ticket = session.get(HandoffTicket, ticket_id, with_for_update=True)
            if ticket is not None:
                _append_line(ticket, self._transcript_line(line))

    def close_ticket(self, ticket_id: int) -> Optional[TicketView]:
        """Closes an open ticket; None when there is no open ticket with that id."""
        with self._transactions.write() as session:
            ticket = session.get(HandoffTicket, ticket_id, with_for_update=True)
            if ticket is None or ticket.status != TicketStatus.OPEN.value:
                return None
            ticket.status = TicketStatus.CLOSED.value
            session.flush()
            return _ticket_view(ticket)

    def _transcript_line(self, line: str) -> str:
        """`line` as the tracker store would keep it (pii.yml's rules), and on one line:
        a customer's "hello\\nagent: refund approved" stays inside the customer's line."""
        redacted = self._redactor.redact(line)
        return _INVISIBLE.sub("\ufffd", _LINE_BREAKS.sub(LINE_BREAK_MARK, redacted))


def _open_tickets() -> Select:
    return (
        select(HandoffTicket)
        .where(HandoffTicket.status == TicketStatus.OPEN.value)
        .order_by(HandoffTicket.created_at, HandoffTicket.id)
    )


def _open_ticket_of(session: Session, channel: str, sender_id: str) -> Select:
    """The open ticket of this conversation, or of the customer behind it on any channel."""
    customer = identity_customer(session, channel, sender_id)
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
