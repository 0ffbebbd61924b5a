"""Database fixtures: every store test runs against real SQLite and real PostgreSQL.

PostgreSQL is the session's `postgres_server` (tests/databases.py): `CS_TEST_POSTGRES_URL`
or a throwaway server. Each test gets its own empty schema.
"""
from pathlib import Path
from typing import Iterator

import pytest

from tests.databases import fresh_schema


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    with fresh_schema(request.getfixturevalue("postgres_server")) as url:
        yield url
