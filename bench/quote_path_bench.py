"""The simulated venues' market-data path as routing drives it: every quote and trade of the synthetic open, given to
the three venues of the example desk, with client orders resting 1% under the bid as the simulation's strategies
keep them (``tradingdesk/simulate/clients.py``).

The figure is the venues' time per market event. Its baseline, measured in the same run, reads every book after
every quote (the top of book), so that no ladder waits (``venues/book.py``): what every quote cost when each one
rebuilt the books.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from bench.report import figure
from tradingdesk.core.clock import ManualClock
from tradingdesk.core.enums import OrderType, Side, TimeInForce
from tradingdesk.core.instruments import Instrument
from tradingdesk.feeds.events import QUOTE, MarketEvent
from tradingdesk.feeds.synthetic import generate_session
from tradingdesk.spec.domain import instruments_of
from tradingdesk.spec.load import load_desk
from tradingdesk.venues.base import VenueOrder
from tradingdesk.venues.scheduling import ManualScheduler
from tradingdesk.venues.simulated import SimulatedVenue

EVENTS = 60_000
"""About four market minutes of the open (the busiest data of the day)."""
DESK = Path(__file__).resolve().parents[1] / "examples" / "desk.yaml"


class _Listener:
    """Takes every venue callback and keeps nothing."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args: None


def _events() -> tuple[dict[str, Instrument], list[MarketEvent]]:
    instruments = instruments_of(load_desk(DESK))
    events: list[MarketEvent] = []
    for event in generate_session(list(instruments.values()), seed=7):
        events.append(event)
        if len(events) >= EVENTS:
            break
    return instruments, events


def _us_per_event(instruments: dict[str, Instrument], events: list[MarketEvent], *, read_every_quote: bool) -> float:
    clock = ManualClock()
    scheduler = ManualScheduler(clock)
    venues = [
        SimulatedVenue(name, instruments=instruments, listener=_Listener(), scheduler=scheduler, clock=clock)
        for name in ("xnys", "xnas", "bats")
    ]
    resting = 0
    spent = 0.0
    for i, e in enumerate(events):
        started = time.perf_counter()
        if e.kind == QUOTE:
            for venue in venues:
                venue.on_quote(e.symbol, e.bid_price, e.bid_qty, e.ask_price, e.ask_qty, e.ts_ns)
                if read_every_quote:
                    venue.top_of_book(e.symbol)
        else:
            for venue in venues:
                venue.on_trade(e.symbol, e.price, e.qty, e.ts_ns)
        spent += time.perf_counter() - started
        if e.kind == QUOTE and i % 50 == 0:  # a client order now and then, as the strategies send them
            resting += 1
            instrument = instruments[e.symbol]
            price = e.bid_price * 99 // 100 // instrument.tick_size * instrument.tick_size
            qty = instrument.lot_size
            order = VenueOrder(f"r{resting}", e.symbol, Side.BUY, OrderType.LIMIT, qty, price, TimeInForce.DAY)
            venues[resting % len(venues)].submit(order)
            scheduler.run_all()
    return spent / len(events) * 1e6


def run() -> list[dict]:
    instruments, events = _events()
    value = min(_us_per_event(instruments, events, read_every_quote=False) for _ in range(3))
    baseline = min(_us_per_event(instruments, events, read_every_quote=True) for _ in range(3))
    return [figure("venue_quote_path_us", value, "us/event", baseline)]


if __name__ == "__main__":
    run()
    sys.exit(0)
