"""Bounded, expiring in-memory memory for webhooks: what was already delivered, what was looked up.

Webhook senders deliver some events more than once (Slack retries when the answer is slow,
Twilio when the connection drops), and a bot must not answer twice. `Deduplicator` remembers
delivery ids for a while; `TtlCache` is the bounded, expiring dict under it, also handy for
caching look-ups (a user's locale).

Both live in one process. Replicas behind a load balancer each have their own, so a retry
that lands on another replica would be processed again: with `CS_DEDUP_REDIS_URL` set,
`deduplicator()` returns `RedisDeduplicator`, which all replicas share (docs/deployment.md),
on `redis.asyncio` with short timeouts (a slow Redis degrades to per-process memory).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Generic, Hashable, Optional, Tuple, TypeVar, Union

import redis
import redis.asyncio

logger = logging.getLogger(__name__)

DEDUP_REDIS_URL_ENV = "CS_DEDUP_REDIS_URL"
# Slack wants its answer within 3 s, for two look-ups: Redis gets a small part of that.
REDIS_TIMEOUT_S = 0.25
# After a Redis failure, this process's own memory decides for this long.
RETRY_AFTER_S = 30
_UNAVAILABLE = object()

V = TypeVar("V")


class TtlCache(Generic[V]):
    """A dict whose entries expire after `ttl_s` and which never holds more than `max_items`.

    The oldest entries go first when it is full, so memory stays bounded whatever arrives.
    """

    def __init__(self, ttl_s: float, max_items: int, clock: Callable[[], float] = time.monotonic) -> None:
        if ttl_s <= 0 or max_items <= 0:
            raise ValueError("ttl_s and max_items must be positive.")
        self._ttl_s = ttl_s
        self._max_items = max_items
        self._clock = clock
        self._entries: "OrderedDict[Hashable, Tuple[float, V]]" = OrderedDict()

    def __len__(self) -> int:
        self._forget_expired()
        return len(self._entries)

    def get(self, key: Hashable) -> Optional[V]:
        self._forget_expired()
        entry = self._entries.get(key)
        return None if entry is None else entry[1]

    def put(self, key: Hashable, value: V) -> None:
        self._forget_expired()
        self._entries.pop(key, None)
        self._entries[key] = (self._clock() + self._ttl_s, value)
        while len(self._entries) > self._max_items:
            self._entries.popitem(last=False)

    def pop(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def _forget_expired(self) -> None:
        """Entries are in expiry order (one ttl for all, re-puts move to the end)."""
        now = self._clock()
        while self._entries:
            expires_at, _ = next(iter(self._entries.values()))
            if expires_at > now:
                return
            self._entries.popitem(last=False)


class Deduplicator:
    """Says whether a delivery id is new, remembering ids for `ttl_s` (at most `max_ids`)."""

    def __init__(self, ttl_s: float = 3600, max_ids: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._seen: TtlCache[bool] = TtlCache(ttl_s, max_ids, clock)

    async def first_time(self, key: Hashable) -> bool:
        """True the first time `key` is seen within the ttl; False for every repeat.

        Awaitable like `RedisDeduplicator.first_time`, so channels use either the same way.
        """
        if self._seen.get(key):
            return False
        self._seen.put(key, True)
        return True

    async def forget(self, key: Hashable) -> None:
        """Lets the next delivery of `key` through (it could not be handled this time)."""
        self._seen.put(key, False)


class RedisDeduplicator:
    """A `Deduplicator` shared by every process using the same Redis: `SET key 1 NX EX ttl`.

    It runs on `redis.asyncio` with short timeouts, so a slow Redis never blocks the event loop
    (and with it every conversation). Each id is also remembered in this process: a repeat seen
    here costs no round trip, and when Redis is slow or down (logged) the process's own memory
    decides, for `RETRY_AFTER_S`, before Redis is asked again; answering a retry twice beats not
    answering at all, and other conversations never wait for a Redis known to be failing.
    """

    def __init__(
        self,
        client: redis.asyncio.Redis,
        namespace: str,
        ttl_s: int = 3600,
        max_ids: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive.")
        self._redis = client
        self._prefix = f"dedup:{namespace}:"
        self._ttl_s = ttl_s
        self._local = Deduplicator(ttl_s, max_ids, clock)
        self._clock = clock
        self._redis_down_until = float("-inf")

    async def first_time(self, key: Hashable) -> bool:
        """True the first time `key` is seen within the ttl, in any process; False for every repeat."""
        if not await self._local.first_time(key):
            return False
        stored = await self._in_redis(lambda: self._redis.set(self._redis_key(key), 1, nx=True, ex=self._ttl_s))
        return stored is _UNAVAILABLE or bool(stored)  # SET NX answers None when another process has it

    async def forget(self, key: Hashable) -> None:
        """Lets the next delivery of `key` through (it could not be handled this time)."""
        await self._local.forget(key)
        await self._in_redis(lambda: self._redis.delete(self._redis_key(key)))

    async def _in_redis(self, command: Callable[[], Awaitable[Any]]) -> Any:
        """The command's result, or `_UNAVAILABLE` (at once while Redis is known to fail)."""
        if self._clock() < self._redis_down_until:
            return _UNAVAILABLE
        try:
            return await command()
        except (redis.RedisError, OSError, asyncio.TimeoutError) as error:
            self._redis_down_until = self._clock() + RETRY_AFTER_S
            logger.warning(
                "dedup.redis_unavailable error=%s fallback=per_process retry_after_s=%s", type(error).__name__, RETRY_AFTER_S
            )
            return _UNAVAILABLE

    def _redis_key(self, key: Hashable) -> str:
        parts = key if isinstance(key, tuple) else (key,)
        return self._prefix + ":".join(str(part) for part in parts)


def deduplicator(namespace: str, ttl_s: int = 3600, max_ids: int = 10_000) -> Union[Deduplicator, RedisDeduplicator]:
    """Shared through Redis when `CS_DEDUP_REDIS_URL` is set (replicas), else this process's own.

    Both are awaited (`await seen.first_time(key)`); `namespace` keeps channels apart in one
    Redis database.
    """
    url = os.environ.get(DEDUP_REDIS_URL_ENV)
    if not url:
        return Deduplicator(ttl_s, max_ids)
    try:
        client = redis.asyncio.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
        )
    except ValueError as error:
        raise ValueError(
            f"{DEDUP_REDIS_URL_ENV} must be a Redis URL such as redis://:password@host:6379/2 ({error})."
        ) from None
    return RedisDeduplicator(client, namespace, ttl_s, max_ids)
