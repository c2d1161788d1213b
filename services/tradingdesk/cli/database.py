"""``tradingdesk migrate``, ``backup`` and ``restore``: the desk's databases, as the services that own them see
them (``TD_DSN``/``TD_DSN_FILE`` for PostgreSQL, one schema per service; else SQLite files under the data dir).

On Kubernetes the operator's migration Job runs ``tradingdesk migrate`` once per desk version; the services then
only wait for the schema (``TD_MIGRATIONS=wait``). In the embedded runtime every service migrates at start, so
``migrate`` is only needed to prepare a database ahead of time. ``backup`` and ``restore``: storage/backup.py.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from tradingdesk.spec.domain import dsn_for, schema_for
from tradingdesk.spec.load import load_desk
from tradingdesk.spec.model import TradingDesk
from tradingdesk.storage.backup import ORDER, BackupError, ServiceDatabase, backup, restore
from tradingdesk.storage.db import migrate

#: Services with a database.
STATEFUL = ORDER


def databases(desk: TradingDesk, services: list[str] | None = None) -> list[ServiceDatabase]:
    env = dict(os.environ)
    return [ServiceDatabase(s, dsn_for(desk, s, env), schema_for(desk, s)) for s in services or STATEFUL]


def cmd_migrate(args: argparse.Namespace) -> int:
    desk = load_desk(args.file)
    for db in databases(desk, args.service):
        engine = db.engine()
        try:
            revision = migrate(engine)
            print(f"{db.service}: {db.describe(engine)} at revision {revision}", flush=True)
        finally:
            engine.dispose()
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    desk = load_desk(args.file)
    t0 = time.monotonic()
    try:
        manifest = backup(desk.name, databases(desk), Path(args.output))
    except BackupError as exc:
        raise ValueError(f"backup failed: {exc}") from None
    print(_summary("backed up", manifest, time.monotonic() - t0, args.output), flush=True)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    desk = load_desk(args.file)
    t0 = time.monotonic()
    try:
        manifest = restore(Path(args.input), desk.name, databases(desk))
    except BackupError as exc:
        raise ValueError(f"restore failed: {exc}") from None
    print(_summary("restored", manifest, time.monotonic() - t0, args.input), flush=True)
    return 0


def _summary(verb: str, manifest: dict, seconds: float, where: str) -> str:
    rows = ", ".join(f"{s} {manifest['services'][s]['rows']} rows" for s in ORDER)
    return (
        f"{verb} desk {manifest['desk']} ({manifest['backend']}) at journal seq {manifest['journal_seq']}: {rows}; "
        f"{where}; {seconds:.1f}s"
    )


def register(sub: argparse._SubParsersAction) -> None:
    mig = sub.add_parser("migrate", help="bring the desk's databases to this version's schema")
    mig.add_argument("-f", "--file", required=True, help="TradingDesk YAML")
    mig.add_argument(
        "--service", action="append", choices=STATEFUL, help="only this service's database (repeatable; default all)"
    )
    mig.set_defaults(func=cmd_migrate)

    bak = sub.add_parser("backup", help="copy the desk's databases, consistent at one journal position")
    bak.add_argument("-f", "--file", required=True, help="TradingDesk YAML")
    bak.add_argument("-o", "--output", required=True, help="new directory for the backup")
    bak.set_defaults(func=cmd_backup)

    res = sub.add_parser("restore", help="restore a backup into a fresh desk (new database or data directory)")
    res.add_argument("-f", "--file", required=True, help="TradingDesk YAML of the desk to restore into")
    res.add_argument("-i", "--input", required=True, help="directory written by `tradingdesk backup`")
    res.set_defaults(func=cmd_restore)
