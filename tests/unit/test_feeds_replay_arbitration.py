"""Replay lines (sequence, timestamps, pacing, loops, shared sources) and A/B line arbitration."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterable

import pytest

from tradingdesk.core.instruments import Instrument
from tradingdesk.feeds.arbitration import LineArbitrator
from tradingdesk.feeds.events import QUOTE, FeedMessage, MarketEvent
from tradingdesk.feeds.replay import ReplayLine
from tradingdesk.feeds.sources import SharedSource
from tradingdesk.feeds.synthetic import generate_session

SEC = 10**9
MS = 10**6
START = 1_700_000_000 * SEC
AAPL = Instrument("AAPL", tick_size=10**7, lot_size=10**9, reference_price=189 * 10**9)


def ticks(count: int, step_ns: int) -> list[MarketEvent]:
    """``count`` quotes ``step_ns`` apart, starting at offset 0."""
    bid, ask, size = 100 * 10**9, 101 * 10**9, 10**11
    return [MarketEvent(i * step_ns, "AAPL", QUOTE, bid, size, ask, size) for i in range(count)]


async def collect(line: ReplayLine, limit: int | None = None) -> list[FeedMessage]:
    out: list[FeedMessage] = []
    async for msg in line:
        out.append(msg)
        if limit is not None and len(out) >= limit:
            break
    return out


def msg(line: str, seq: int) -> FeedMessage:
    return FeedMessage(line, seq, START + seq, MarketEvent(seq, "AAPL", QUOTE, 1, 1, 2, 1))


# replay --------------------------------------------------------------------------------------------------


async def test_sequence_numbers_are_contiguous_and_timestamps_follow_the_session() -> None:
    events = list(generate_session([AAPL], seed=7, session_seconds=300))
    line = ReplayLine("A", lambda: events, start_ns=START, speed=0)
    out = await collect(line)
    assert [m.seq for m in out] == list(range(1, len(events) + 1))
    assert [m.event for m in out] == events
    assert all(m.vendor_ts_ns == START + m.event.ts_ns and m.line == "A" for m in out)
    assert line.seq == len(events) and line.passes == 1


async def test_speed_100_replays_ten_seconds_in_about_a_tenth() -> None:
    line = ReplayLine("A", lambda: ticks(101, 100 * MS), start_ns=START, speed=100)  # 0 .. 10 s
    t0 = time.perf_counter()
    out = await collect(line)
    elapsed = time.perf_counter() - t0
    assert len(out) == 101
    assert 0.09 <= elapsed < 1.0


async def test_speed_0_is_as_fast_as_possible() -> None:
    line = ReplayLine("A", lambda: ticks(20_000, SEC), start_ns=START, speed=0)  # 5.5 hours of session
    t0 = time.perf_counter()
    out = await collect(line)
    assert len(out) == 20_000
    assert time.perf_counter() - t0 < 5.0


async def test_speed_0_still_lets_other_tasks_run() -> None:
    line = ReplayLine("A", lambda: ticks(5_000, SEC), start_ns=START, speed=0)
    beats = 0

    async def heartbeat() -> None:
        nonlocal beats
        while True:
            beats += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(heartbeat())
    await collect(line)
    task.cancel()
    assert beats > 10


async def test_pacing_does_not_drift_behind_a_slow_consumer() -> None:
    line = ReplayLine("A", lambda: ticks(31, 100 * MS), start_ns=START, speed=10)  # 3 s at 10x = 0.3 s
    t0 = time.perf_counter()
    async for m in line:
        if m.seq == 2:
            await asyncio.sleep(0.15)  # the consumer stalls; the line must catch up, not shift everything
    elapsed = time.perf_counter() - t0
    assert elapsed < 0.42  # cumulative sleeps would take ~0.45 s


async def test_looping_keeps_counting_and_moving_forward() -> None:
    events = ticks(10, SEC)  # offsets 0..9 s
    line = ReplayLine("A", lambda: events, start_ns=START, speed=0, loop=True, period_ns=20 * SEC)
    out = await collect(line, limit=25)
    assert [m.seq for m in out] == list(range(1, 26))
    assert all(a.vendor_ts_ns < b.vendor_ts_ns for a, b in itertools.pairwise(out))
    assert out[10].vendor_ts_ns == START + 20 * SEC  # second pass starts one period later
    assert out[20].vendor_ts_ns == START + 40 * SEC


async def test_loop_period_is_at_least_the_recording_length() -> None:
    line = ReplayLine("A", lambda: ticks(3, SEC), start_ns=START, speed=0, loop=True)  # no period given
    out = await collect(line, limit=6)
    assert [m.vendor_ts_ns - START for m in out] == [0, SEC, 2 * SEC, 2 * SEC + 1, 3 * SEC + 1, 4 * SEC + 1]


async def test_an_empty_source_ends_even_when_looping() -> None:
    assert await collect(ReplayLine("A", list, start_ns=START, speed=0, loop=True)) == []


async def test_dropped_messages_use_up_their_sequence_numbers() -> None:
    line = ReplayLine("A", lambda: ticks(10, SEC), start_ns=START, speed=0, drop=lambda seq: seq in (3, 4))
    assert [m.seq for m in await collect(line)] == [1, 2, 5, 6, 7, 8, 9, 10]


@pytest.mark.parametrize("speed", [-1, 101, 1000])
def test_speed_out_of_range_is_refused(speed: float) -> None:
    with pytest.raises(ValueError, match="speed"):
        ReplayLine("A", list, speed=speed)


async def test_on_close_runs_when_the_consumer_stops_early() -> None:
    closed = []
    line = ReplayLine("A", lambda: ticks(100, SEC), speed=0, on_close=lambda: closed.append(True))
    iterator = aiter(line)
    await anext(iterator)
    await iterator.aclose()
    assert closed == [True]


def test_shared_source_generates_each_pass_once_for_all_lines() -> None:
    passes = 0

    def source() -> Iterable[MarketEvent]:
        nonlocal passes
        passes += 1
        return iter(ticks(5, SEC))

    shared = SharedSource(source, 2)
    a, b = shared.reader(0), shared.reader(1)
    assert list(a()) == list(b()) == ticks(5, SEC)
    assert passes == 1
    assert list(b()) == ticks(5, SEC)  # the second pass, b first this time
    assert list(a()) == ticks(5, SEC)
    assert passes == 2
    shared.release(0)  # line A is gone: B's passes no longer buffer for it
    assert list(b()) == ticks(5, SEC)
    assert passes == 3


# arbitration -----------------------------------------------------------------------------------------------


def test_first_copy_wins_and_duplicates_are_dropped_and_counted() -> None:
    arb = LineArbitrator(["A", "B"])
    arrivals = [("A", 1), ("B", 1), ("B", 2), ("A", 2), ("A", 3), ("B", 3), ("B", 4), ("A", 4)]
    passed = [(line, seq) for line, seq in arrivals if arb.accept(msg(line, seq))]
    assert passed == [("A", 1), ("B", 2), ("A", 3), ("B", 4)]
    assert arb.duplicates == 4
    assert arb.gaps == 0 and arb.missing == 0
    assert arb.received == {"A": 4, "B": 4}
    assert arb.wins == {"A": 2, "B": 2}
    assert arb.next_seq == 5


def test_a_jump_is_counted_recorded_and_recovered_from_the_other_line() -> None:
    arb = LineArbitrator(["A", "B"])
    assert arb.accept(msg("A", 1))
    assert arb.accept(msg("A", 4))  # A lost 2 and 3
    assert arb.gaps == 1 and arb.missing == 2
    gap = arb.gap_log[-1]
    assert (gap.first, gap.last, gap.line, gap.size) == (2, 3, "A", 2)
    assert arb.open_gaps == [(2, 3)]
    assert not arb.accept(msg("B", 1))
    assert arb.accept(msg("B", 2))  # B fills the gap late: passed on as a recovery
    assert arb.accept(msg("B", 3))
    assert not arb.accept(msg("B", 3))
    assert not arb.accept(msg("B", 4))
    assert arb.recovered == 2 and arb.open_gaps == [] and arb.lost == 0
    assert arb.duplicates == 3


def test_a_gap_on_both_lines_is_lost_after_the_recovery_window() -> None:
    arb = LineArbitrator(["A", "B"], recovery_window=5)
    for seq in (1, 2, 5, 6):  # 3 and 4 never arrive on either line
        arb.accept(msg("A", seq))
    assert arb.open_gaps == [(3, 4)]
    for seq in range(7, 12):
        arb.accept(msg("A", seq))
    assert arb.open_gaps == [] and arb.lost == 2
    assert not arb.accept(msg("B", 3))  # too late: a duplicate now
    assert arb.recovered == 0


def test_a_late_copy_inside_a_gap_splits_it() -> None:
    arb = LineArbitrator(["A", "B"])
    arb.accept(msg("A", 1))
    arb.accept(msg("A", 10))
    assert arb.accept(msg("B", 5))
    assert arb.open_gaps == [(2, 4), (6, 9)]
    assert arb.missing == 8 and arb.recovered == 1


async def test_two_lossy_lines_merge_into_one_complete_stream() -> None:
    events = list(generate_session([AAPL], seed=3, session_seconds=600))
    shared = SharedSource(lambda: events, 2)
    line_a = ReplayLine("A", shared.reader(0), start_ns=START, speed=0, drop=lambda s: s % 7 == 0)
    line_b = ReplayLine("B", shared.reader(1), start_ns=START, speed=0, drop=lambda s: s % 11 == 0)
    arb = LineArbitrator(["A", "B"])
    merged: list[FeedMessage] = []

    async def run(line: ReplayLine) -> None:
        async for m in line:
            if arb.accept(m):
                merged.append(m)

    await asyncio.gather(run(line_a), run(line_b))
    lost_on_both = {s for s in range(1, len(events) + 1) if s % 77 == 0}
    assert sorted(m.seq for m in merged) == [s for s in range(1, len(events) + 1) if s not in lost_on_both]
    assert len({m.seq for m in merged}) == len(merged)  # each sequence number exactly once
    # Losses are seen as jumps, so a loss at the very end of the data is not noticed (no later message).
    last = max(m.seq for m in merged)
    assert arb.missing - arb.recovered == len({s for s in lost_on_both if s < last})
