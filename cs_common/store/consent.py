"""Messaging consent: phone numbers that texted STOP get no SMS (codes included) until START."""
from sqlalchemy.orm import Session

from cs_common.store.models import SmsOptOut, utcnow
from cs_common.store.transactions import Transactions, dialect_insert


class Consent:
    """SMS opt-outs, keyed by phone number (E.164)."""

    def __init__(self, transactions: Transactions) -> None:
        self._transactions = transactions

    def set_sms_opt_out(self, phone: str, opted_out: bool) -> None:
        """Record that `phone` texted STOP (True) or START (False)."""
        values = {"opted_out": opted_out, "updated_at": utcnow()}
        with self._transactions.write() as session:
            insert = dialect_insert(session, SmsOptOut).values(phone=phone, **values)
            session.execute(insert.on_conflict_do_update(index_elements=["phone"], set_=values))

    def is_sms_opted_out(self, phone: str) -> bool:
        """Whether nothing may be sent to `phone`; a number never seen has not opted out."""
        with self._transactions.read() as session:
            return opted_out(session, phone)


def opted_out(session: Session, phone: str) -> bool:
    row = session.get(SmsOptOut, phone)
    return bool(row and row.opted_out)
