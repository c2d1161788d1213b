"""Domain objects derived from the spec, shared by every service that needs them."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from tradingdesk.core.instruments import Instrument
from tradingdesk.spec.model import TradingDesk
from tradingdesk.spec.types import units


def instruments_of(desk: TradingDesk) -> dict[str, Instrument]:
    return {
        i.symbol: Instrument(
            symbol=i.symbol,
            tick_size=units(i.tick_size),
            lot_size=units(i.lot_size),
            sector=i.sector,
            currency=i.currency,
            reference_price=units(i.reference_price),
        )
        for i in desk.spec.instruments
    }


def dsn_for(desk: TradingDesk, service: str, environ: dict[str, str] | None = None) -> str:
    """The database of one service: ``TD_DSN``, else the file ``TD_DSN_FILE`` names (on Kubernetes, the
    operator mounts ``spec.storage.postgres.secretRef`` there), else SQLite under the data dir.

    Each service gets its own SQLite file so they can run as separate processes without sharing locks; with
    PostgreSQL they share one database, each in its own schema (``schema_for``).
    """
    env = os.environ if environ is None else environ
    if env.get("TD_DSN"):
        return env["TD_DSN"]
    if env.get("TD_DSN_FILE"):
        dsn = _read_dsn_file(env["TD_DSN_FILE"])
        _check_port(desk, dsn)
        return dsn
    return f"sqlite:///{data_dir(desk, env) / f'{service}.db'}"


def _read_dsn_file(path: str) -> str:
    try:
        dsn = Path(path).read_text().strip()
    except OSError as exc:
        raise ValueError(f"TD_DSN_FILE={path}: cannot read the database URL: {exc.strerror}") from None
    if not dsn:
        raise ValueError(f"TD_DSN_FILE={path}: the file is empty (the Secret key holds no database URL)")
    return dsn


def _check_port(desk: TradingDesk, dsn: str) -> None:
    """The URL must dial the port the desk's NetworkPolicy opens, or every write would time out on a cluster
    that enforces policies; say so at start instead."""
    postgres = desk.spec.storage.postgres
    if postgres is None:
        return
    try:
        port = urlsplit(dsn).port or 5432
    except ValueError:
        raise ValueError("the database URL in TD_DSN_FILE has an invalid port") from None
    if port != postgres.port:
        raise ValueError(
            f"the database URL in TD_DSN_FILE dials port {port} but spec.storage.postgres.port is "
            f"{postgres.port}: the desk's NetworkPolicy opens only {postgres.port}"
        )


def schema_for(desk: TradingDesk, service: str) -> str:
    """The PostgreSQL schema of one service of a desk: ``<desk>_<service>`` (hyphens become underscores; desk
    names have no underscores, so two desks never map to one schema). At most 63 characters, PostgreSQL's
    limit, because desk names are at most 52."""
    return f"{desk.name.replace('-', '_')}_{service}"


def data_dir(desk: TradingDesk, environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    root = Path(env.get("TD_DATA_DIR", desk.spec.storage.data_dir))
    return root / desk.name
