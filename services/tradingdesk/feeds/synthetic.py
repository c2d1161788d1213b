"""A deterministic synthetic trading session: top-of-book quotes and trades for each instrument.

Replayed desks, tests and benchmarks need market data that looks like a real equities day without shipping
recorded files, and that is identical on every run of a seed. The model, per symbol:

* **Price**: a log-price random walk (geometric Brownian motion without drift) starting at the instrument's
  reference price, stepped at every event time. Volatility per second is the symbol's annual volatility
  scaled to a 252-day year of ``session_seconds`` days, times the intraday profile ``v(t)``.
* **Intraday profiles**: ``shape(t) = 1 + a_open * exp(-t / tau) + a_close * exp(-(T - t) / tau)`` with
  ``tau = tau_fraction * T`` (T = session length), a U shape: busiest and most volatile at the open,
  calm at mid-day, busy again into the close. Volatility, quote intensity and trade intensity each have
  their own ``a_open``/``a_close``.
* **Arrivals**: one inhomogeneous Poisson process per symbol with intensity ``quote_rate + trade_rate``
  (each times its profile); an arrival is a trade with probability ``trade_rate / (quote_rate +
  trade_rate)`` at that moment, otherwise a quote. The first event of every symbol is a quote.
* **Quotes**: the spread is ``base_spread_ticks * v(t)`` times log-normal noise, at least one tick, so it
  widens when volatility is high. Bid and ask straddle the mid on the instrument's tick grid, bid >= 1 tick.
  Sizes are round lots (``round_lot`` x lot size) times a Pareto draw: mostly 1-3 lots, sometimes dozens.
* **Trades**: print at the prevailing quote: at the ask or the bid (aggressor buys/sells) or, when the
  spread is wider than a tick, on a tick strictly inside it. Sizes: round lots with a heavier Pareto tail.

Floats are used only inside the walk; every emitted price and size is snapped to its grid as an int.
Per-symbol random streams are seeded from ``(seed, symbol)``, so adding an instrument leaves the others'
data unchanged. Events are generated lazily: a whole day is about 1.8 million events for 12 symbols with the
defaults (roughly 4-5 us each to generate), so nothing is computed before it is consumed. A pass that joins the
session late (``resume_session``: a feeds process restarted mid-day) runs each symbol's walk to the join point
without building the events it passes, about a third of the cost of generating and skipping them. That walk
still grows with the hour (0.6 s 20 minutes in, 2.9 s five hours in, on a loaded two-core machine), so a
generating pass can also leave ``WalkMark``s behind, each symbol's whole state every ``mark_every_ns``; a pass
resumed from the newest mark before its join point walks only from there (``feeds/walk_marks.py`` keeps them).
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import chain
from operator import attrgetter

from tradingdesk.core.instruments import Instrument
from tradingdesk.feeds.events import QUOTE, TRADE, MarketEvent

NS = 1_000_000_000
TRADING_DAYS_PER_YEAR = 252

__all__ = [
    "MARK_EVERY_NS",
    "MarketEvent",
    "SessionModel",
    "WalkMark",
    "generate_session",
    "generate_symbol",
    "profile",
    "resume_session",
]

MARK_EVERY_NS = 300 * NS
"""How far apart a generating pass leaves its walk marks: a resumed pass walks at most this much session."""


@dataclass(frozen=True, slots=True)
class WalkMark:
    """Where one symbol's walk stood before its event at ``ts_ns``: everything the rest of its session follows
    from. ``passed``: the symbol's events before ``ts_ns``."""

    symbol: str
    ts_ns: int
    passed: int
    rng_state: tuple
    log_mid: float
    bid: int
    ask: int
    spread_ticks: int


