"""What the store's tests share: the demo day, demo customers by name, parallel writers."""
import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, TypeVar

from sqlalchemy import text

from cs_common.store import Store
from cs_common.store.engine import make_engine
from cs_common.store.models import Base
from cs_common.store.seed import demo_sender
from cs_common.store.views import Contact, ContactKind

TODAY = dt.date(2025, 1, 15)
PHONE_PREFIXES = {"es": "+34", "de": "+49", "fr": "+33", "zh": "+86", "ar": "+971", "en": "+44"}
WRITERS = 50
T = TypeVar("T")


def customer_id(store: Store, demo_name: str) -> int:
    customer = store.customer_for_identity("web", demo_sender(demo_name))
    assert customer is not None
    return customer.id


def table_counts(url: str) -> Dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in Base.metadata.tables
            }
    finally:
        engine.dispose()


def email(address: str) -> Contact:
    """A guest's email as the actions pass it on (normalised by actions/identity.py)."""
    return Contact(ContactKind.EMAIL, address)


def in_parallel(count: int, work: Callable[[int], T]) -> List[T]:
    """Run work(0..count-1) on `count` threads released at the same moment."""
    start = threading.Barrier(count)

    def run(index: int) -> T:
        start.wait()
        return work(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))
