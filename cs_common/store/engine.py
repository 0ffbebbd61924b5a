"""Where the store lives and how we connect to it.

SQLite (the default, one file under the data dir) is for development and small
deployments; PostgreSQL (`postgresql+psycopg2://...`) for anything with several action
server workers. Both get the same engine settings so tests on one speak for the other.
"""
import os
from pathlib import Path
from typing import Any, Dict, Optional

from sqlalchemy import create_engine, event
from sqlalchemy.pool import QueuePool
from sqlalchemy.engine import URL, Connection, Engine, make_url

STORE_URL_ENV = "CS_STORE_URL"
DATA_DIR_ENV = "CS_DATA_DIR"
REPO_ROOT = Path(__file__).resolve().parents[2]
STORE_FILE = "store.db"
# The repository's upserts are written for exactly these two dialects.
SUPPORTED_BACKENDS = ("sqlite", "postgresql")

# Writers wait this long for SQLite's single write lock instead of failing at once.
SQLITE_BUSY_TIMEOUT_MS = 30_000
# An unreachable PostgreSQL host fails a turn after this long instead of hanging it.
POSTGRES_CONNECT_TIMEOUT_S = 5
# Execution option that makes a SQLite transaction take the write lock when it begins.
SQLITE_IMMEDIATE = "cs_store_sqlite_immediate"


def data_dir() -> Path:
    """`$CS_DATA_DIR`, else `<repo>/var`: the folder that `make clean` empties."""
    return Path(os.environ.get(DATA_DIR_ENV) or REPO_ROOT / "var")


def default_url() -> str:
    """`$CS_STORE_URL`, else the SQLite file in the data dir (created so a first run works)."""
    configured = os.environ.get(STORE_URL_ENV)
    if configured:
        return configured
    folder = data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / STORE_FILE}"


def make_engine(url: Optional[str] = None) -> Engine:
    """An engine for `url` (default: `default_url()`) with pre-ping; on PostgreSQL a
    connect timeout, on SQLite WAL, enforced foreign keys, a busy timeout and explicit BEGINs.

    Creating the engine does not connect; connection errors surface on first use.
    """
    parsed = make_url(url or default_url())
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise ValueError(
            f"CS_STORE_URL must be a sqlite:// or postgresql+psycopg2:// URL, not {backend}://"
        )
    engine = create_engine(parsed, future=True, pool_pre_ping=True, **_pool_args(parsed))
    if backend == "sqlite":
        _configure_sqlite(engine)
    return engine


def _pool_args(url: URL) -> Dict[str, Any]:
    """Pool and driver settings we insist on, unless the URL sets them itself.

    A SQLite file gets a QueuePool, SQLAlchemy 2.0's default: 1.4 (which Rasa 3.6 pins)
    opens a new connection per transaction there, and running the connect PRAGMAs below
    on every message cost a third of the store's time under load. Pooled connections move
    between the threads `asyncio.to_thread` uses, so pysqlite's same-thread check is off;
    a connection is only ever used by one thread at a time (the pool hands it out).
    `sqlite://` in memory keeps SQLAlchemy's SingletonThreadPool: one database per thread.
    """
    backend = url.get_backend_name()
    if backend == "postgresql" and "connect_timeout" not in url.query:
        return {"connect_args": {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S}}
    if backend == "sqlite" and url.database not in (None, "", ":memory:"):
        return {"poolclass": QueuePool, "connect_args": {"check_same_thread": False}}
    return {}


def _configure_sqlite(engine: Engine) -> None:
    """Install the SQLAlchemy-documented recipe that lets us control SQLite transactions.

    pysqlite otherwise issues BEGIN lazily and only before DML, so a read-then-write
    transaction can fail with "database is locked" without ever waiting. Write
    transactions ask for BEGIN IMMEDIATE (via `SQLITE_IMMEDIATE`) and so queue politely.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(SQLITE_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