@dataclass(frozen=True, slots=True)
class SessionModel:
    """Parameters of the generator; the defaults give a plausible US large-cap equities day."""

    annual_vol_range: tuple[float, float] = (0.18, 0.40)
    """Each symbol draws its annual volatility uniformly from this range."""
    activity_range: tuple[float, float] = (0.6, 1.6)
    """Each symbol draws an activity multiplier of both rates from this range."""
    quote_rate: float = 3.5
    """Quotes per second at mid-day for activity 1 (about one every 290 ms)."""
    trade_rate: float = 1.2
    """Trades per second at mid-day for activity 1."""
    tau_fraction: float = 0.05
    """Decay of the open/close bumps as a fraction of the session (0.05 of 6.5 h = 19.5 min)."""
    vol_open: float = 1.5
    vol_close: float = 0.8
    quote_open: float = 3.0
    quote_close: float = 2.0
    trade_open: float = 4.0
    trade_close: float = 3.5
    base_spread_ticks: float = 2.0
    """Mean spread in ticks at mid-day; multiplied by the volatility profile."""
    spread_noise: float = 0.35
    """Sigma of the log-normal noise on the spread."""
    round_lot: int = 100
    """Lot sizes in one round lot (100 shares for US equities)."""
    quote_size_alpha: float = 1.6
    """Pareto tail index of quote sizes in round lots (smaller = heavier tail)."""
    quote_size_max_lots: int = 50
    trade_size_alpha: float = 1.3
    trade_size_max_lots: int = 200
    trade_inside_probability: float = 0.16
    """Chance that a trade prints strictly inside a spread wider than one tick."""


def profile(t_s: float, session_s: float, a_open: float, a_close: float, tau_fraction: float) -> float:
    """The U-shaped intraday multiplier at ``t_s`` seconds into the session (1 at mid-day)."""
    tau = tau_fraction * session_s
    return 1.0 + a_open * math.exp(-t_s / tau) + a_close * math.exp(-(session_s - t_s) / tau)


