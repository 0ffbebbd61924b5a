"""The customer's profile: preferences, the history of handled turns, what they bought, and
the best sellers that recommendations fall back on."""
from typing import Any, List, Optional

from sqlalchemy import func, select

from cs_common.store.models import Interaction, Order, OrderItem, Preference, Product, utcnow
from cs_common.store.orders import money
from cs_common.store.transactions import Transactions, dialect_insert
from cs_common.store.views import InteractionView, OrderStatus, PreferenceView, ProductView, Purchase

DEFAULT_HISTORY_LIMIT = 20
DEFAULT_POPULAR_LIMIT = 5
_NO_PREFERENCES = PreferenceView(language=None, preferred_channel=None, marketing_consent=False, updated_at=None)


class Profiles:
    """Preferences, interaction history, purchases and popular products."""

    def __init__(self, transactions: Transactions) -> None:
        self._transactions = transactions

    def set_language(self, customer_id: int, language: str) -> None:
        """Remember the language to answer this customer in."""
        self._set_preference(customer_id, language=language)

    def set_marketing_consent(self, customer_id: int, consent: bool) -> None:
        """Record the customer's answer to "may we send you offers?"."""
        self._set_preference(customer_id, marketing_consent=consent)

    def preferences(self, customer_id: int) -> PreferenceView:
        """Saved preferences, or the defaults when nothing was saved."""
        with self._transactions.read() as session:
            preference = session.get(Preference, customer_id)
            return preference_view(preference) if preference else _NO_PREFERENCES

    def record_interaction(self, customer_id: int, channel: str, intent: str, language: Optional[str] = None) -> None:
        """Append one handled turn to the customer's history."""
        with self._transactions.write(customer_id) as session:
            session.add(Interaction(customer_id=customer_id, channel=channel, intent=intent, language=language))

    def history(self, customer_id: int, limit: int = DEFAULT_HISTORY_LIMIT) -> List[InteractionView]:
        """The customer's latest interactions, newest first."""
        with self._transactions.read() as session:
            rows = session.execute(
                select(Interaction)
                .where(Interaction.customer_id == customer_id)
                .order_by(Interaction.at.desc(), Interaction.id.desc())
                .limit(limit)
            ).scalars()
            return [interaction_view(row) for row in rows]

    def purchase_history(self, customer_id: int) -> List[Purchase]:
        """Products the customer bought (cancelled orders excluded), newest first."""
        with self._transactions.read() as session:
            rows = session.execute(
                select(Product.sku, Product.name, Product.category, Order.placed_at)
                .join(OrderItem, OrderItem.sku == Product.sku)
                .join(Order, Order.id == OrderItem.order_id)
                .where(Order.customer_id == customer_id, Order.status != OrderStatus.CANCELLED.value)
                .order_by(Order.placed_at.desc(), Product.sku)
            )
            return [Purchase(*row) for row in rows]

    def popular_products(self, limit: int = DEFAULT_POPULAR_LIMIT) -> List[ProductView]:
        """Best sellers by units in orders that were not cancelled."""
        units = func.sum(OrderItem.quantity)
        with self._transactions.read() as session:
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

    def _set_preference(self, customer_id: int, **values: Any) -> None:
        """Upsert only the given columns, so concurrent updates of others are kept."""
        values["updated_at"] = utcnow()
        with self._transactions.write(customer_id) as session:
            insert = dialect_insert(session, Preference).values(customer_id=customer_id, **values)
            session.execute(insert.on_conflict_do_update(index_elements=["customer_id"], set_=values))


def preference_view(preference: Preference) -> PreferenceView:
    return PreferenceView(
        language=preference.language,
        preferred_channel=preference.preferred_channel,
        marketing_consent=preference.marketing_consent,
        updated_at=preference.updated_at,
    )


def interaction_view(interaction: Interaction) -> InteractionView:
    return InteractionView(
        at=interaction.at,
        channel=interaction.channel,
        intent=interaction.intent,
        language=interaction.language,
    )


def _product_view(product: Product) -> ProductView:
    return ProductView(sku=product.sku, name=product.name, category=product.category, price=money(product.price_cents))
