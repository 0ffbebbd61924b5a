"""Delivery de-duplication: per process, and shared by replicas through a real redis-server."""

from __future__ import annotations

from typing import Iterator

import pytest
import redis

from bot.dedup import DEDUP_REDIS_URL_ENV, Deduplicator, RedisDeduplicator, deduplicator
from tests.servers import free_port

TTL_S = 600


@pytest.fixture
def redis_client(redis_server: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def test_a_forgotten_delivery_is_let_through_again() -> None:
    seen = Deduplicator(ttl_s=TTL_S)
    assert seen.first_time("SM1") and not seen.first_time("SM1")
    seen.forget("SM1")
    assert seen.first_time("SM1") and not seen.first_time("SM1")


def test_replicas_sharing_redis_answer_a_retry_once(redis_server: str, redis_client: redis.Redis) -> None:
    replica_a = RedisDeduplicator(redis.Redis.from_url(redis_server), "slack", TTL_S)
    replica_b = RedisDeduplicator(redis.Redis.from_url(redis_server), "slack", TTL_S)
    assert replica_a.first_time(("event", "Ev1"))
    assert not replica_b.first_time(("event", "Ev1"))
    assert not replica_a.first_time(("event", "Ev1"))
    assert replica_b.first_time(("event", "Ev2"))
    assert RedisDeduplicator(redis_client, "sms", TTL_S).first_time(("event", "Ev1")), "channels are kept apart"
    assert 0 < redis_client.ttl("dedup:slack:event:Ev1") <= TTL_S, "ids expire"


def test_a_forgotten_delivery_is_let_through_on_every_replica(redis_client: redis.Redis) -> None:
    seen = RedisDeduplicator(redis_client, "sms", TTL_S)
    assert seen.first_time("SM1")
    seen.forget("SM1")
    assert seen.first_time("SM1") and not seen.first_time("SM1")


def test_without_redis_every_delivery_is_answered(caplog: pytest.LogCaptureFixture) -> None:
    unreachable = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    seen = RedisDeduplicator(unreachable, "slack", TTL_S)
    assert seen.first_time("Ev1") and seen.first_time("Ev1")
    assert "dedup.redis_unavailable" in caplog.text


def test_the_environment_selects_the_backend(redis_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEDUP_REDIS_URL_ENV, raising=False)
    assert isinstance(deduplicator("slack"), Deduplicator)
    monkeypatch.setenv(DEDUP_REDIS_URL_ENV, redis_server)
    assert isinstance(deduplicator("slack"), RedisDeduplicator)
    monkeypatch.setenv(DEDUP_REDIS_URL_ENV, "http://cache.internal:6379")
    with pytest.raises(ValueError, match=DEDUP_REDIS_URL_ENV):
        deduplicator("slack")
