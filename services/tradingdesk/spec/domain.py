"""Domain objects derived from the spec, shared by every service that needs them."""

from __future__ import annotations

import os
from pathlib import Path

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
    """The database of one service: ``TD_DSN``, else ``spec.storage.dsn``, else SQLite under the data dir.

    Each service gets its own SQLite file so they can run as separate processes without sharing locks; with
    PostgreSQL they share one database and their own tables.
    """
    env = os.environ if environ is None else environ
    if env.get("TD_DSN"):
        return env["TD_DSN"]
    if desk.spec.storage.dsn:
        return desk.spec.storage.dsn
    return f"sqlite:///{data_dir(desk, env) / f'{service}.db'}"


def data_dir(desk: TradingDesk, environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    root = Path(env.get("TD_DATA_DIR", desk.spec.storage.data_dir))
    return root / desk.name
