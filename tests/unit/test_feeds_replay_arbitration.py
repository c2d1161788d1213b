"""Replay lines (sequence, timestamps, pacing, loops, reopening, heartbeats, shared sources) and A/B line
arbitration (first copy wins, in order, gaps held and given up, heartbeat gaps, bounded holding)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable

import pytest

from tradingdesk.core.instruments import Instrument
from tradingdesk.feeds.arbitration import LineArbitrator
from tradingdesk.feeds.events import QUOTE, FeedMessage, Heartbeat, MarketEvent
from tradingdesk.feeds.replay import ReplayLine, last_quotes, numbered
from tradingdesk.feeds.sources import SharedSource, SyntheticSource
from tradingdesk.feeds.synthetic import generate_session

SEC = 10**9
MS = 10**6
START = 1_700_000_000 * SEC
AAPL = Instrument("AAPL", tick_size=10**7, lot_size=10**9, reference_price=189 * 10**9)
MSFT = Instrument("MSFT", tick_size=10**7, lot_size=10**9, reference_price=415 * 10**9)


def ticks(count: int, step_ns: int) -> list[MarketEvent]:
    """``count`` quotes ``step_ns`` apart, starting at offset 0."""
    bid, ask, size = 100 * 10**9, 101 * 10**9, 10**11
    return [MarketEvent(i * step_ns, "AAPL", QUOTE, bid, size, ask, size) for i in range(count)]


async def collect(line: ReplayLine, limit: int | None = None) -> list[FeedMessage]:
    out: list[FeedMessage] = []
    async for msg in line:
        assert isinstance(msg, FeedMessage)
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


def test_feeds_replaying_the_same_events_share_one_pass(monkeypatch) -> None:
    """The example desk's two vendors (seed 7, alike): one pass generated for their four lines; a feed with another
    seed, speed or session length has its own, a WebSocket feed none."""
    from tradingdesk.feeds import sources
    from tradingdesk.spec.model import FeedSpec

    def feed(name: str, **replay) -> FeedSpec:
        lines = [{"name": "A"}, {"name": "B"}]
        return FeedSpec.model_validate({"name": name, "lines": lines, "replay": {"seed": 7, **replay}})

    feeds = [
        feed("vendor-a"),
        feed("vendor-b"),
        feed("other-seed", seed=8),
        feed("faster", speed="2"),
        FeedSpec.model_validate({"name": "ws", "kind": "websocket", "lines": [{"name": "A", "url": "ws://x"}]}),
    ]
    passes = sources.shared_passes(feeds, (AAPL, MSFT))
    assert set(passes) == {"vendor-a", "vendor-b", "other-seed", "faster"}
    assert passes["vendor-a"][0] is passes["vendor-b"][0]
    assert (passes["vendor-a"][1], passes["vendor-b"][1]) == (0, 2)
    assert len({id(passes[n][0]) for n in ("vendor-a", "other-seed", "faster")}) == 3

    generated = []
    monkeypatch.setattr(sources, "generate_session", lambda *a, **kw: generated.append(1) or iter(ticks(4, SEC)))
    adapters = [
        a for name in ("vendor-a", "vendor-b") for a in sources.replay_adapters(
            feeds[0 if name == "vendor-a" else 1], (AAPL, MSFT), 0, shared_pass=passes[name]
        )
    ]  # fmt: skip
    firsts = [list(a._shared()) for a in adapters]  # each line's first pass
    assert firsts == [ticks(4, SEC)] * 4 and len(generated) == 1


# arbitration -----------------------------------------------------------------------------------------------


def test_first_copy_wins_and_duplicates_are_dropped_and_counted() -> None:
    arb = LineArbitrator(["A", "B"])
    arrivals = [("A", 1), ("B", 1), ("B", 2), ("A", 2), ("A", 3), ("B", 3), ("B", 4), ("A", 4)]
    passed = [(line, seq) for line, seq in arrivals if arb.accept(msg(line, seq), 0)]
    assert passed == [("A", 1), ("B", 2), ("A", 3), ("B", 4)]
    assert arb.duplicates == 4
    assert arb.gaps == 0 and arb.missing == 0
    assert arb.received == {"A": 4, "B": 4}
    assert arb.wins == {"A": 2, "B": 2}
    assert arb.next_seq == 5


def test_a_jump_is_held_until_the_other_line_fills_it_then_released_in_order() -> None:
    arb = LineArbitrator(["A", "B"])
    assert arb.accept(msg("A", 1), 0)
    assert not arb.accept(msg("A", 4), 10)  # A lost 2 and 3: 4 waits
    assert not arb.accept(msg("A", 5), 11)
    assert arb.gaps == 1 and arb.missing == 2
    gap = arb.gap_log[-1]
    assert (gap.first, gap.last, gap.line, gap.size, gap.detected_ns) == (2, 3, "A", 2, 10)
    assert arb.open_gaps == [(2, 3)] and sorted(arb.held) == [4, 5]
    assert arb.gap_age_ns(30) == 20
    assert not arb.accept(msg("B", 1), 12)
    assert arb.accept(msg("B", 2), 13)  # the head of the gap: passed at once ...
    assert arb.release() == []  # ... but 3 is still missing
    assert not arb.accept(msg("B", 4), 14)  # a copy of a held message is a duplicate
    assert arb.accept(msg("B", 3), 15)
    assert [m.seq for m in arb.release()] == [4, 5]  # everything contiguous, in order
    assert arb.recovered == 2 and arb.open_gaps == [] and arb.lost == 0 and arb.next_seq == 6
    assert arb.duplicates == 2 and arb.gap_age_ns(100) == 0


def test_a_gap_nobody_fills_is_given_up_after_the_bound() -> None:
    arb = LineArbitrator(["A", "B"])
    for seq in (1, 2, 5, 6):  # 3 and 4 never arrive on either line
        arb.accept(msg("A", seq), 100)
    assert arb.expire(150, timeout_ns=100) == ([], [])  # still within the bound
    losses, released = arb.expire(201, timeout_ns=100)
    assert [(loss.first, loss.last, loss.count) for loss in losses] == [(3, 4, 2)]
    assert [m.seq for m in released] == [5, 6]
    assert arb.lost == 2 and arb.next_seq == 7 and not arb.held
    assert not arb.accept(msg("B", 3), 300)  # too late: a duplicate now
    assert arb.recovered == 0


def test_a_late_copy_inside_a_gap_splits_it() -> None:
    arb = LineArbitrator(["A", "B"])
    arb.accept(msg("A", 1), 0)
    arb.accept(msg("A", 10), 0)
    assert not arb.accept(msg("B", 5), 0)  # held: 2..4 are still missing
    assert arb.open_gaps == [(2, 4), (6, 9)]
    assert arb.missing == 8 and arb.recovered == 1


def test_a_heartbeat_ahead_of_the_stream_reveals_a_loss_at_the_very_end() -> None:
    arb = LineArbitrator(["A", "B"])
    arb.accept(msg("A", 1), 0)
    arb.heartbeat("B", 1, 5)  # B is where we are: nothing missing
    assert arb.gaps == 0
    arb.heartbeat("A", 3, 10)  # A sent 2 and 3, and we have neither
    assert arb.gaps == 1 and arb.open_gaps == [(2, 3)]
    assert arb.accept(msg("B", 2), 11) and arb.accept(msg("B", 3), 12)
    assert arb.recovered == 2 and arb.open_gaps == []
    arb.heartbeat("A", 5, 20)
    losses, released = arb.expire(1_000, timeout_ns=100)
    assert [(loss.first, loss.last) for loss in losses] == [(4, 5)] and released == []
    assert arb.next_seq == 6 and arb.lost == 2


def test_holding_is_bounded_the_oldest_gap_is_given_up_when_the_buffer_overflows() -> None:
    arb = LineArbitrator(["A"], max_held=3)
    arb.accept(msg("A", 1), 0)
    for seq in range(3, 8):
        arb.accept(msg("A", seq), 0)
    assert arb.overflowing
    losses, released = arb.expire(0, timeout_ns=10**9)
    assert [(loss.first, loss.count) for loss in losses] == [(2, 1)]
    assert [m.seq for m in released] == [3, 4, 5, 6, 7] and not arb.held


async def test_two_lossy_lines_merge_into_one_complete_stream_in_order() -> None:
    events = list(generate_session([AAPL], seed=3, session_seconds=600))
    shared = SharedSource(lambda: events, 2)
    line_a = ReplayLine("A", shared.reader(0), start_ns=START, speed=0, drop=lambda s: s % 7 == 0)
    line_b = ReplayLine("B", shared.reader(1), start_ns=START, speed=0, drop=lambda s: s % 11 == 0)
    arb = LineArbitrator(["A", "B"])
    merged: list[FeedMessage] = []

    async def run(line: ReplayLine) -> None:
        async for m in line:
            assert isinstance(m, FeedMessage)
            if arb.accept(m, 0):
                merged.append(m)
                merged.extend(arb.release())

    await asyncio.gather(run(line_a), run(line_b))
    _, released = arb.expire(10**9, timeout_ns=1)  # give up what neither line had
    merged.extend(released)
    lost_on_both = {s for s in range(1, len(events) + 1) if s % 77 == 0}
    seqs = [m.seq for m in merged]
    assert seqs == sorted(seqs)  # strictly in order, never a step back
    last = seqs[-1]
    assert seqs == [s for s in range(1, last + 1) if s not in lost_on_both]
    assert len(events) - last <= 1  # a loss at the very end shows only with a heartbeat (none at speed 0)
    assert arb.lost == len({s for s in lost_on_both if s < last})


async def test_a_reopened_line_skips_what_the_feed_has_and_keeps_the_schedule() -> None:
    events = ticks(40, 10 * MS)  # 0 .. 390 ms of session, at 10x: 39 ms
    origin = asyncio.get_running_loop().time()
    first = ReplayLine("A", lambda: events, start_ns=START, speed=10, origin=origin)
    out = await collect(first, limit=10)
    again = ReplayLine("A", lambda: events, start_ns=START, speed=10, origin=origin, from_seq=11)
    rest = await collect(again)
    assert [m.seq for m in out + rest] == list(range(1, 41))
    assert [m.vendor_ts_ns for m in out + rest] == [START + e.ts_ns for e in events]
    assert asyncio.get_running_loop().time() - origin < 0.2  # on the shared schedule, not restarted


async def test_a_quiet_line_sends_heartbeats_with_its_last_number() -> None:
    events = [MarketEvent(0, "AAPL", QUOTE, 1, 1, 2, 1), MarketEvent(SEC, "AAPL", QUOTE, 1, 1, 2, 1)]
    line = ReplayLine("A", lambda: events, start_ns=START, speed=10, heartbeat_ns=20 * MS)  # 100 ms apart
    items = [item async for item in line]
    beats = [i for i in items if isinstance(i, Heartbeat)]
    assert [i.seq for i in items if isinstance(i, FeedMessage)] == [1, 2]
    assert 3 <= len(beats) <= 5 and {b.seq for b in beats} == {1}
    assert all(START <= b.vendor_ts_ns <= START + SEC for b in beats)


def test_last_quotes_is_the_replay_state_at_a_sequence_number() -> None:
    events = list(generate_session([AAPL, MSFT], seed=3, session_seconds=60))
    quotes = last_quotes(lambda: events, loop=False, period_ns=0, start_ns=START, upto_seq=50, line="A")
    expected = {}
    for seq, e in enumerate(events[:50], start=1):
        if e.kind == QUOTE:
            expected[e.symbol] = (seq, e)
    assert {q.event.symbol: (q.seq, q.event) for q in quotes} == expected


async def test_a_line_started_late_joins_the_replay_where_it_is_and_sends_nothing_it_passed() -> None:
    """A restarted feeds process: the desk's replay has run 30 s of a 40 s session. Its line skips, unsent,
    every event before 30 s (their numbers used up, as on the feed that died) and sends the rest, stamped as
    the session has them."""
    events = ticks(400, 100 * MS)  # 0 .. 39.9 s of session
    loop = asyncio.get_running_loop()
    started = loop.time()
    line = ReplayLine(
        "A", lambda: events, start_ns=START, speed=100, origin=started - 30 * SEC / (100 * SEC), skip_before_ns=30 * SEC
    )
    out = await collect(line)
    assert [m.seq for m in out] == list(range(301, 401))
    assert [m.vendor_ts_ns for m in out] == [START + e.ts_ns for e in events[300:]]


async def test_lines_of_a_resumable_source_join_late_numbered_as_the_whole_replay() -> None:
    """Both lines of a restarted feed resume the synthetic session at the desk's clock (one walk, shared): their
    messages are the whole replay's from there, with the whole replay's numbers and vendor times."""
    source = SyntheticSource((AAPL, MSFT), seed=3, session_seconds=600)
    whole = [(seq, offset, e) for seq, _, offset, e in numbered(source, loop=False, period_ns=0)]
    join = 200 * SEC
    shared = SharedSource(source, 2)
    started = asyncio.get_running_loop().time()
    lines = [
        ReplayLine(name, shared.reader(i), start_ns=START, speed=100, origin=started - 2.0, skip_before_ns=join)
        for i, name in enumerate("AB")
    ]
    a, b = await asyncio.gather(*(collect(line, limit=300) for line in lines))
    expected = [(seq, START + offset, e) for seq, offset, e in whole if offset >= join][:300]
    assert expected[0][0] > 1000  # the numbers of what the join passed are used up
    for out in (a, b):
        assert [(m.seq, m.vendor_ts_ns, m.event) for m in out] == expected


def test_a_joined_stream_continues_at_the_first_number_a_line_announces() -> None:
    arb = LineArbitrator(["A", "B"])
    arb.join()
    assert arb.accept(msg("B", 301), 0) and not arb.accept(msg("A", 301), 0)
    assert arb.accept(msg("A", 302), 0)
    assert (arb.next_seq, arb.gaps, arb.missing, arb.duplicates) == (303, 0, 0, 1)
    arb.heartbeat("B", 302, 0)
    assert arb.gaps == 0
    assert not arb.accept(msg("B", 305), 0) and arb.gaps == 1, "once joined, a jump is a gap again"


def test_a_joined_stream_may_start_with_a_heartbeat() -> None:
    arb = LineArbitrator(["A", "B"])
    arb.join()
    arb.heartbeat("A", 300, 0)  # the line skipped 1..300 and waits for 301
    assert arb.accept(msg("A", 301), 0)
    assert (arb.next_seq, arb.gaps, arb.missing) == (302, 0, 0)


class CountingSource(SyntheticSource):
    """A synthetic session that counts its passes from the start and its resumes."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.from_start = 0
        self.resumed: list[int] = []

    def __call__(self):
        self.from_start += 1
        return super().__call__()

    def resume(self, from_ns: int):
        self.resumed.append(from_ns)
        return super().resume(from_ns)


