"""Alembic environment for the store: run only through `cs_common.store.migrate`.

`migrate.upgrade()` builds the Config in code and hands over an open connection, so there
is no alembic.ini and no second place that decides which database to use.
"""
from alembic import context

from cs_common.store.migrate import VERSION_TABLE
from cs_common.store.models import Base


def run_migrations() -> None:
    """Migrate over the connection that `cs_common.store.migrate` passed in."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("Run store migrations with `python -m cs_common.store.migrate`.")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
