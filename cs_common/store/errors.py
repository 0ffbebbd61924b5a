"""The store's exceptions, and the one place that turns driver errors into them.

Actions catch these instead of SQLAlchemy's classes, so a database outage becomes a polite
"try again later" rather than a stack trace, and no SQL parameters (personal data) or URL
passwords ever reach a message or a log line.
"""
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError


class StoreError(Exception):
    """Base class of everything the store raises on purpose."""


class StoreUnavailableError(StoreError):
    """The database cannot be reached, opened or used (down, wrong URL, not migrated)."""


class UnknownCustomerError(StoreError, LookupError):
    """A write named a customer that does not exist (or was just forgotten)."""

    def __init__(self, customer_id: int) -> None:
        super().__init__(f"No customer with id {customer_id}; it may have been forgotten.")
        self.customer_id = customer_id


_SQLITE_HINT = (
    "Check CS_STORE_URL (or CS_DATA_DIR) points to a writable SQLite file and that the schema "
    "is migrated: python -m cs_common.store.migrate"
)
_POSTGRES_HINT = (
    "Check CS_STORE_URL, that PostgreSQL is running and accepts connections, and that the "
    "schema is migrated: python -m cs_common.store.migrate"
)


def unavailable(url: URL, error: DBAPIError) -> StoreUnavailableError:
    """Build the error for `error`: the redacted URL, the driver's reason and the fix.

    Only connection-level errors contribute their first line of text; the others contribute
    their class name alone, because their text can quote the SQL parameters.
    """
    reason = type(error.orig).__name__ if error.orig is not None else type(error).__name__
    if isinstance(error, (OperationalError, InterfaceError)) and error.orig is not None:
        first_line = str(error.orig).strip().splitlines()[:1]
        reason = f"{reason}: {first_line[0]}" if first_line else reason
    if url.password:
        reason = reason.replace(str(url.password), "***")
    hint = _SQLITE_HINT if url.get_backend_name() == "sqlite" else _POSTGRES_HINT
    where = url.render_as_string(hide_password=True)
    return StoreUnavailableError(f"The customer store at {where} is unavailable ({reason}). {hint}")


@contextmanager
def translated_errors(url: URL) -> Iterator[None]:
    """Re-raise driver errors as store errors, without chaining the original.

    The original is dropped (`from None`) because its text and its parameters can hold
    personal data and it would otherwise be printed with every logged traceback.
    IntegrityError is left alone: callers decide what a violated constraint means.
    """
    try:
        yield
    except IntegrityError:
        raise
    except DBAPIError as error:
        raise unavailable(url, error) from None