async def test_a_line_reopened_mid_session_resumes_near_its_schedule_instead_of_generating_from_the_start() -> None:
    """A line taken out of service and back (a simulated line loss): it carries on from the number the feed has,
    with the whole replay's numbers and vendor times, but resumed a few seconds before its schedule's position
    rather than generating the session from the open and skipping it on the feeds process's loop."""
    source = CountingSource((AAPL, MSFT), seed=3, session_seconds=600)
    whole = [(seq, offset, e) for seq, _, offset, e in numbered(source, loop=False, period_ns=0)]
    source.from_start = 0
    position = 300 * SEC  # the feed's schedule is 300 s into the session (3 s ago at 100x)
    from_seq = next(seq for seq, offset, _ in whole if offset >= position - SEC)  # the partner is 1 s behind
    started = asyncio.get_running_loop().time()
    line = ReplayLine("A", source, start_ns=START, speed=100, origin=started - 3.0, from_seq=from_seq)
    out = await collect(line, limit=200)
    expected = [(seq, START + offset, e) for seq, offset, e in whole if seq >= from_seq][:200]
    assert [(m.seq, m.vendor_ts_ns, m.event) for m in out] == expected
    assert source.from_start == 0 and len(source.resumed) == 1
    assert 294 * SEC <= source.resumed[0] <= 296 * SEC  # REOPEN_MARGIN_NS (5 s) before the schedule


