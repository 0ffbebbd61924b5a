"""Short transactions for every aggregate of the store: one Session each, committed or rolled back.

Reads never block writers (WAL / MVCC); writes queue for SQLite's write lock from their first
statement. Database errors come out as the store's own (`errors.py`).
"""
from contextlib import contextmanager
from typing import Any, Iterator, Optional

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cs_common.store.engine import SQLITE_IMMEDIATE
from cs_common.store.errors import UnknownCustomerError, translated_errors

# Bulk updates and deletes run in a fresh session: there are no loaded objects to keep in sync.
BULK = {"synchronize_session": False}
_DIALECT_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


class Transactions:
    """Opens the sessions of one engine; every aggregate of a `Store` shares one."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction; never blocks writers (WAL / MVCC)."""
        with translated_errors(self.engine.url), self._session() as session:
            yield session

    @contextmanager
    def write(self, customer_id: Optional[int] = None) -> Iterator[Session]:
        """A write transaction that queues for SQLite's write lock from its first statement.

        For writes about `customer_id`, a violated foreign key can only mean that the
        customer does not exist (any more).
        """
        try:
            with translated_errors(self.engine.url), self._session() as session:
                session.connection(execution_options={SQLITE_IMMEDIATE: True})
                yield session
        except IntegrityError:
            if customer_id is None:
                raise
            raise UnknownCustomerError(customer_id) from None

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """A Session inside one transaction: committed on success, rolled back on error."""
        with Session(self.engine, future=True) as session, session.begin():
            yield session


def dialect_insert(session: Session, model: Any) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (both backends support it)."""
    return _DIALECT_INSERTS[session.get_bind().dialect.name](model)
