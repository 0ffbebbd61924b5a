"""Throwaway database servers for the tests (fixtures `postgres_server`, `redis_server`).

PostgreSQL and Redis come from the Debian packages; each runs from a temporary folder, listens on 127.0.0.1 only, on a free port, keeps nothing
on disk that outlives the test run, and is stopped afterwards. `make test` installs the
packages when they are missing (scripts/system-deps.sh); without them the tests that need a
server are skipped with the command that installs it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.servers import free_port, stop

POSTGRES_URL_ENV = "CS_TEST_POSTGRES_URL"
POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"
# PostgreSQL refuses to run as root; the Debian package creates this user.
POSTGRES_USER = "postgres"
SERVER_START_TIMEOUT_S = 60


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a PostgreSQL server for the whole test session (see `running_postgres`)."""
    with running_postgres() as url:
        yield url


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """URL of a throwaway redis-server for the whole test session (see `running_redis`)."""
    with running_redis() as url:
        yield url


@contextmanager
def running_postgres() -> Iterator[str]:
    """URL of a PostgreSQL server whose role can create databases and schemas.

    `CS_TEST_POSTGRES_URL` when set, else a throwaway server started with the installed
    `initdb`/`pg_ctl`.
    """
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
    with _throwaway_postgres(bin_dir) as url:
        yield url


@contextmanager
def fresh_schema(server_url: str) -> Iterator[str]:
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


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """URL of a new, empty database on the server; dropped afterwards.

    For programs that pick their own schema (Rasa's SQL tracker store creates its tables in
    `public` unless told otherwise).
    """
    name = f"cs_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


@contextmanager
def running_redis() -> Iterator[str]:
    """URL (`redis://127.0.0.1:<port>/0`) of a throwaway redis-server without persistence."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed: apt-get install redis-server")
    folder = Path(tempfile.mkdtemp(prefix="cs-redis-"))
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    log = folder / "server.log"
    command = [
        binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
        "--save", "", "--appendonly", "no", "--logfile", str(log),
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        _wait_for_redis(url, server, log)
        yield url
    finally:
        stop(server, timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for_redis(url: str, server: subprocess.Popen, log: Path) -> None:
    client = redis.Redis.from_url(url, socket_timeout=1)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"redis-server exited ({server.returncode}):\n{log.read_text() if log.exists() else ''}")
        try:
            client.ping()
            return
        except redis.ConnectionError:
            time.sleep(0.1)
        finally:
            client.close()
    pytest.fail(f"redis-server did not answer on {url} in {SERVER_START_TIMEOUT_S} s")


def _postgres_bin_dir() -> Optional[Path]:
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    versions = sorted(glob.glob(POSTGRES_BIN_GLOB), key=lambda path: int(path.split("/")[-2]))
    return Path(versions[-1]) if versions else None


@contextmanager
def _throwaway_postgres(bin_dir: Path) -> Iterator[str]:
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