async def test_a_reopened_line_whose_partner_is_far_behind_reads_its_pass_from_the_start() -> None:
    """Resuming past the number the feed has would lose what lies between: the line reads from the start."""
    source = CountingSource((AAPL, MSFT), seed=3, session_seconds=600)
    whole = [(seq, offset, e) for seq, _, offset, e in numbered(source, loop=False, period_ns=0)]
    source.from_start = 0
    from_seq = next(seq for seq, offset, _ in whole if offset >= 100 * SEC)  # 200 s behind the schedule
    started = asyncio.get_running_loop().time()
    line = ReplayLine("A", source, start_ns=START, speed=100, origin=started - 3.0, from_seq=from_seq)
    out = await collect(line, limit=50)
    expected = [(seq, START + offset, e) for seq, offset, e in whole if seq >= from_seq][:50]
    assert [(m.seq, m.vendor_ts_ns, m.event) for m in out] == expected
    assert source.from_start == 1 and len(source.resumed) == 1


async def test_a_line_reopened_in_a_feeds_process_that_joined_late_resumes_near_its_schedule_too() -> None:
    """The feeds process joined the replay 100 s in (``skip_before_ns``); a line of it reopened when the schedule
    is 300 s in resumes near 300 s, not at the join point with 200 s of session to skip on the loop."""
    source = CountingSource((AAPL, MSFT), seed=3, session_seconds=600)
    whole = [(seq, offset, e) for seq, _, offset, e in numbered(source, loop=False, period_ns=0)]
    source.from_start = 0
    from_seq = next(seq for seq, offset, _ in whole if offset >= 299 * SEC)
    started = asyncio.get_running_loop().time()
    line = ReplayLine(
        "A", source, start_ns=START, speed=100, origin=started - 3.0, from_seq=from_seq, skip_before_ns=100 * SEC
    )
    out = await collect(line, limit=100)
    expected = [(seq, START + offset, e) for seq, offset, e in whole if seq >= from_seq][:100]
    assert [(m.seq, m.vendor_ts_ns, m.event) for m in out] == expected
    assert source.from_start == 0 and len(source.resumed) == 1 and source.resumed[0] > 290 * SEC


