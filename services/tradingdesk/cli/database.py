"""``tradingdesk migrate``: the desk's databases, as the services that own them see them.

On Kubernetes the operator's migration Job runs ``tradingdesk migrate`` once per desk version; the services then
only wait for the schema (``TD_MIGRATIONS=wait``). In the embedded runtime every service migrates at start, so
this command is only needed to prepare a database ahead of time.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from sqlalchemy import Engine

from tradingdesk.spec.domain import dsn_for, schema_for
from tradingdesk.spec.load import load_desk
from tradingdesk.spec.model import TradingDesk
from tradingdesk.storage.db import is_postgresql, make_engine, migrate

#: Services with a database, in the order a backup reads them (see backup.py).
STATEFUL = ("compliance", "risk", "routing")


@dataclass(frozen=True, slots=True)
class ServiceDatabase:
    """Where one service of a desk keeps its state."""

    service: str
    dsn: str
    schema: str

    def engine(self, **kwargs: object) -> Engine:
        return make_engine(self.dsn, schema=self.schema, **kwargs)  # type: ignore[arg-type]

    def describe(self, engine: Engine) -> str:
        """Where it is, without the password."""
        where = engine.url.render_as_string(hide_password=True)
        return f"{where} schema {self.schema}" if is_postgresql(engine) else where


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


def register(sub: argparse._SubParsersAction) -> None:
    mig = sub.add_parser("migrate", help="bring the desk's databases to this version's schema")
    mig.add_argument("-f", "--file", required=True, help="TradingDesk YAML")
    mig.add_argument(
        "--service", action="append", choices=STATEFUL, help="only this service's database (repeatable; default all)"
    )
    mig.set_defaults(func=cmd_migrate)
