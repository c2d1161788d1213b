"""Backup and restore of a desk's databases, consistent at one journal position.

A backup is a directory: ``manifest.json`` (what was copied, at which journal seq, at which schema revision,
row counts) and the data, ``<service>.db`` per service for SQLite or one ``desk.dump`` for PostgreSQL.

- **PostgreSQL**: the services share one database, each in its own schema. One ``pg_dump`` of the three schemas
  runs on a snapshot exported by a repeatable-read transaction that also reads the journal position and row
  counts, so the manifest describes exactly what the dump holds: every service at one instant.
- **SQLite**: one file per service, each copied with SQLite's online backup API in a single step (a consistent
  copy while the service keeps writing). The files are copied compliance, routing, risk: risk's halts and limits
  are at least as new as the journal, so a halt is never lost (the few milliseconds between the copies are the
  only gap; PostgreSQL has none).

Compliance's table is the query index of its audit log; the log itself lives in the audit bucket (and the
compliance pod's spool), signed with the desk's key: a restored desk that seals into the same bucket with the
same key rebuilds its spool from the bucket and the unsealed rest from the journal, and drops index rows beyond
it.

``restore`` refuses a database that already holds data of the desk: it rebuilds a fresh desk, it never merges.
After it, the services start as after any restart: routing replays the journal (orders, positions), risk its
change journal (halts, limits), compliance continues its mirror from its last seq.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import URL

from .db import current_revision, is_postgresql, is_sqlite, make_engine, normalize_url

FORMAT = 1
MANIFEST = "manifest.json"
PG_DUMP_FILE = "desk.dump"
#: Copy order (see the module docstring) and each service's own table.
ORDER = ("compliance", "routing", "risk")
TABLES = {"routing": "journal", "risk": "risk_changes", "compliance": "audit_log"}
_SEQ = {"routing": "seq", "compliance": "log_index", "risk": "id"}


class BackupError(RuntimeError):
    """The backup or restore cannot be done; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class ServiceDatabase:
    """Where one service of a desk keeps its state."""

    service: str
    dsn: str
    schema: str

    def engine(self, **kwargs: Any) -> Engine:
        return make_engine(self.dsn, schema=self.schema, **kwargs)

    def describe(self, engine: Engine) -> str:
        """Where it is, without the password."""
        where = engine.url.render_as_string(hide_password=True)
        return f"{where} schema {self.schema}" if is_postgresql(engine) else where


# ----------------------------------------------------------------------------------------------------- backup


def backup(desk: str, databases: list[ServiceDatabase], out: Path) -> dict[str, Any]:
    """Copy the databases of ``desk`` into the new directory ``out``; return the manifest written there."""
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} is not empty: a backup goes into a new directory")
    out.mkdir(parents=True, exist_ok=True)
    by_service = {db.service: db for db in databases}
    if set(by_service) != set(ORDER):
        raise BackupError(f"a backup needs the databases of {', '.join(ORDER)}")
    engines = {s: by_service[s].engine() for s in ORDER}
    try:
        backend = _backend(engines.values())
        started = time.time_ns()
        if backend == "sqlite":
            services = {s: _copy_sqlite(engines[s], out / f"{s}.db", s) for s in ORDER}
        else:
            services = _dump_postgres(by_service, engines, out / PG_DUMP_FILE)
    finally:
        for engine in engines.values():
            engine.dispose()
    manifest = {
        "format": FORMAT,
        "desk": desk,
        "backend": backend,
        "created_ns": started,
        "journal_seq": services["routing"]["last"],
        "services": services,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _backend(engines: Any) -> str:
    kinds = {"sqlite" if is_sqlite(e) else "postgresql" if is_postgresql(e) else e.dialect.name for e in engines}
    if len(kinds) != 1 or not kinds <= {"sqlite", "postgresql"}:
        raise BackupError(f"the services must all use SQLite or all PostgreSQL, not {sorted(kinds)}")
    return kinds.pop()


def _position(conn: Any, service: str) -> dict[str, Any]:
    table, key = TABLES[service], _SEQ[service]
    row = conn.execute(text(f"SELECT count(*), coalesce(max({key}), 0) FROM {table}")).one()
    return {"rows": int(row[0]), "last": int(row[1])}


def _copy_sqlite(engine: Engine, target: Path, service: str) -> dict[str, Any]:
    source = engine.url.database
    if not source or not Path(source).is_file():
        raise BackupError(f"no SQLite database at {source}: is this the desk's data directory?")
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # one step: a consistent copy even while the service writes
    finally:
        src.close()
        dst.close()
    copy = make_engine(f"sqlite:///{target}")
    try:
        with copy.connect() as conn:
            info = _position(conn, service)
        info["revision"] = current_revision(copy)
    finally:
        copy.dispose()
    return info


def _dump_postgres(
    by_service: dict[str, ServiceDatabase], engines: dict[str, Engine], target: Path
) -> dict[str, dict[str, Any]]:
    urls = {normalize_url(db.dsn).set(query={}) for db in by_service.values()}
    if len(urls) != 1:
        raise BackupError("on PostgreSQL a desk's services share one database (one URL); these use several")
    services: dict[str, dict[str, Any]] = {}
    engine = engines["routing"]
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        # The snapshot pg_dump reads is the one this transaction reads: the positions below are the dump's.
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
        for service in ORDER:
            schema = by_service[service].schema
            conn.exec_driver_sql(f"SET LOCAL search_path TO {schema}")
            info = _position(conn, service)
            info["revision"] = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            info["schema"] = schema
            services[service] = info
        args = ["--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}", f"--file={target}"]
        args += [f"--schema={by_service[s].schema}" for s in ORDER]
        _run_pg("pg_dump", args, engine.url)
        conn.rollback()
    return services


# ----------------------------------------------------------------------------------------------------- restore


def read_manifest(source: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{source} holds no {MANIFEST}: not a tradingdesk backup") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source}: backup format {manifest.get('format')}, this version reads {FORMAT}")
    return manifest


def restore(source: Path, desk: str, databases: list[ServiceDatabase]) -> dict[str, Any]:
    """Restore the backup in ``source`` into the (fresh) databases of ``desk``; return the backup's manifest."""
    manifest = read_manifest(source)
    by_service = {db.service: db for db in databases}
    engines = {s: by_service[s].engine() for s in ORDER}
    try:
        backend = _backend(engines.values())
        if backend != manifest["backend"]:
            raise BackupError(f"the backup is of {manifest['backend']}, the desk uses {backend}")
        for service, engine in engines.items():
            _require_fresh(engine, service, by_service[service])
        if backend == "sqlite":
            for service, engine in engines.items():
                _restore_sqlite(source / f"{service}.db", engine)
        else:
            _restore_postgres(source / PG_DUMP_FILE, manifest, by_service, engines["routing"])
        for service, engine in engines.items():
            with engine.connect() as conn:
                found = _position(conn, service)
            want = manifest["services"][service]
            if (found["rows"], found["last"]) != (want["rows"], want["last"]):
                raise BackupError(f"{service}: restored {found}, the backup says {want}")
    finally:
        for engine in engines.values():
            engine.dispose()
    return manifest


def _require_fresh(engine: Engine, service: str, db: ServiceDatabase) -> None:
    table = TABLES[service]
    if is_sqlite(engine):
        path = Path(engine.url.database or "")
        if not path.is_file():
            return
    elif db.schema not in inspect(engine).get_schema_names():
        return
    if not inspect(engine).has_table(table):
        return
    with engine.connect() as conn:
        rows = int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() or 0)
    if rows:
        raise BackupError(
            f"{service}: {db.describe(engine)} already holds {rows} rows of {table}: restore into a fresh desk "
            "(a new database, or a new data directory)"
        )


