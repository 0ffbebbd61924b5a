"""A Redis lock store that stays correct when several Rasa replicas share it.

Rasa serialises the messages of one conversation with a ticket lock: each message takes a
ticket and waits until it is first in line. Rasa's `RedisLockStore` keeps a conversation's
tickets in one Redis key but changes it with a separate GET and SET, so two replicas taking a
ticket at the same moment both read the same queue and the second SET erases the first
ticket: two messages of one conversation are then processed at once and the tracker store
keeps the events of only one of them (RasaHQ/rasa#9213). Its clean-up has the same gap: a
replica checks that nobody waits, another one queues a ticket, the first deletes the key,
and the waiting message fails with "Could not acquire lock".

`AtomicRedisLockStore` keeps Rasa's data layout and algorithm and runs every
read-modify-write of a lock as one Redis transaction (WATCH the key, MULTI/EXEC the write,
retry when another replica changed the key in between).

    lock_store:
      type: bot.lock_store.AtomicRedisLockStore
      url: redis.internal        # the RedisLockStore settings: port, db, password, key_prefix, use_ssl, ...
"""

from __future__ import annotations

import json
from typing import Callable, Optional, Text, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig
from redis.client import Pipeline
from redis.exceptions import RedisError

T = TypeVar("T")


class AtomicRedisLockStore(RedisLockStore):
    """`RedisLockStore` whose lock updates are Redis transactions, safe across replicas."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        """Takes the `lock_store` section of endpoints.yml, with RedisLockStore's keys."""
        super().__init__(host=endpoint_config.url or "localhost", **endpoint_config.kwargs)

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return self._change(conversation_id, lambda lock: lock.issue_ticket(lock_lifetime), create=True)
        except RedisError as error:
            raise LockError(f"Could not issue a ticket for conversation '{conversation_id}' in Redis: {error}")

    def update_lock(self, conversation_id: Text) -> None:
        self._change(conversation_id, TicketLock.remove_expired_tickets)

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        self._change(conversation_id, lambda lock: lock.remove_ticket_for(ticket_number))

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Removes the ticket, and the lock with it when nobody waits: both in one transaction."""
        self._change(conversation_id, lambda lock: lock.remove_ticket_for(ticket_number), delete_when_idle=True)

    def _change(
        self,
        conversation_id: Text,
        change: Callable[[TicketLock], T],
        create: bool = False,
        delete_when_idle: bool = False,
    ) -> Optional[T]:
        """Applies `change` to the stored lock atomically; returns what `change` returned.

        A missing lock is created when `create`, else left missing (None is returned).
        """
        key = self.key_prefix + conversation_id

        def attempt(pipe: Pipeline) -> Optional[T]:
            stored = pipe.get(key)  # immediate: the pipeline WATCHes `key`
            if stored is None and not create:
                pipe.multi()
                return None
            lock = TicketLock.from_dict(json.loads(stored)) if stored else self.create_lock(conversation_id)
            result = change(lock)
            pipe.multi()
            if delete_when_idle and not lock.is_someone_waiting():
                pipe.delete(key)
            else:
                pipe.set(key, lock.dumps())
            return result

        return self.red.transaction(attempt, key, value_from_callable=True)
