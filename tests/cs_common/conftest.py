"""Database fixtures: every store test runs against real SQLite and real PostgreSQL.

PostgreSQL is the session's `postgres_server` (tests/databases.py): `CS_TEST_POSTGRES_URL`
or a throwaway server. Each test gets its own empty schema.
"""
from pathlib import Path
from typing import Iterator

import pytest

from cs_common.store import Store
from cs_common.store.migrate import upgrade
from cs_common.store.seed import reset
from tests.cs_common.helpers import TODAY
from tests.databases import fresh_schema


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    with fresh_schema(request.getfixturevalue("postgres_server")) as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated, empty store."""
    upgrade(store_url)
    store = Store(store_url)
    yield store
    store.close()


@pytest.fixture
def seeded(store_url: str) -> Iterator[Store]:
    """The demo store, seeded for `TODAY`."""
    reset(store_url, TODAY)
    store = Store(store_url)
    yield store
    store.close()
