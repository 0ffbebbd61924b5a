"""Preferences, history, purchases and popular products in the store (cs_common/store/profile.py)."""
import datetime as dt

from cs_common.store import Store
from tests.cs_common.helpers import TODAY, WRITERS, customer_id, in_parallel


def test_history_is_newest_first_and_limited(store: Store) -> None:
    guest = store.get_or_create_guest("rest", "h")
    for intent in ("greet", "order_status", "goodbye"):
        store.record_interaction(guest.id, "rest", intent, "en")
    assert [entry.intent for entry in store.history(guest.id, limit=2)] == [
        "goodbye",
        "order_status",
    ]


def test_purchase_history_and_popular_products_ignore_cancelled_orders(seeded: Store) -> None:
    camille = customer_id(seeded, "camille")
    purchases = seeded.purchase_history(camille)
    assert [purchase.sku for purchase in purchases] == ["CL-1001", "HO-3002", "HO-3003"]
    sku, _name, category, placed_at = purchases[0]
    assert (sku, category, placed_at.date()) == ("CL-1001", "clothing", TODAY - dt.timedelta(3))
    top = lambda: [product.sku for product in seeded.popular_products(3)]  # noqa: E731
    assert top() == ["HO-3003", "SP-5002", "CL-1004"]  # 5, 4 and 3 units (tie broken by sku)
    seeded.cancel_order(customer_id(seeded, "emma"), "60001")  # one SP-5002 fewer
    assert top() == ["HO-3003", "CL-1004", "HO-3001"]


def test_fifty_concurrent_writers_lose_nothing(seeded: Store) -> None:
    lukas = customer_id(seeded, "lukas")
    assert seeded.preferences(lukas).marketing_consent is False

    def write(index: int) -> None:
        seeded.record_interaction(lukas, "rest", f"turn_{index}", "fr")
        if index % 2:
            seeded.set_marketing_consent(lukas, True)
        else:
            seeded.set_language(lukas, "fr")

    in_parallel(WRITERS, write)

    history = seeded.history(lukas, limit=WRITERS * 2)
    assert sorted(entry.intent for entry in history) == sorted(
        f"turn_{index}" for index in range(WRITERS)
    )
    preferences = seeded.preferences(lukas)
    assert (preferences.language, preferences.marketing_consent) == ("fr", True)
    assert preferences.updated_at.date() >= TODAY
