"""AtomicRedisLockStore against a real redis-server: tickets taken at once are all kept."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import pytest
from rasa.core.lock_store import RedisLockStore
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy.engine import make_url

from bot.lock_store import AtomicRedisLockStore

CONVERSATION = "c-1"
TICKETS = 200


@pytest.fixture
def lock_store(redis_server: str) -> Iterator[AtomicRedisLockStore]:
    url = make_url(redis_server)
    store = AtomicRedisLockStore(EndpointConfig(url=url.host, port=url.port, db=url.database, key_prefix="test"))
    store.red.flushdb()
    yield store
    store.red.flushdb()


def issue_at_once(store: RedisLockStore) -> list:
    """Tickets for one conversation from 16 threads at once, as from several replicas."""
    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(lambda _: store.issue_ticket(CONVERSATION), range(TICKETS)))


def test_tickets_issued_concurrently_are_unique_and_all_queued(lock_store: AtomicRedisLockStore) -> None:
    tickets = issue_at_once(lock_store)
    assert sorted(tickets) == list(range(TICKETS))
    assert len(lock_store.get_lock(CONVERSATION).tickets) == TICKETS


def test_the_lock_goes_only_when_the_last_ticket_is_served(lock_store: AtomicRedisLockStore) -> None:
    first, second = lock_store.issue_ticket(CONVERSATION), lock_store.issue_ticket(CONVERSATION)
    lock_store.cleanup(CONVERSATION, first)
    lock = lock_store.get_lock(CONVERSATION)
    assert lock is not None and not lock.is_locked(second)
    lock_store.cleanup(CONVERSATION, second)
    assert lock_store.get_lock(CONVERSATION) is None
    assert lock_store.red.keys("*") == []


def test_reads_its_settings_from_the_endpoint_config(lock_store: AtomicRedisLockStore) -> None:
    assert lock_store.key_prefix == "test:lock:"
    lock_store.issue_ticket(CONVERSATION)
    assert lock_store.red.keys("*") == [b"test:lock:" + CONVERSATION.encode()]
