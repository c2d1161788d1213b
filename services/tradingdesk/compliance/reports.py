"""Execution quality and the CAT export of a trade date, from what the conduct watch stored (the journal's order
activity and the market tape).

A trade date is a calendar day in a time zone: the desk's exchange's for execution quality, New York's for
CAT (its timestamps and trade dates are Eastern time). Orders live across days (GTC), so the CAT export also
reads the earlier activity of the orders it reports, which gives each its key date and lineage.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tradingdesk.cat.records import NEW_YORK, CatExporter
from tradingdesk.cat.schema import validate_all
from tradingdesk.core.activity import Activity, MarketActivity, OrderActivity
from tradingdesk.core.clock import NS_PER_SECOND
from tradingdesk.spec.conduct import CatSpec
from tradingdesk.storage.conduct_store import ConductStore
from tradingdesk.tca.orders import OrderQuality, group_orders, order_quality
from tradingdesk.tca.tape import MarketTape
from tradingdesk.tca.venues import VenueQuality, venues_quality

QUOTE_LOOKBACK_NS = 3600 * NS_PER_SECOND
"""Market data read before the first order, so its arrival has the quote then in force."""


class NoSuchOrder(LookupError):
    pass


def day_bounds(day: date, timezone: str) -> tuple[int, int]:
    """[start, end) of a calendar day in ``timezone``, in ns since the Unix epoch."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time(), zone)
    end = datetime.combine(day + timedelta(days=1), time(), zone)
    return int(start.timestamp()) * NS_PER_SECOND, int(end.timestamp()) * NS_PER_SECOND


def trade_date_of(ts_ns: int, timezone: str) -> date:
    return datetime.fromtimestamp(ts_ns // NS_PER_SECOND, ZoneInfo(timezone)).date()


def _tape(store: ConductStore, activities: list[OrderActivity], start: int, end: int) -> MarketTape:
    symbols = {a.symbol for a in activities}
    events: list[MarketActivity] = store.tape(since_ns=start - QUOTE_LOOKBACK_NS, until_ns=end, symbols=symbols)
    events.sort(key=lambda ev: ev.ts_ns)  # stable: events of one instant keep the order they came in
    return MarketTape(events)


def execution_quality(
    store: ConductStore, *, timezone: str, day: date | None = None, order_id: str = "", account: str = ""
) -> tuple[date, list[OrderQuality], list[VenueQuality]]:
    """The trade date, each order's measures, and each venue's (of the orders measured)."""
    if order_id:
        own = store.activities(order_ids=[order_id])
        if not own:
            raise NoSuchOrder(f"order_id: {order_id!r} has no order activity on record")
        day = trade_date_of(own[0][1].ts_ns, timezone)
    assert day is not None
    start, end = day_bounds(day, timezone)
    activities = [a for _, a in store.activities(since_ns=start, until_ns=end)]
    groups = group_orders(activities)
    chosen = [
        events
        for events in groups.values()
        if events[0].kind is Activity.NEW
        and (not account or events[0].account == account)
        and (not order_id or any(e.order_id == order_id for e in events))
    ]
    tape = _tape(store, [e for events in chosen for e in events], start, end)
    orders = [order_quality(events, tape) for events in chosen]
    return day, orders, venues_quality(orders)


def cat_records(store: ConductStore, spec: CatSpec, day: date) -> list[dict[str, Any]]:
    """The CAT records of ``day`` (New York time), validated against the shipped schema (ValueError names the
    first invalid record)."""
    start, end = day_bounds(day, NEW_YORK)
    today = store.activities(since_ns=start, until_ns=end)
    related = {a.order_id for _, a in today} | {a.prior_order_id for _, a in today if a.prior_order_id}
    related |= {a.parent_order_id for _, a in today if a.parent_order_id}
    related.discard("")
    earlier = store.activities(until_ns=start, order_ids=related) if related else []
    exporter = CatExporter(spec, day)
    records = list(exporter.records(a for _, a in [*earlier, *today]))
    validate_all(records)
    return records
