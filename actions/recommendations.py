"""Recommendations that explain themselves: category affinity from purchases, then popularity."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import StoreAction, current_customer, in_thread
from cs_common.store.repository import Store
from cs_common.store.views import ProductView, Purchase

CANDIDATES = 50
POPULAR_SHOWN = 3


@dataclass(frozen=True)
class Recommendation:
    product: ProductView
    because_of: Purchase


def recommend(purchases: Sequence[Purchase], popular: Sequence[ProductView]) -> Optional[Recommendation]:
    """The most popular product the customer has not bought, from the category they buy most.

    Ties between categories go to the most recent purchase; the explanation names the most
    recent purchase in that category. Deterministic: same data, same answer.
    """
    if not purchases:
        return None
    bought = {purchase.sku for purchase in purchases}
    counts = Counter(purchase.category for purchase in purchases)
    recency = {p.category: -i for i, p in reversed(list(enumerate(purchases)))}
    for category in sorted(counts, key=lambda c: (counts[c], recency[c]), reverse=True):
        product = next((p for p in popular if p.category == category and p.sku not in bought), None)
        if product is not None:
            reason = next(p for p in purchases if p.category == category)
            return Recommendation(product, reason)
    return None


class ActionRecommend(StoreAction):
    def name(self) -> Text:
        return "action_recommend"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, store: Store) -> List[Dict[Text, Any]]:
        popular = await in_thread(store.popular_products, CANDIDATES)
        customer = await current_customer(store, tracker)
        purchases = await in_thread(store.purchase_history, customer.id) if customer else []
        choice = recommend(purchases, popular)
        if choice is None:
            names = ", ".join(p.name for p in popular[:POPULAR_SHOWN])
            dispatcher.utter_message(response="utter_recommendation_popular", products=names)
        else:
            dispatcher.utter_message(
                response="utter_recommendation",
                bought=choice.because_of.name,
                product=choice.product.name,
                category=choice.product.category,
            )
        return []
