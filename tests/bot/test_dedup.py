"""Delivery de-duplication: per process, and shared by replicas through a real redis-server.

`redis.asyncio` clients belong to one event loop, so each test makes its clients inside the
loop it runs (`asyncio.run`).
"""

from __future__ import annotations

import asyncio
from typing import Iterator, List

import pytest
import redis
import redis.asyncio

from bot.dedup import DEDUP_REDIS_URL_ENV, REDIS_TIMEOUT_S, Deduplicator, RedisDeduplicator, deduplicator
from tests.servers import free_port

TTL_S = 600
PAUSE_MS = 2000  # far beyond REDIS_TIMEOUT_S


@pytest.fixture
def redis_client(redis_server: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def shared(url: str, namespace: str = "slack") -> RedisDeduplicator:
    client = redis.asyncio.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S)
    return RedisDeduplicator(client, namespace, TTL_S)


def test_a_forgotten_delivery_is_let_through_again() -> None:
    async def scenario() -> List[bool]:
        seen = Deduplicator(ttl_s=TTL_S)
        answers = [await seen.first_time("SM1"), await seen.first_time("SM1")]
        await seen.forget("SM1")
        return answers + [await seen.first_time("SM1"), await seen.first_time("SM1")]

    assert asyncio.run(scenario()) == [True, False, True, False]


def test_replicas_sharing_redis_answer_a_retry_once(redis_server: str, redis_client: redis.Redis) -> None:
    async def scenario() -> List[bool]:
        replica_a, replica_b, other_channel = shared(redis_server), shared(redis_server), shared(redis_server, "sms")
        return [
            await replica_a.first_time(("event", "Ev1")),
            await replica_b.first_time(("event", "Ev1")),
            await replica_a.first_time(("event", "Ev1")),
            await replica_b.first_time(("event", "Ev2")),
            await other_channel.first_time(("event", "Ev1")),  # channels are kept apart
        ]

    assert asyncio.run(scenario()) == [True, False, False, True, True]
    assert 0 < redis_client.ttl("dedup:slack:event:Ev1") <= TTL_S, "ids expire"


def test_a_forgotten_delivery_is_let_through_on_every_replica(redis_server: str, redis_client: redis.Redis) -> None:
    async def scenario() -> List[bool]:
        replica_a, replica_b = shared(redis_server, "sms"), shared(redis_server, "sms")
        answers = [await replica_a.first_time("SM1")]
        await replica_a.forget("SM1")
        return answers + [await replica_b.first_time("SM1"), await replica_a.first_time("SM1")]

    assert asyncio.run(scenario()) == [True, True, False]


def test_without_redis_the_process_deduplicates_on_its_own(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> List[bool]:
        seen = shared(f"redis://127.0.0.1:{free_port()}/0")
        return [await seen.first_time("Ev1"), await seen.first_time("Ev1"), await seen.first_time("Ev2")]

    assert asyncio.run(scenario()) == [True, False, True]
    assert "dedup.redis_unavailable" in caplog.text and "fallback=per_process" in caplog.text


def test_a_slow_redis_delays_no_other_conversation(
    redis_server: str, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """A real redis-server made slow: CLIENT PAUSE holds every command for PAUSE_MS (the same as
    DEBUG SLEEP, which Redis 7 disables unless started with --enable-debug-command)."""

    async def scenario() -> tuple:
        seen = shared(redis_server)
        assert await seen.first_time("Ev0")  # connected while Redis is fast
        ticks = 0

        async def another_conversation() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        other = asyncio.create_task(another_conversation())
        redis_client.execute_command("CLIENT", "PAUSE", str(PAUSE_MS), "ALL")
        answers = [await seen.first_time("Ev1"), await seen.first_time("Ev1"), await seen.first_time("Ev2")]
        other.cancel()
        return answers, ticks

    (first, repeat, next_message), ticks = asyncio.run(scenario())
    assert (first, repeat, next_message) == (True, False, True), "the process's own memory decides meanwhile"
    assert ticks > 0, "the event loop ran another conversation while Redis was slow"
    assert "dedup.redis_unavailable" in caplog.text
    assert redis_client.exists("dedup:slack:Ev2") == 0, "after one timeout, Redis is not waited for again"


def test_the_environment_selects_the_backend(redis_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEDUP_REDIS_URL_ENV, raising=False)
    assert isinstance(deduplicator("slack"), Deduplicator)
    monkeypatch.setenv(DEDUP_REDIS_URL_ENV, redis_server)
    assert isinstance(deduplicator("slack"), RedisDeduplicator)
    monkeypatch.setenv(DEDUP_REDIS_URL_ENV, "http://cache.internal:6379")
    with pytest.raises(ValueError, match=DEDUP_REDIS_URL_ENV):
        deduplicator("slack")
