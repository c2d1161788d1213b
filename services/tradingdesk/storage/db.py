"""Engines and migrations.

``make_engine(dsn)`` understands two kinds of DSN:

* SQLite (the embedded default): ``sqlite:///var/desk.db`` (relative path), ``sqlite:////abs/desk.db``,
  or ``sqlite://`` for a private in-memory database. File databases are opened in WAL mode with
  ``synchronous=FULL`` (a committed transaction survives power loss) and a busy timeout; the parent
  directory is created if missing.
* PostgreSQL: ``postgresql+psycopg://user:pw@host:port/db`` (``postgresql://`` and ``postgres://`` are taken
  to mean the psycopg 3 driver). The server's defaults (``fsync=on``, ``synchronous_commit=on``) make a
  commit durable.

On PostgreSQL, ``make_engine(dsn, schema=...)`` puts every table of the engine in that schema (its
``search_path``), so the services of a desk, and several desks, share one database without sharing tables.

``migrate(engine_or_dsn)`` brings the schema to the newest Alembic revision (creating the PostgreSQL schema
first). It is idempotent and safe to call from every process at every start, also concurrently: on
PostgreSQL the upgrade runs in one transaction under an advisory lock, on SQLite inside ``BEGIN IMMEDIATE``
(which holds the write lock). On Kubernetes the operator runs migrations once per desk version in a Job
instead, and the services only wait for the schema (``prepare_schema`` with ``TD_MIGRATIONS=wait``).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: Key of the PostgreSQL advisory lock that serialises concurrent ``migrate`` calls ("tdeskmig").
_PG_MIGRATION_LOCK_KEY = 0x7464_6573_6B6D_6967

DEFAULT_BUSY_TIMEOUT_MS = 10_000

#: What a PostgreSQL schema of ours may be called (an identifier that needs no quoting).
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: ``TD_MIGRATIONS``: ``run`` (default: migrate at start) or ``wait`` (someone else migrates; wait for it).
MIGRATIONS_ENV = "TD_MIGRATIONS"
SCHEMA_WAIT_POLL_S = 0.5

#: libpq settings so that an unreachable or silent server shows up as an error within seconds instead of a
#: connection that hangs for minutes (the journal writer then reconnects and retries). A DSN query
#: parameter of the same name wins.
_PG_CONNECT_DEFAULTS = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}


def normalize_url(dsn: str | URL) -> URL:
    """Parse ``dsn``, mapping bare ``postgresql://``/``postgres://`` to the psycopg 3 driver."""
    if isinstance(dsn, str) and dsn.startswith("postgres://"):
        dsn = "postgresql://" + dsn[len("postgres://") :]
    url = make_url(dsn)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def _sqlite_is_memory(url: URL) -> bool:
    db = url.database
    return not db or db == ":memory:" or db.startswith("file::memory:") or "mode=memory" in str(url)


def make_engine(
    dsn: str | URL,
    *,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    echo: bool = False,
    durable: bool = True,
    schema: str | None = None,
    **engine_kwargs: Any,
) -> Engine:
    """Create an engine for ``dsn`` with the durability settings the desk relies on.

    ``schema``: on PostgreSQL, the schema that holds every table of this engine (ignored by SQLite, where each
    service has a file of its own).

    ``durable=False`` is for mirrors that can be rebuilt from a durable source (the compliance audit store
    re-reads the routing journal from its last seq): commits survive a crash of the process but not of the
    machine (SQLite ``synchronous=NORMAL`` in WAL mode, PostgreSQL ``synchronous_commit=off``), and cost no
    fsync each.
    """
    url = normalize_url(dsn)
    backend = url.get_backend_name()
    if backend == "sqlite":
        memory = _sqlite_is_memory(url)
        connect_args = dict(engine_kwargs.pop("connect_args", {}))
        connect_args.setdefault("check_same_thread", False)
        connect_args.setdefault("timeout", busy_timeout_ms / 1000.0)
        if memory:
            # One shared connection, so every thread (the journal writer included) sees the same database.
            engine_kwargs.setdefault("poolclass", StaticPool)
        else:
            assert url.database is not None
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args=connect_args, **engine_kwargs)
        _install_sqlite_pragmas(engine, busy_timeout_ms=busy_timeout_ms, wal=not memory, durable=durable)
        return engine
    if backend == "postgresql":
        engine_kwargs.setdefault("pool_pre_ping", True)
        connect_args = dict(engine_kwargs.pop("connect_args", {}))
        for key, value in _PG_CONNECT_DEFAULTS.items():
            if key not in url.query:
                connect_args.setdefault(key, value)
        options = [connect_args.get("options", "")]
        if not durable:
            options.append("-c synchronous_commit=off")
        if schema is not None:
            if not _SCHEMA_NAME.match(schema):
                raise ValueError(f"schema {schema!r}: lower-case letters, digits and underscores, at most 63")
            options.append(f"-c search_path={schema}")
        if any(options):
            connect_args["options"] = " ".join(o for o in options if o)
        return create_engine(url, echo=echo, connect_args=connect_args, **engine_kwargs)
    return create_engine(url, echo=echo, **engine_kwargs)