def generate_symbol(
    instrument: Instrument,
    *,
    seed: int,
    session_seconds: int = 23_400,
    model: SessionModel | None = None,
    from_ns: int = 0,
    on_passed: Callable[[int], None] | None = None,
    from_mark: WalkMark | None = None,
    on_mark: Callable[[WalkMark], None] | None = None,
    mark_every_ns: int = MARK_EVERY_NS,
) -> Iterator[MarketEvent]:
    """The events of one symbol in time order, lazily; deterministic for ``(seed, instrument)``.

    Events before ``from_ns`` are walked (the walk and the draws are the same) but not built or yielded; their
    number goes to ``on_passed`` once the walk reaches ``from_ns`` (or the session's end). ``from_mark`` (of this
    symbol, seed and model, at or before ``from_ns``) starts the walk there instead of at the open; ``on_mark``
    gets a mark at the first event at or after each multiple of ``mark_every_ns``.
    """
    m = model or SessionModel()
    rng = random.Random(f"tradingdesk-synthetic:{seed}:{instrument.symbol}")
    expovariate, gauss, rand, pareto = rng.expovariate, rng.gauss, rng.random, rng.paretovariate
    exp, sqrt = math.exp, math.sqrt

    symbol = instrument.symbol
    tick = instrument.tick_size
    round_lot = m.round_lot * instrument.lot_size
    session_s = float(session_seconds)
    end_ns = session_seconds * NS
    tau = m.tau_fraction * session_s

    annual_vol = rng.uniform(*m.annual_vol_range)
    activity = rng.uniform(*m.activity_range)
    sigma_s = annual_vol / sqrt(TRADING_DAYS_PER_YEAR * session_s)
    quote_rate = m.quote_rate * activity
    trade_rate = m.trade_rate * activity
    ref = instrument.reference_price if instrument.reference_price > 0 else 100 * NS
    ref_ticks = max(1, round(ref / tick))
    log_mid = math.log(ref_ticks)  # the walk runs in ticks, so snapping is one round()

    bid = ask = bid_ticks = spread_ticks = 0
    ts = int(rand() * 0.05 * NS)  # stagger the symbols' first quotes over 50 ms
    n = 0  # the symbol's events before ts
    if from_mark is not None:
        if from_mark.symbol != symbol or from_mark.ts_ns > max(from_ns, 0):
            raise ValueError(f"a walk mark of {from_mark.symbol} at {from_mark.ts_ns} cannot start {symbol} there")
        version, internal, gauss_next = from_mark.rng_state
        rng.setstate((version, tuple(internal), gauss_next))
        ts, n, log_mid = from_mark.ts_ns, from_mark.passed, from_mark.log_mid
        bid, ask, spread_ticks = from_mark.bid, from_mark.ask, from_mark.spread_ticks
    t_s = ts / NS
    passed = n
    next_mark_ns = (ts // mark_every_ns + 1) * mark_every_ns if on_mark is not None else end_ns
    while ts < end_ns:
        if ts >= next_mark_ns:
            on_mark(WalkMark(symbol, ts, n, rng.getstate(), log_mid, bid, ask, spread_ticks))  # type: ignore[misc]
            next_mark_ns = (ts // mark_every_ns + 1) * mark_every_ns
        n += 1
        if passed >= 0 and ts >= from_ns:
            if on_passed is not None:
                on_passed(passed)
            passed = -1  # reported: every event from here on is yielded
        early = exp(-t_s / tau)
        late = exp((t_s - session_s) / tau)
        v = 1.0 + m.vol_open * early + m.vol_close * late
        q_rate = quote_rate * (1.0 + m.quote_open * early + m.quote_close * late)
        t_rate = trade_rate * (1.0 + m.trade_open * early + m.trade_close * late)
        if bid and rand() * (q_rate + t_rate) < t_rate:
            u = rand()
            inside = m.trade_inside_probability if spread_ticks > 1 else 0.0
            if u < inside:
                price = bid + tick * (1 + int(rand() * (spread_ticks - 1)))
            elif u < 0.5 + inside / 2:
                price = ask
            else:
                price = bid
            lots = min(m.trade_size_max_lots, int(pareto(m.trade_size_alpha)))
            if passed < 0:
                yield MarketEvent(ts, symbol, TRADE, 0, 0, 0, 0, price, lots * round_lot)
            else:
                passed += 1
        else:
            spread_ticks = max(1, round(m.base_spread_ticks * v * exp(m.spread_noise * gauss(0.0, 1.0))))
            bid_ticks = max(1, round(exp(log_mid) - spread_ticks / 2))
            bid = bid_ticks * tick
            ask = bid + spread_ticks * tick
            bid_lots = min(m.quote_size_max_lots, int(pareto(m.quote_size_alpha)))
            ask_lots = min(m.quote_size_max_lots, int(pareto(m.quote_size_alpha)))
            if passed < 0:
                yield MarketEvent(ts, symbol, QUOTE, bid, bid_lots * round_lot, ask, ask_lots * round_lot, 0, 0)
            else:
                passed += 1
        dt = expovariate(q_rate + t_rate)
        sigma = sigma_s * v
        log_mid += sigma * sqrt(dt) * gauss(0.0, 1.0) - 0.5 * sigma * sigma * dt
        ts += int(dt * NS) + 1
        t_s = ts / NS
    if passed >= 0 and on_passed is not None:
        on_passed(passed)  # the session ended before from_ns


def generate_session(
    instruments: Sequence[Instrument],
    *,
    seed: int,
    session_seconds: int = 23_400,
    model: SessionModel | None = None,
    on_mark: Callable[[WalkMark], None] | None = None,
) -> Iterator[MarketEvent]:
    """All symbols' events merged in time order (ties keep the order of ``instruments``), lazily; ``on_mark``
    gets each symbol's walk marks as the pass reaches them."""
    one = partial(generate_symbol, seed=seed, session_seconds=session_seconds, model=model, on_mark=on_mark)
    return heapq.merge(*map(one, instruments), key=attrgetter("ts_ns"))


def resume_session(
    instruments: Sequence[Instrument],
    *,
    seed: int,
    from_ns: int,
    session_seconds: int = 23_400,
    model: SessionModel | None = None,
    marks: Callable[[str, int], WalkMark | None] | None = None,
    on_mark: Callable[[WalkMark], None] | None = None,
) -> tuple[int, Iterator[MarketEvent]]:
    """The session from ``from_ns`` on, and how many events came before it: a pass that joins late numbers its
    events as the whole pass would. The walks to ``from_ns`` run here, before this returns; ``marks(symbol,
    from_ns)``, when given, is the newest walk mark of the symbol at or before ``from_ns`` to walk from (or None),
    and ``on_mark`` gets the marks the resumed pass reaches."""
    passed = [0]

    def count(n: int) -> None:
        passed[0] += n

    streams = []
    for instrument in instruments:
        events = generate_symbol(
            instrument,
            seed=seed,
            session_seconds=session_seconds,
            model=model,
            from_ns=from_ns,
            on_passed=count,
            from_mark=marks(instrument.symbol, from_ns) if marks is not None else None,
            on_mark=on_mark,
        )
        first = next(events, None)  # runs the walk to from_ns
        if first is not None:
            streams.append(chain((first,), events))
    return passed[0], heapq.merge(*streams, key=attrgetter("ts_ns"))