# pacing in steps (replay.PACE_QUANTUM_S) --------------------------------------------------------------------


class _FakeTime:
    """Stands in for ``asyncio`` in ``feeds.replay``: the loop's clock only moves when the line sleeps, so when
    each message was sent, and how many times the line slept, are exact."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def get_running_loop(self) -> _FakeTime:
        return self

    def time(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        if delay > 0:
            self.sleeps.append(delay)
            self.now += delay

    async def to_thread(self, fn, *args):  # pragma: no cover - not reached by these lines (no join, no reopen)
        return fn(*args)


async def _sent_at(monkeypatch, line: ReplayLine) -> tuple[list[tuple[int, float]], _FakeTime]:
    from tradingdesk.feeds import replay

    fake = _FakeTime()
    monkeypatch.setattr(replay, "asyncio", fake)
    return [(m.seq, round(fake.now, 9)) async for m in line if isinstance(m, FeedMessage)], fake


async def test_a_paced_line_sends_each_event_at_the_end_of_its_step_with_the_others_of_that_step(monkeypatch) -> None:
    offsets_ms = [0, 10, 20, 50, 60, 110]
    events = [MarketEvent(ms * MS, "AAPL", QUOTE, 1, 1, 2, 1) for ms in offsets_ms]
    line = ReplayLine("A", lambda: events, start_ns=START, speed=1, origin=0.0, quantum_s=0.05)
    sent, fake = await _sent_at(monkeypatch, line)
    assert sent == [(1, 0.0), (2, 0.05), (3, 0.05), (4, 0.05), (5, 0.1), (6, 0.15)]
    assert len(fake.sleeps) == 3  # one wake-up a step, not one an event
    # the vendor's timestamps are the session's, not the step's
    assert [m.vendor_ts_ns for m in await collect(ReplayLine("A", lambda: events, start_ns=START, speed=0))] == [
        START + ms * MS for ms in offsets_ms
    ]


async def test_without_a_step_each_event_is_paced_on_its_own_due_time(monkeypatch) -> None:
    events = [MarketEvent(ms * MS, "AAPL", QUOTE, 1, 1, 2, 1) for ms in (0, 10, 20, 60)]
    line = ReplayLine("A", lambda: events, start_ns=START, speed=1, origin=0.0, quantum_s=0)
    sent, fake = await _sent_at(monkeypatch, line)
    assert sent == [(1, 0.0), (2, 0.01), (3, 0.02), (4, 0.06)]
    assert len(fake.sleeps) == 3


async def test_at_20x_the_default_step_sends_a_busy_second_in_a_few_hundred_wake_ups(monkeypatch) -> None:
    from tradingdesk.feeds.replay import PACE_QUANTUM_S

    events = ticks(1_300, SEC // 1_300)  # a market second at the busy close's rate, at 20x: 50 ms of wall time
    line = ReplayLine("A", lambda: events, start_ns=START, speed=20, origin=0.0)
    sent, fake = await _sent_at(monkeypatch, line)
    assert [seq for seq, _ in sent] == list(range(1, 1_301))
    assert len(fake.sleeps) <= 0.05 / PACE_QUANTUM_S + 1
    for i, (_, at) in enumerate(sent):  # never early, at most one step late
        due = events[i].ts_ns / (20 * SEC)
        assert due - 1e-9 <= at <= due + PACE_QUANTUM_S + 1e-9


async def test_both_lines_of_a_pair_send_the_same_steps_at_the_same_instants(monkeypatch) -> None:
    shared = SharedSource(lambda: iter(ticks(200, 3 * MS)), 2)
    lines = [ReplayLine(name, shared.reader(i), start_ns=START, speed=10, origin=0.0) for i, name in enumerate("AB")]
    a, _ = await _sent_at(monkeypatch, lines[0])
    b, _ = await _sent_at(monkeypatch, lines[1])
    assert a == b
