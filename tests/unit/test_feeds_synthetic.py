"""The synthetic session: deterministic, on the grid, internally consistent and U-shaped; CSV round trip."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from tradingdesk.core.instruments import Instrument
from tradingdesk.feeds.events import QUOTE, TRADE, MarketEvent
from tradingdesk.feeds.recording import RecordingFormatError, read_csv, write_csv
from tradingdesk.feeds.synthetic import generate_session, generate_symbol, resume_session

UNIT = 10**9
SEC = 10**9

INSTRUMENTS = [
    Instrument("AAPL", tick_size=UNIT // 100, lot_size=UNIT, reference_price=18_950 * UNIT // 100),
    Instrument("KO", tick_size=UNIT // 100, lot_size=UNIT, reference_price=6_235 * UNIT // 100),
    # A coarse tick, a lot of 10 and a price of a few ticks: the grid and > 0 rules must still hold.
    Instrument("PENNY", tick_size=5 * UNIT // 100, lot_size=10 * UNIT, reference_price=10 * UNIT // 100),
]


def session(seed: int = 7, seconds: int = 1_800) -> list[MarketEvent]:
    return list(generate_session(INSTRUMENTS, seed=seed, session_seconds=seconds))


def test_same_seed_same_session_and_other_seed_differs() -> None:
    first = session(seed=11, seconds=600)
    assert first == session(seed=11, seconds=600)
    assert first != session(seed=12, seconds=600)


def test_a_symbol_does_not_depend_on_the_others() -> None:
    alone = list(generate_symbol(INSTRUMENTS[1], seed=7, session_seconds=600))
    merged = [e for e in session(seed=7, seconds=600) if e.symbol == "KO"]
    assert merged == alone


def test_events_in_time_order_within_the_session() -> None:
    events = session()
    assert events
    assert all(a.ts_ns <= b.ts_ns for a, b in itertools.pairwise(events))
    assert events[0].ts_ns >= 0 and events[-1].ts_ns < 1_800 * SEC
    assert {e.symbol for e in events} == {i.symbol for i in INSTRUMENTS}


def test_prices_on_tick_grid_positive_and_sizes_in_round_lots() -> None:
    grid = {i.symbol: i for i in INSTRUMENTS}
    for e in session():
        inst = grid[e.symbol]
        round_lot = 100 * inst.lot_size
        prices = (e.bid_price, e.ask_price) if e.kind == QUOTE else (e.price,)
        sizes = (e.bid_qty, e.ask_qty) if e.kind == QUOTE else (e.qty,)
        for p in prices:
            assert isinstance(p, int) and p > 0 and p % inst.tick_size == 0, e
        for q in sizes:
            assert isinstance(q, int) and q > 0 and q % round_lot == 0, e
        unused = (e.price, e.qty) if e.kind == QUOTE else (e.bid_price, e.bid_qty, e.ask_price, e.ask_qty)
        assert unused == (0,) * len(unused)


def test_bid_below_ask_and_trades_within_the_prevailing_quote() -> None:
    prevailing: dict[str, MarketEvent] = {}
    inside = 0
    for e in session():
        if e.kind == QUOTE:
            assert e.bid_price < e.ask_price, e
            prevailing[e.symbol] = e
        else:
            assert e.kind == TRADE
            quote = prevailing[e.symbol]  # the first event of a symbol is always a quote
            assert quote.bid_price <= e.price <= quote.ask_price, (quote, e)
            inside += quote.bid_price < e.price < quote.ask_price
    assert inside > 0  # some prints happen strictly inside a wide spread


def test_sizes_have_a_heavy_tail() -> None:
    events = generate_symbol(INSTRUMENTS[0], seed=3, session_seconds=3_600)
    lots = [e.qty // (100 * UNIT) for e in events if e.kind == TRADE]
    assert min(lots) == 1
    assert sorted(lots)[len(lots) // 2] <= 2  # the typical print is small ...
    assert max(lots) >= 20  # ... but a few are large


def test_activity_is_u_shaped_over_a_full_day() -> None:
    day = 23_400
    half_hour = 1_800 * SEC
    counts = [0] * 13
    for e in generate_symbol(INSTRUMENTS[0], seed=7, session_seconds=day):
        counts[e.ts_ns // half_hour] += 1
    first, midday, last = counts[0], counts[6], counts[12]
    assert first > 1.5 * midday
    assert last > 1.5 * midday
    # Mid-day: roughly one quote every 100-500 ms (activity multipliers included).
    quotes_per_second = midday / 1_800
    assert 1.5 < quotes_per_second < 15


def test_spread_widens_with_volatility_at_the_open() -> None:
    day = 23_400
    opening, midday = [], []
    for e in generate_symbol(INSTRUMENTS[0], seed=7, session_seconds=day):
        if e.kind != QUOTE:
            continue
        spread = e.ask_price - e.bid_price
        if e.ts_ns < 300 * SEC:
            opening.append(spread)
        elif 11_000 * SEC <= e.ts_ns < 11_300 * SEC:
            midday.append(spread)
    assert sum(opening) / len(opening) > 1.3 * sum(midday) / len(midday)


def test_csv_round_trip_is_exact(tmp_path: Path) -> None:
    events = session(seconds=120)
    path = tmp_path / "session.csv"
    assert write_csv(path, events) == len(events)
    assert list(read_csv(path)) == events
    header, first = path.read_text().splitlines()[:2]
    assert header == "ts_ns,symbol,kind,bid_price,bid_qty,ask_price,ask_qty,price,qty"
    assert first.split(",")[2] == "Q"


def test_csv_keeps_odd_decimals_exact(tmp_path: Path) -> None:
    events = [
        MarketEvent(0, "X", QUOTE, 1, 123_456_789, 10**14 * UNIT + 1, 5, 0, 0),
        MarketEvent(7, "X", TRADE, price=999_999_999, qty=1),
    ]
    path = tmp_path / "odd.csv"
    write_csv(path, events)
    assert list(read_csv(path)) == events


HEADER = "ts_ns,symbol,kind,bid_price,bid_qty,ask_price,ask_qty,price,qty\n"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("ts,symbol\n", "header"),
        (HEADER + "5,X,Z,,,,,1,1\n", "kind"),
        (HEADER + "5,X,T,,,,,1e3,1\n", ":2:"),
        (HEADER + "5,,T,,,,,1,1\n", "symbol"),
        (HEADER + "5,X,T,,,,,1,1\n4,X,T,,,,,1,1\n", ":3: .*back"),
        (HEADER + "5,X,T,,,\n", ":2:"),
    ],
)
def test_malformed_recordings_are_refused_with_the_line(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(RecordingFormatError, match=problem):
        list(read_csv(path))


@pytest.mark.parametrize("from_s", [0, 1, 300, 1_799, 5_000])
def test_a_resumed_session_is_the_rest_of_the_whole_one_with_its_count(from_s: int) -> None:
    """A feeds process restarted mid-day walks to the join point without building events: what it then sends
    is exactly what the whole session has there, and it knows how many came before (to number them)."""
    whole = session()
    passed, rest = resume_session(INSTRUMENTS, seed=7, session_seconds=1_800, from_ns=from_s * SEC)
    assert all(e.ts_ns < from_s * SEC for e in whole[:passed])
    assert list(rest) == whole[passed:]
