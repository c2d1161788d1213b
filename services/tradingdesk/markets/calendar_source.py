"""Exchange calendars from ``exchange_calendars`` (a maintained library of sessions, holidays and early closes
for ~70 exchanges), turned once into plain ``ExchangeCalendar`` objects.

The library (and pandas under it) is imported only here and only when a calendar is first needed, so modules
that never ask for one do not pay for the import; each exchange is loaded once per process and range. What the
library computed is also kept on disk (``~/.cache/tradingdesk/exchange_calendars-<version>/``, or under
``TD_CACHE_DIR``), keyed by the library's version, the exchange, the range and the day it was computed: the
next service that starts that day reads plain integers and never imports pandas (a few milliseconds instead
of seconds). A cache that cannot be read or written is simply not used.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable
from datetime import date
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

from tradingdesk.markets.calendar import ExchangeCalendar, Session
from tradingdesk.spec.conduct import EXCHANGES
from tradingdesk.spec.model import TradingDesk

CACHE_ENV = "TD_CACHE_DIR"


class UnknownExchangeError(ValueError):
    """A market identifier code with no calendar."""


def _ns(column: Any) -> list[int]:
    """A pandas column of UTC timestamps (NaT allowed) as int ns, 0 where missing."""
    values = column.to_numpy(dtype="datetime64[ns]").astype("int64").tolist()
    nat = -(1 << 63)
    return [0 if v == nat else v for v in values]


@lru_cache(maxsize=64)
def _sessions(exchange: str, start: date | None, end: date | None) -> tuple[tuple[Session, ...], str]:
    if exchange not in EXCHANGES:
        raise UnknownExchangeError(f"{exchange!r} is not an exchange with a calendar (one of {', '.join(EXCHANGES)})")
    path = _cache_path(exchange, start, end)
    try:
        cached = json.loads(path.read_text())
        return tuple(Session(date.fromisoformat(d), *rest) for d, *rest in cached["sessions"]), cached["tz"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    sessions, tz = _compute(exchange, start, end)
    rows = [
        [s.day.isoformat(), s.open_ns, s.close_ns, s.break_start_ns, s.break_end_ns, s.early_close] for s in sessions
    ]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"tz": tz, "sessions": rows}))
        tmp.replace(path)  # atomic: a concurrent reader sees the old file or the whole new one
    except OSError:
        pass
    return sessions, tz


def _cache_path(exchange: str, start: date | None, end: date | None) -> Path:
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "tradingdesk")
    lib = f"exchange_calendars-{version('exchange_calendars')}"
    # The library's default range ends a year after today: what it computed is today's answer.
    return root / lib / f"{exchange}-{start or 'default'}-{end or 'default'}-{date.today()}.json"


def _compute(exchange: str, start: date | None, end: date | None) -> tuple[tuple[Session, ...], str]:
    import exchange_calendars

    with warnings.catch_warnings():
        # exchange_calendars 4.13 reads Series.values, which pandas 3.1 deprecates: the library's, not ours.
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        cal = exchange_calendars.get_calendar(exchange, start=start, end=end)
    schedule = cal.schedule
    early = {ts.date() for ts in cal.early_closes}
    days = [ts.date() for ts in schedule.index]
    opens, closes = _ns(schedule["open"]), _ns(schedule["close"])
    break_starts, break_ends = _ns(schedule["break_start"]), _ns(schedule["break_end"])
    sessions = tuple(
        Session(day, o, c, bs, be, day in early)
        for day, o, c, bs, be in zip(days, opens, closes, break_starts, break_ends, strict=True)
    )
    return sessions, str(cal.tz)


def load_calendar(
    exchange: str,
    *,
    start: date | None = None,
    end: date | None = None,
    pre_open_minutes: int = 0,
    post_close_minutes: int = 0,
) -> ExchangeCalendar:
    """The calendar of ``exchange`` (an ISO 10383 MIC such as XNYS) between two dates (default: the library's
    range, about twenty years back to one year ahead); raises UnknownExchangeError for an unknown code."""
    sessions, tz = _sessions(exchange, start, end)
    return ExchangeCalendar(
        exchange,
        sessions,
        timezone=tz,
        pre_open_minutes=pre_open_minutes,
        post_close_minutes=post_close_minutes,
    )


def desk_calendars(
    desk: TradingDesk, *, start: date | None = None, end: date | None = None
) -> dict[str, ExchangeCalendar]:
    """Each instrument's calendar (its listing exchange, with the desk's extended-hours windows), by symbol;
    instruments on one exchange share one calendar object."""
    hours = desk.spec.conduct.market_hours
    by_exchange: dict[str, ExchangeCalendar] = {}
    for exchange in _exchanges(desk):
        by_exchange[exchange] = load_calendar(
            exchange,
            start=start,
            end=end,
            pre_open_minutes=hours.pre_open_minutes,
            post_close_minutes=hours.post_close_minutes,
        )
    return {i.symbol: by_exchange[i.listing.exchange] for i in desk.spec.instruments}


def _exchanges(desk: TradingDesk) -> Iterable[str]:
    return dict.fromkeys(i.listing.exchange for i in desk.spec.instruments)
