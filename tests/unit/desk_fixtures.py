"""Builders for an order engine wired to real simulated venues, a manual clock and an in-memory journal.

The journal here is a list that round-trips payloads through JSON exactly like the database journal does,
so rebuild tests see what a restart would see.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tradingdesk.core.clock import ManualClock
from tradingdesk.core.enums import OrderType, Side, TimeInForce
from tradingdesk.core.fixed import parse_fixed
from tradingdesk.core.instruments import Instrument
from tradingdesk.oms.engine import OrderEngine
from tradingdesk.oms.requests import NewOrder
from tradingdesk.oms.router import Router
from tradingdesk.risk.gate import RiskGate
from tradingdesk.risk.gate.self_match import SelfMatchPolicy
from tradingdesk.risk.limits import Limits
from tradingdesk.storage.journal import JournalRecord
from tradingdesk.venues.scheduling import ManualScheduler
from tradingdesk.venues.simulated import SimulatedVenue

D = parse_fixed

INSTRUMENTS = {
    "AAPL": Instrument("AAPL", D("0.01"), D("1"), "technology"),
    "MSFT": Instrument("MSFT", D("0.01"), D("1"), "technology"),
}


@dataclass
class ListJournal:
    records: list[JournalRecord] = field(default_factory=list)

    def append(self, kind: str, order_id: str, payload: dict[str, Any], ts_ns: int, event: Any = None) -> int:
        """Like ``Journal.append``; the record keeps the payload as a database read would give it back (no
        event), so rebuild and report tests decode it through the codec."""
        seq = len(self.records) + 1
        self.records.append(JournalRecord(seq, ts_ns, kind, order_id, json.loads(json.dumps(payload))))
        return seq

    def kinds(self, order_id: str | None = None) -> list[str]:
        return [r.kind for r in self.records if order_id is None or r.order_id == order_id]


@dataclass
class Desk:
    engine: OrderEngine
    journal: ListJournal
    clock: ManualClock
    scheduler: ManualScheduler
    venues: dict[str, SimulatedVenue]
    gate: RiskGate

    def quote(self, symbol: str, bid: str, bid_qty: str, ask: str, ask_qty: str) -> None:
        now = self.clock.now_ns()
        for v in self.venues.values():
            v.on_quote(symbol, D(bid), D(bid_qty), D(ask), D(ask_qty), now)
        self.gate.on_quote_heartbeat(symbol, now)

    def trade(self, symbol: str, price: str, qty: str) -> None:
        now = self.clock.now_ns()
        self.gate.on_trade(symbol, D(price), now)
        self.engine.on_trade_print(symbol, D(price))
        for v in self.venues.values():
            v.on_trade(symbol, D(price), D(qty), now)

    def settle(self) -> None:
        self.scheduler.run_all()

    def priced(self) -> Desk:
        """A last trade and a quote on AAPL (100.00) and MSFT (400.00): the gate has its reference prices and
        the venues' books a market. Returns the desk."""
        self.trade("AAPL", "100.00", "10")
        self.quote("AAPL", "99.99", "200", "100.01", "200")
        self.trade("MSFT", "400.00", "10")
        self.quote("MSFT", "399.99", "100", "400.01", "100")
        return self


def default_limits(**overrides: Any) -> Limits:
    values: dict[str, Any] = {
        "max_order_quantity": D("10000"),
        "max_order_notional": D("1000000"),
        "price_collar_bps": 500,
        "reference_max_age_ms": 5_000,
        "restricted_symbols": frozenset(),
        "max_submits_per_second": 1000,
    }
    values.update(overrides)
    return Limits(**values)


def make_desk(
    limits: Limits | None = None,
    journal: ListJournal | None = None,
    venues: tuple[str, ...] = ("xnys", "xnas"),
    clock: ManualClock | None = None,
    gate: RiskGate | None = None,
    self_match: SelfMatchPolicy | None = None,
    finished_orders_kept: int | None = None,
) -> Desk:
    """``gate``: one built by the caller (a subclass); ``limits`` is then ignored. ``finished_orders_kept``: retire
    older finished orders from memory (``oms/retired.py``)."""
    clock = clock or ManualClock()
    scheduler = ManualScheduler(clock)
    gate = gate or RiskGate(limits or default_limits(), self_match=self_match, stream_clock=clock)
    journal = journal or ListJournal()
    venue_map: dict[str, SimulatedVenue] = {}
    router = Router(
        venue_map,
        symbols_by_venue={n: frozenset() for n in venues},
        taker_fees={n: D("0.003") for n in venues},
        default_venue=venues[0],
    )
    engine = OrderEngine(
        instruments=INSTRUMENTS,
        gate=gate,
        router=router,
        venues=venue_map,
        journal_append=journal.append,
        clock=clock,
        scheduler=scheduler,
        finished_orders_kept=finished_orders_kept,
    )
    for i, name in enumerate(venues):
        venue_map[name] = SimulatedVenue(
            name,
            instruments=INSTRUMENTS,
            listener=engine,
            scheduler=scheduler,
            clock=clock,
            latency_us=100 + 10 * i,
            maker_fee_per_unit=-D("0.002"),
            taker_fee_per_unit=D("0.003"),
            impact_coefficient_bps=10,
            depth_levels=3,
            id_prefix=f"{name}-X",
        )
    return Desk(engine, journal, clock, scheduler, venue_map, gate)


def order(
    cl: str = "c1",
    side: Side = Side.BUY,
    qty: str = "100",
    price: str = "100.00",
    symbol: str = "AAPL",
    tif: TimeInForce = TimeInForce.DAY,
    order_type: OrderType = OrderType.LIMIT,
    account: str = "ACC",
    expire_ns: int = 0,
    venue: str = "",
) -> NewOrder:
    return NewOrder(
        client_order_id=cl,
        account=account,
        strategy="",
        symbol=symbol,
        side=side,
        order_type=order_type,
        qty=D(qty),
        price=D(price) if order_type == OrderType.LIMIT else 0,
        tif=tif,
        expire_ns=expire_ns,
        venue=venue,
    )
