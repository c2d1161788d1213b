"""Alembic environment for the desk's schema.

Run through ``tradingdesk.storage.db.migrate`` (which passes an open connection in
``config.attributes["connection"]``), or by the alembic CLI with ``-x dsn=...`` / ``sqlalchemy.url``.
Application logging is left alone: no ``fileConfig`` here.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from tradingdesk.storage.schema import metadata

config = context.config
target_metadata = metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    url = context.get_x_argument(as_dictionary=True).get("dsn") or config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from tradingdesk.storage.db import make_engine

    dsn = context.get_x_argument(as_dictionary=True).get("dsn") or config.get_main_option("sqlalchemy.url")
    if not dsn:
        raise RuntimeError("no database: pass -x dsn=... or set sqlalchemy.url")
    engine = make_engine(dsn)
    try:
        with engine.begin() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
