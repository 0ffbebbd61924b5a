"""Bounded, expiring in-memory memory for webhooks: what was already delivered, what was looked up.

Webhook senders deliver some events more than once (Slack retries when the answer is slow,
Twilio when the connection drops), and a bot must not answer twice. `Deduplicator` remembers
delivery ids for a while; `TtlCache` is the bounded, expiring dict under it, also handy for
caching look-ups (a user's locale).

Both live in one process. Replicas behind a load balancer each have their own, so a retry
that lands on another replica would be processed again: with `CS_DEDUP_REDIS_URL` set,
`deduplicator()` returns `RedisDeduplicator`, which all replicas share (docs/deployment.md).
"""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from typing import Callable, Generic, Hashable, Optional, Tuple, TypeVar, Union

import redis

logger = logging.getLogger(__name__)

DEDUP_REDIS_URL_ENV = "CS_DEDUP_REDIS_URL"
REDIS_TIMEOUT_S = 2

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

    def first_time(self, key: Hashable) -> bool:
        """True the first time `key` is seen within the ttl; False for every repeat."""
        if self._seen.get(key):
            return False
        self._seen.put(key, True)
        return True

    def forget(self, key: Hashable) -> None:
        """Lets the next delivery of `key` through (it could not be handled this time)."""
        self._seen.put(key, False)


class RedisDeduplicator:
    """A `Deduplicator` shared by every process using the same Redis: `SET key 1 NX EX ttl`.

    If Redis cannot be reached, every delivery counts as new (and the failure is logged):
    answering a retry twice beats not answering at all.
    """

    def __init__(self, client: redis.Redis, namespace: str, ttl_s: int = 3600) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive.")
        self._redis = client
        self._prefix = f"dedup:{namespace}:"
        self._ttl_s = ttl_s

    def first_time(self, key: Hashable) -> bool:
        """True the first time `key` is seen within the ttl, in any process; False for every repeat."""
        try:
            return bool(self._redis.set(self._redis_key(key), 1, nx=True, ex=self._ttl_s))
        except redis.RedisError as error:
            logger.warning("dedup.redis_unavailable error=%s", type(error).__name__)
            return True

    def forget(self, key: Hashable) -> None:
        """Lets the next delivery of `key` through (it could not be handled this time)."""
        try:
            self._redis.delete(self._redis_key(key))
        except redis.RedisError as error:
            logger.warning("dedup.redis_unavailable error=%s", type(error).__name__)

    def _redis_key(self, key: Hashable) -> str:
        parts = key if isinstance(key, tuple) else (key,)
        return self._prefix + ":".join(str(part) for part in parts)


def deduplicator(namespace: str, ttl_s: int = 3600, max_ids: int = 10_000) -> Union[Deduplicator, RedisDeduplicator]:
    """Shared through Redis when `CS_DEDUP_REDIS_URL` is set (replicas), else this process's own.

    `namespace` keeps channels apart in one Redis database.
    """
    url = os.environ.get(DEDUP_REDIS_URL_ENV)
    if not url:
        return Deduplicator(ttl_s, max_ids)
    try:
        client = redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S)
    except ValueError as error:
        raise ValueError(
            f"{DEDUP_REDIS_URL_ENV} must be a Redis URL such as redis://:password@host:6379/2 ({error})."
        ) from None
    return RedisDeduplicator(client, namespace, ttl_s)