def _set_wal(cur: Any, busy_timeout_ms: int) -> None:
    """Switch to WAL, retrying while another connection holds the file: changing the journal mode needs an
    exclusive lock and SQLite does not run the busy handler for it, so two processes migrating a fresh
    database at once would otherwise see "database is locked"."""
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _install_sqlite_pragmas(engine: Engine, *, busy_timeout_ms: int, wal: bool, durable: bool = True) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cur = dbapi_connection.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            if wal:
                _set_wal(cur, busy_timeout_ms)
            cur.execute("PRAGMA synchronous=FULL" if durable or not wal else "PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
        finally:
            cur.close()


def alembic_config() -> Any:
    """An Alembic ``Config`` for the desk's migrations, built in code (no alembic.ini needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    return cfg


@functools.cache
def head_revision() -> str:
    """The newest revision the shipped migrations define. Once per process (the migrations shipped with the code
    it runs do not change under it; reading them is most of a schema check's CPU), and the warm spare reads it
    while it waits (``cli/spare.py``)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or ``None`` if it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine_or_dsn: Engine | str | URL, revision: str = "head") -> str | None:
    """Upgrade the schema to ``revision`` (default: head) and return the revision now current."""
    from alembic import command

    owned = not isinstance(engine_or_dsn, Engine)
    engine = make_engine(engine_or_dsn) if owned else engine_or_dsn  # type: ignore[arg-type]
    try:
        cfg = alembic_config()
        with engine.begin() as conn:
            if is_postgresql(engine):
                conn.execute(select(func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK_KEY)))
                if schema := _own_schema(conn):
                    conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            elif is_sqlite(engine):
                # pysqlite begins transactions lazily (and never before DDL); take the write lock now so the
                # whole upgrade is atomic and concurrent starters wait for each other.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
        rev = current_revision(engine)
        log.debug("database %s at revision %s", engine.url.render_as_string(hide_password=True), rev)
        return rev
    finally:
        if owned:
            engine.dispose()


def _own_schema(conn: Any) -> str | None:
    """The schema ``make_engine(schema=...)`` put first on this connection's search_path, if any."""
    path = conn.exec_driver_sql("SELECT current_setting('search_path')").scalar() or ""
    first = path.split(",")[0].strip()
    return first if _SCHEMA_NAME.match(first) and first != "public" else None


def schema_ready(engine: Engine) -> bool:
    """Whether the database is migrated far enough for this code: at its head revision, or at a revision this
    code does not know, which a newer version of the desk wrote (migrations only ever add, so older code
    keeps working on a newer schema during a rolling upgrade)."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    current = current_revision(engine)
    if current is None:
        return False
    script = ScriptDirectory.from_config(alembic_config())
    if current == script.get_current_head():
        return True
    try:
        script.get_revision(current)
    except CommandError:
        log.warning("database at revision %s, newer than this version's %s", current, script.get_current_head())
        return True
    return False


def prepare_schema(engine: Engine, environ: dict[str, str] | None = None) -> str | None:
    """What a service does with its database at start: migrate it, or with ``TD_MIGRATIONS=wait`` (set by the
    operator, whose Job migrates once per desk version) wait until the schema is ready for this code.

    Waiting never gives up: the pod stays unready (and its startup probe restarts it after a while) until the
    migration Job has run, which is what a person looking at the desk expects to see.
    """
    env = os.environ if environ is None else environ
    mode = env.get(MIGRATIONS_ENV, "run")
    if mode == "run":
        # At head already (every restart's case): nothing to upgrade, so no migration lock, no DDL transaction and
        # no Alembic run (half of a restarted routing's 50 ms schema check). ``migrate`` would do nothing more.
        current = current_revision(engine)
        if current is not None and current == head_revision():
            return current
        return migrate(engine)
    if mode != "wait":
        raise ValueError(f"{MIGRATIONS_ENV}={mode!r}: expected 'run' or 'wait'")
    waited = 0.0
    while True:
        try:
            if schema_ready(engine):
                return current_revision(engine)
        except Exception as exc:  # the database itself may still be starting
            log.warning("waiting for the database: %s", type(exc).__name__)
        if waited % 10 < SCHEMA_WAIT_POLL_S:
            log.info("waiting for the migration Job to bring the schema to %s (%.0fs)", head_revision(), waited)
        time.sleep(SCHEMA_WAIT_POLL_S)
        waited += SCHEMA_WAIT_POLL_S


__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "current_revision",
    "head_revision",
    "is_postgresql",
    "is_sqlite",
    "make_engine",
    "migrate",
    "normalize_url",
    "prepare_schema",
    "schema_ready",
]
