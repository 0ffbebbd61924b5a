"""Schema migrations, run from code: `upgrade(url)` or `python -m cs_common.store.migrate`.

The alembic Config is built here, not read from an alembic.ini, so the database is chosen
in one place (`engine.default_url`). To add a revision, copy the newest file in
`migrations/versions/`, bump `revision`/`down_revision`, and mirror the change in
`models.py` (tests fail when the two disagree).
"""
import argparse
from pathlib import Path
from typing import Callable, List, Optional

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from cs_common.store.engine import make_engine
from cs_common.store.errors import translated_errors

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Our own version table, so another alembic-managed app can share the database.
VERSION_TABLE = "store_alembic_version"
HEAD = "head"


def upgrade(url: Optional[str] = None, revision: str = HEAD) -> None:
    """Bring the schema at `url` (default: the configured store) up to `revision`."""
    _run(url, lambda config: command.upgrade(config, revision))


def downgrade(url: Optional[str] = None, revision: str = "base") -> None:
    """Take the schema back to `revision` (for rolling back a release; drops data)."""
    _run(url, lambda config: command.downgrade(config, revision))


def current_revision(url: Optional[str] = None) -> Optional[str]:
    """The revision the database is at, or None when it was never migrated."""
    engine = make_engine(url)
    try:
        with translated_errors(engine.url), engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": VERSION_TABLE}
            )
            return context.get_current_revision()
    finally:
        engine.dispose()


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _run(url: Optional[str], alembic_command: Callable[[Config], None]) -> None:
    """Run one alembic command in one transaction on a fresh engine."""
    engine = make_engine(url)
    try:
        with translated_errors(engine.url), engine.begin() as connection:
            alembic_command(_config(connection))
    finally:
        engine.dispose()


def main(argv: Optional[List[str]] = None) -> None:
    """CLI: migrate the configured store (or `--url`) to head and say where it is now."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: $CS_STORE_URL or var/store.db)")
    args = parser.parse_args(argv)
    upgrade(args.url)
    print(f"Store schema is at revision {current_revision(args.url)}.")


if __name__ == "__main__":
    main()
