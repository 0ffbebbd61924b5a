"""`Store`: the facade the actions and channels call; each aggregate does the work.

Every method is one short transaction (`transactions.py`) and returns frozen views
(`views.py`), never ORM objects. Look-ups by order number always include the customer, so
one customer's order is never shown to another. The aggregates, one module each:

- `identities.py`: channel identities, guests and one-time link codes;
- `orders.py`: orders and refunds;
- `profile.py`: preferences, interaction history, purchases, popular products;
- `tickets.py`: handoff tickets for human agents;
- `consent.py`: SMS opt-outs;
- `privacy.py`: export and erasure of a customer.

The methods are synchronous; from an async rasa_sdk action call them through
`asyncio.to_thread` (or the action server's executor) so a slow query does not stall
other conversations.
"""
from typing import Any, Dict, List, Optional, Sequence

from cs_common.pii import PiiRules, Redactor
from cs_common.store.consent import Consent
from cs_common.store.engine import default_url, make_engine
from cs_common.store.identities import Identities
from cs_common.store.orders import Orders
from cs_common.store.privacy import Privacy
from cs_common.store.profile import DEFAULT_HISTORY_LIMIT, DEFAULT_POPULAR_LIMIT, Profiles
from cs_common.store.tickets import Tickets
from cs_common.store.transactions import Transactions
from cs_common.store.views import (
    CancelResult,
    Contact,
    CustomerView,
    InteractionView,
    LinkCodeIssue,
    LinkVerification,
    OrderView,
    PreferenceView,
    ProductView,
    Purchase,
    RefundView,
    TicketView,
)


class Store:
    """The personalisation and order store; `Store.from_env()` in actions and channels.

    The aggregates are attributes (`store.orders`, `store.tickets`, ...); the methods below
    are the ones callers use, each handing over to its aggregate, documented there.
    """

    def __init__(
        self,
        url: Optional[str] = None,
        redactor: Optional[Redactor] = None,
        link_codes_per_hour: Optional[int] = None,
    ) -> None:
        """`redactor` cleans ticket transcripts (default: the tracker store's rules, pii.yml)."""
        self._transactions = Transactions(make_engine(url))
        self.identities = Identities(self._transactions, link_codes_per_hour)
        self.orders = Orders(self._transactions)
        self.profiles = Profiles(self._transactions)
        self.tickets = Tickets(self._transactions, redactor or Redactor(PiiRules.from_file()))
        self.consent = Consent(self._transactions)
        self.privacy = Privacy(self._transactions)

    @classmethod
    def from_env(cls) -> "Store":
        """The store that `CS_STORE_URL` / `CS_DATA_DIR` point to."""
        return cls(default_url())

    def close(self) -> None:
        """Release pooled connections (tests, shutdown)."""
        self._transactions.engine.dispose()

    # -- identities and link codes (identities.py) --------------------------------------

    def customer_for_identity(self, channel: str, sender_id: str) -> Optional[CustomerView]:
        return self.identities.customer_for_identity(channel, sender_id)

    def link_identity(self, customer_id: int, channel: str, sender_id: str) -> None:
        self.identities.link_identity(customer_id, channel, sender_id)

    def get_or_create_guest(self, channel: str, sender_id: str) -> CustomerView:
        return self.identities.get_or_create_guest(channel, sender_id)

    def issue_link_code(self, channel: str, sender_id: str, contact: Contact) -> LinkCodeIssue:
        return self.identities.issue_link_code(channel, sender_id, contact)

    def verify_link_code(self, channel: str, sender_id: str, code: str) -> LinkVerification:
        return self.identities.verify_link_code(channel, sender_id, code)

    # -- orders and refunds (orders.py) ----------------------------------------------

    def order_for_customer(self, customer_id: int, number: str) -> Optional[OrderView]:
        return self.orders.order_for_customer(customer_id, number)

    def order_by_number_and_contact(self, number: str, contact: Contact) -> Optional[OrderView]:
        return self.orders.order_by_number_and_contact(number, contact)

    def latest_order(self, customer_id: int) -> Optional[OrderView]:
        return self.orders.latest_order(customer_id)

    def open_orders(self, customer_id: int) -> List[OrderView]:
        return self.orders.open_orders(customer_id)

    def orders_with_refund(self, customer_id: int) -> List[OrderView]:
        return self.orders.orders_with_refund(customer_id)

    def cancel_order(self, customer_id: int, number: str) -> CancelResult:
        return self.orders.cancel_order(customer_id, number)

    def change_shipping_address(self, customer_id: int, number: str, address: str) -> bool:
        return self.orders.change_shipping_address(customer_id, number, address)

    def refund_for_order(self, customer_id: int, number: str) -> Optional[RefundView]:
        return self.orders.refund_for_order(customer_id, number)

    # -- profile, history and recommendations (profile.py) ------------------------------

    def set_language(self, customer_id: int, language: str) -> None:
        self.profiles.set_language(customer_id, language)

    def set_marketing_consent(self, customer_id: int, consent: bool) -> None:
        self.profiles.set_marketing_consent(customer_id, consent)

    def preferences(self, customer_id: int) -> PreferenceView:
        return self.profiles.preferences(customer_id)

    def record_interaction(self, customer_id: int, channel: str, intent: str, language: Optional[str] = None) -> None:
        self.profiles.record_interaction(customer_id, channel, intent, language)

    def history(self, customer_id: int, limit: int = DEFAULT_HISTORY_LIMIT) -> List[InteractionView]:
        return self.profiles.history(customer_id, limit)

    def purchase_history(self, customer_id: int) -> List[Purchase]:
        return self.profiles.purchase_history(customer_id)

    def popular_products(self, limit: int = DEFAULT_POPULAR_LIMIT) -> List[ProductView]:
        return self.profiles.popular_products(limit)

    # -- handoff tickets (tickets.py) ---------------------------------------------------

    def create_ticket(self, customer_id: int, sender_id: str, channel: str, reason: str, transcript: Sequence[str]) -> int:
        return self.tickets.create_ticket(customer_id, sender_id, channel, reason, transcript)

    def open_ticket_for_identity(self, channel: str, sender_id: str) -> Optional[TicketView]:
        return self.tickets.open_ticket_for_identity(channel, sender_id)

    def add_to_open_ticket(self, channel: str, sender_id: str, text: str) -> Optional[int]:
        return self.tickets.add_to_open_ticket(channel, sender_id, text)

    def open_tickets(self) -> List[TicketView]:
        return self.tickets.open_tickets()

    def append_to_ticket(self, ticket_id: int, line: str) -> None:
        self.tickets.append_to_ticket(ticket_id, line)

    def close_ticket(self, ticket_id: int) -> Optional[TicketView]:
        return self.tickets.close_ticket(ticket_id)

    # -- messaging consent (consent.py) -------------------------------------------------

    def set_sms_opt_out(self, phone: str, opted_out: bool) -> None:
        self.consent.set_sms_opt_out(phone, opted_out)

    def is_sms_opted_out(self, phone: str) -> bool:
        return self.consent.is_sms_opted_out(phone)

    # -- export and erasure (privacy.py) ------------------------------------------------

    def export_customer(self, customer_id: int) -> Dict[str, Any]:
        return self.privacy.export_customer(customer_id)

    def forget_customer(self, customer_id: int) -> bool:
        return self.privacy.forget_customer(customer_id)
