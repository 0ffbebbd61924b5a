"""Database fixtures: every store test runs against real SQLite and real PostgreSQL.

PostgreSQL comes from `CS_TEST_POSTGRES_URL` (a role that may create schemas in its
database) or, when that is unset, from a throwaway server started here with the installed
`initdb`/`pg_ctl` (Debian: `apt-get install postgresql`). Each test gets its own empty schema.
"""
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_URL_ENV = "CS_TEST_POSTGRES_URL"
POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"
# PostgreSQL refuses to run as root; the Debian package creates this user.
POSTGRES_USER = "postgres"
SERVER_START_TIMEOUT_S = 60


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a PostgreSQL server whose role can create databases."""
    configured = os.environ.get(POSTGRES_URL_ENV)
    if configured:
        yield configured
        return
    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        pytest.skip(
            f"PostgreSQL is not installed (no initdb/pg_ctl on PATH or in {POSTGRES_BIN_GLOB}) "
            f"and {POSTGRES_URL_ENV} is unset: apt-get install postgresql"
        )
    with _throwaway_server(bin_dir) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    with _fresh_schema(request.getfixturevalue("postgres_server")) as url:
        yield url


def _postgres_bin_dir() -> Optional[Path]:
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    versions = sorted(glob.glob(POSTGRES_BIN_GLOB), key=lambda path: int(path.split("/")[-2]))
    return Path(versions[-1]) if versions else None


@contextmanager
def _throwaway_server(bin_dir: Path) -> Iterator[str]:
    """initdb + pg_ctl start in a temporary folder, on 127.0.0.1 only, stopped afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="cs-store-pg-"))
    data, log = folder / "data", folder / "server.log"
    port = free_port()
    options = f"-h 127.0.0.1 -p {port} -k {folder} -F"  # -F: no fsync, it is throwaway
    timeout = str(SERVER_START_TIMEOUT_S)
    try:
        as_user = _run_as_postgres_user(folder)
        initdb = as_user + [str(bin_dir / "initdb"), "-D", str(data), "-U", POSTGRES_USER]
        pg_ctl = as_user + [str(bin_dir / "pg_ctl"), "-D", str(data)]
        _run(initdb + ["--auth=trust", "--encoding=UTF8", "--no-locale"], log)
        _run(pg_ctl + ["-l", str(log), "-w", "-t", timeout, "-o", options, "start"], log)
        yield f"postgresql+psycopg2://{POSTGRES_USER}@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():  # the server started
            subprocess.run(pg_ctl + ["-m", "fast", "stop"], capture_output=True, check=False)
        shutil.rmtree(folder, ignore_errors=True)


def _run_as_postgres_user(folder: Path) -> List[str]:
    """Command prefix that drops root, and hands `folder` to that user; [] when not root."""
    if os.geteuid() != 0:
        return []
    try:
        user = pwd.getpwnam(POSTGRES_USER)
    except KeyError:
        pytest.skip(f"running as root and there is no '{POSTGRES_USER}' user to run PostgreSQL")
    os.chown(folder, user.pw_uid, user.pw_gid)
    return ["runuser", "-u", POSTGRES_USER, "--"]


def _run(command: List[str], log: Path) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        server_log = log.read_text() if log.exists() else ""
        pytest.fail(
            f"{' '.join(command)} failed ({result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}\n{server_log}"
        )


@contextmanager
def _fresh_schema(server_url: str) -> Iterator[str]:
    """URL of a new, empty schema (first on the search_path); dropped afterwards.

    A schema is as empty as a new database for the store, and ten times cheaper to make.
    """
    name = f"cs_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, future=True)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {name}"))
    try:
        url = make_url(server_url).update_query_dict({"options": f"-csearch_path={name}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()