def _restore_sqlite(copy: Path, engine: Engine) -> None:
    target = Path(engine.url.database or "")
    target.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
        leftover.unlink(missing_ok=True)  # an empty database of a desk that never traded
    src = sqlite3.connect(copy)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def _restore_postgres(
    dump: Path, manifest: dict[str, Any], by_service: dict[str, ServiceDatabase], engine: Engine
) -> None:
    """pg_restore in one transaction; schemas of another desk name are renamed to this desk's afterwards."""
    renames = {manifest["services"][s]["schema"]: by_service[s].schema for s in ORDER}
    existing = set(inspect(engine).get_schema_names())
    with engine.begin() as conn:
        for schema in renames.values():  # empty schemas of a desk that started but never traded
            if schema in existing:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    clash = {old for old, new in renames.items() if old != new and old in existing}
    if clash:
        raise BackupError(f"the database already has the schemas {sorted(clash)} of the backed-up desk")
    _run_pg("pg_restore", ["--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error", str(dump)],
            engine.url)  # fmt: skip
    with engine.begin() as conn:
        for old, new in renames.items():
            if old != new:
                conn.exec_driver_sql(f"ALTER SCHEMA {old} RENAME TO {new}")


# ----------------------------------------------------------------------------------------------------- tools


def _conninfo(url: URL) -> str:
    """libpq conninfo of ``url`` without the password (it goes through PGPASSWORD, never a command line)."""
    parts = {"host": url.host, "port": url.port, "user": url.username, "dbname": url.database}
    parts.update({k: v for k, v in url.query.items() if isinstance(v, str)})
    return " ".join(f"{k}={_quote(str(v))}" for k, v in parts.items() if v not in (None, ""))


def _quote(value: str) -> str:
    return value if re.fullmatch(r"[\w.\-/:]+", value) else "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def pg_tool(name: str) -> str:
    """``pg_dump``/``pg_restore``: on PATH, in $TD_PG_BINDIR, or the newest /usr/lib/postgresql/*/bin."""
    candidates = [os.path.join(os.environ["TD_PG_BINDIR"], name)] if os.environ.get("TD_PG_BINDIR") else []
    if found := shutil.which(name):
        candidates.append(found)
    candidates += sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version, reverse=True)
    for path in candidates:
        if os.access(path, os.X_OK):
            return path
    raise BackupError(f"{name} not found: install the PostgreSQL client tools or set TD_PG_BINDIR")


def _version(path: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", path)) or (0,)


def _run_pg(tool: str, args: list[str], url: URL) -> None:
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    run = subprocess.run([pg_tool(tool), *args, f"--dbname={_conninfo(url)}"], env=env, capture_output=True, text=True)
    if run.returncode != 0:
        raise BackupError(f"{tool} failed ({run.returncode}): {run.stderr.strip()[-2000:]}")


__all__ = ["BackupError", "ServiceDatabase", "backup", "pg_tool", "read_manifest", "restore"]
