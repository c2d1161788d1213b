"""Rows into a PostgreSQL table with ``COPY FROM STDIN``, inside the caller's SQLAlchemy transaction.

A Core ``executemany`` of an ``INSERT`` costs far more in Python than the insert costs the server: SQLAlchemy
renders one ``INSERT ... VALUES`` with every row's parameters named, and psycopg parses that statement again
whenever the batch size changes, which for a stream of batches is nearly always. Profiled (py-spy) through a
simulated run at 20x, the compliance service spent over half of its samples in the two such inserts it made on
every step (its market tape and activity, and the audit log's index), a quarter to a third of them in psycopg
parsing the rendered statement. ``COPY`` sends the rows as they are, in one statement.

A failure is raised as SQLAlchemy raises the driver's errors (``sqlalchemy.exc.OperationalError`` for a lost
server, ``IntegrityError`` for a duplicate key, ...), so callers keep the handling they have for ``execute``; a
connection the failure left broken is invalidated, never handed back to the pool.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError


def copy_rows(conn: Connection, *, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write ``rows`` (values in ``columns`` order; ``None`` is NULL) into ``table`` in the transaction ``conn``
    is in. The table is found through the connection's ``search_path`` (``make_engine``'s ``schema``)."""
    statement = copy_statement(table, columns)
    raw = conn.connection.driver_connection
    try:
        write_copy(raw, statement, rows)
    except psycopg.Error as exc:
        invalidated = raw.closed or raw.broken
        if invalidated:
            conn.invalidate()
        raise DBAPIError.instance(
            statement, None, exc, psycopg.Error, connection_invalidated=invalidated, dialect=conn.dialect
        ) from exc


def copy_statement(table: str, columns: Sequence[str]) -> str:
    """The ``COPY ... FROM STDIN`` that ``write_copy`` takes for ``table``'s ``columns``."""
    return f"COPY {table} ({', '.join(columns)}) FROM STDIN"


def write_copy(raw: psycopg.Connection, statement: str, rows: Iterable[Sequence[Any]]) -> None:
    """Run ``statement`` (a ``COPY ... FROM STDIN``) on the driver's own connection, writing ``rows``; errors are
    psycopg's. Whether it commits on its own is the connection's affair (the journal's runs in autocommit)."""
    with raw.cursor() as cur, cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
