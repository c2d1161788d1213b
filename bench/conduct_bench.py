"""Market conduct benchmark: how many events per second the compliance service's surveillance takes in.

* ``surveillance_rate`` (events/s): the conduct watch (``compliance/conduct.py``) fed a busy session as its
  subscriptions would feed it: journal records as encoded on the wire (decoded with the one codec, turned
  into activity, merged in time order with the market) and market data (quotes and trades), every detector
  on, the activity and the tape stored in SQLite beside the intake (as the service does), the detectors
  stepped every 1,000 events. The
  session is an order engine on simulated venues trading the synthetic market: orders resting and
  cancelled, orders crossing the spread, fills from the tape. Baseline: twice ``order_session_rate``
  measured earlier in the same run (``make bench`` runs the order path first); the ratio must stay above 1.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from bench.report import figure
from tests.unit.desk_fixtures import INSTRUMENTS, default_limits, make_desk, order
from tradingdesk.compliance.conduct import ConductWatch
from tradingdesk.core.activity import MarketPrint
from tradingdesk.core.clock import NS_PER_SECOND, ManualClock
from tradingdesk.core.enums import SelfMatchMode, Side, TimeInForce
from tradingdesk.core.fixed import format_fixed
from tradingdesk.feeds.events import QUOTE
from tradingdesk.feeds.synthetic import generate_session
from tradingdesk.markets.calendar_source import load_calendar
from tradingdesk.oms.requests import OrderRef
from tradingdesk.risk.gate.self_match import SelfMatchPolicy
from tradingdesk.spec import parse_desk
from tradingdesk.storage.conduct_store import ConductStore
from tradingdesk.storage.db import make_engine, migrate

MARKET_EVENTS = 60_000
ORDER_EVERY = 3  # an order for every few market events
OPEN_NS = 1_719_927_000 * NS_PER_SECOND  # 2024-07-02 09:30 New York
STEP_EVERY = 1_000


def _desk_spec():
    return parse_desk(
        {
            "apiVersion": "tradingdesk.io/v1alpha1",
            "kind": "TradingDesk",
            "metadata": {"name": "bench"},
            "spec": {
                "instruments": [{"symbol": s} for s in INSTRUMENTS],
                "accounts": [{"name": "ACC"}, {"name": "ACC2"}],
                "feeds": [{"name": "f"}],
                "venues": [{"name": "xnys"}, {"name": "xnas"}],
                "conduct": {"surveillance": {"beneficialOwners": [{"name": "fund", "accounts": ["ACC", "ACC2"]}]}},
            },
        }
    )


def session() -> list[tuple[str, tuple]]:
    """A busy session as the watch receives it: ("journal", record) and ("market", event), in arrival order."""
    clock = ManualClock(OPEN_NS)
    d = make_desk(
        default_limits(max_submits_per_second=0, price_collar_bps=2_000, max_order_quantity=10**15),
        clock=clock,
        self_match=SelfMatchPolicy("account", SelfMatchMode.CANCEL_NEWEST),
    )
    out: list[tuple[str, tuple]] = []
    seen = 0
    last_bid: dict[str, int] = {}
    traded: set[str] = set()
    open_orders: list[tuple[str, str]] = []
    events = generate_session(list(INSTRUMENTS.values()), seed=7, session_seconds=23_400)
    for n, ev in zip(range(MARKET_EVENTS), events, strict=False):
        d.scheduler.advance(max(0, OPEN_NS + ev.ts_ns - clock.now_ns()) / NS_PER_SECOND)
        now = clock.now_ns()
        if ev.kind == QUOTE:
            d.quote(ev.symbol, *(format_fixed(v) for v in (ev.bid_price, ev.bid_qty, ev.ask_price, ev.ask_qty)))
            last_bid[ev.symbol] = ev.bid_price
            out.append(("quote", (ev.symbol, ev.bid_price, ev.ask_price, ev.bid_qty, ev.ask_qty, now)))
        else:
            d.trade(ev.symbol, format_fixed(ev.price), format_fixed(ev.qty))
            traded.add(ev.symbol)
            out.append(("market", (MarketPrint(now, ev.symbol, ev.price, ev.qty),)))
        if n % ORDER_EVERY == 0 and ev.symbol in last_bid and ev.symbol in traded:
            account = "ACC" if n % 2 else "ACC2"
            k = n // ORDER_EVERY
            if k % 4 == 3 and open_orders:  # cancel one that rests
                acct, oid = open_orders.pop(0)
                if d.engine.orders[oid].is_open:
                    d.engine.cancel(OrderRef(acct, oid, ""))
            elif k % 4 == 2:  # cross the spread, buying and selling in turn: wash trades for the detector
                buy = k % 8 == 2
                price = format_fixed(last_bid[ev.symbol] * (102 if buy else 98) // 100 // 10_000_000 * 10_000_000)
                side = Side.BUY if buy else Side.SELL
                d.engine.submit(
                    order(
                        cl=f"x{n}",
                        account=account,
                        symbol=ev.symbol,
                        side=side,
                        qty="10",
                        price=price,
                        tif=TimeInForce.IOC,
                    )
                )
            else:  # rest below the bid
                price = format_fixed(last_bid[ev.symbol] * 99 // 100 // 10_000_000 * 10_000_000)
                ack = d.engine.submit(
                    order(cl=f"r{n}", account=account, symbol=ev.symbol, side=Side.BUY, qty="10", price=price)
                )
                open_orders.append((account, ack.order.order_id))
        d.scheduler.advance(0.001)
        for r in d.journal.records[seen:]:
            out.append(("journal", (r.seq, r.kind, r.order_id, r.ts_ns, json.dumps(r.payload))))
        seen = len(d.journal.records)
    return out


async def surveillance_rate(feed: list[tuple[str, tuple]]) -> tuple[float, int]:
    calendar = load_calendar("XNYS", start=date(2024, 6, 3), end=date(2024, 12, 31))
    with tempfile.TemporaryDirectory(prefix="td-bench-conduct-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'compliance.db'}")
        migrate(engine)
        clock = ManualClock(OPEN_NS)
        watch = ConductWatch(
            _desk_spec(), store=ConductStore(engine), clock=clock, calendars=dict.fromkeys(INSTRUMENTS, calendar)
        )
        done = asyncio.Event()

        async def store() -> None:  # as the service does: storage runs beside the intake, not in its way
            while not done.is_set():
                await watch.flush()
                await asyncio.sleep(0.05)

        t0, cpu0 = time.perf_counter(), time.process_time()
        storing = asyncio.create_task(store())
        for i, (kind, args) in enumerate(feed, 1):
            if kind == "journal":
                watch.take_journal(*args)
            elif kind == "quote":
                symbol, bid, ask, bid_qty, ask_qty, ts = args
                clock.set(max(ts, clock.now_ns()))
                watch.take_quote(symbol, bid=bid, ask=ask, bid_qty=bid_qty, ask_qty=ask_qty, ts_ns=ts)
            else:
                watch.take_market(*args)
            if i % STEP_EVERY == 0:
                watch.detect(clock.now_ns())
                await asyncio.sleep(0)  # the subscriptions' loop turns: the storage task gets its share
        watch.detect(clock.now_ns() + 3_600 * NS_PER_SECOND)
        done.set()
        await storing
        await watch.flush()
        elapsed = time.perf_counter() - t0
        print(
            f"# surveillance: {watch.events / (time.process_time() - cpu0):.0f} events per CPU second", file=sys.stderr
        )
        engine.dispose()
    return watch.events / elapsed, len(watch.monitor.alerts)


def run(previous: list[dict] | None = None) -> list[dict]:
    rate_row = next((r for r in previous or () if r["name"] == "order_session_rate"), None)
    feed = session()
    rate, alerts = asyncio.run(surveillance_rate(feed))
    print(f"# surveillance: {len(feed)} events, {alerts} alerts", file=sys.stderr)
    baseline = 2 * rate_row["value"] if rate_row else 0.0
    if not rate_row:
        print("# surveillance_rate: no order_session_rate in this run, so no baseline", file=sys.stderr)
    return [figure("surveillance_rate", rate, "events/s", baseline, lower_is_better=False)]


if __name__ == "__main__":
    run()
