"""Replaying a session as one feed line: sequence numbers, vendor timestamps, pacing and heartbeats.

A line turns session events (offsets from the session start) into ``FeedMessage``s at ``speed`` times real
time. Pacing is scheduled against one monotonic start instant (``due = origin + offset / speed``), never by
summing sleeps, so sleep overshoot and slow consumers never accumulate into drift: a line that fell
behind emits back-to-back until it is on schedule again. The schedule is kept in steps of ``PACE_QUANTUM_S``
of wall time: an event is sent at the end of the step its due time falls in, with the rest of that step, so a
busy replay wakes the desk once a step instead of once an event. Two lines built from the same source,
``start_ns`` and ``origin`` are an A/B pair: same sequence numbers, same vendor timestamps, same schedule.

A line reopened after a failure (``from_seq``) skips what the feed already has without pacing, sends what
it missed at once (it is behind schedule) and is then back on the pair's schedule: that is how a replayed
line "retransmits". A line started after the desk's replay began (``skip_before_ns``, with ``origin`` that far
in the past: a restarted feeds process) skips, unsent, what the desk's clock has passed. While waiting longer
than ``heartbeat_ns`` for the next event it yields heartbeats, so a quiet line is never mistaken for a dead one.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from decimal import Decimal
from typing import Protocol

from tradingdesk.feeds.events import TRADE, FeedMessage, Heartbeat, MarketEvent

NS = 1_000_000_000
MAX_SPEED = 100

EventSource = Callable[[], Iterable[MarketEvent]]
"""Returns a fresh pass over the session's events in time order (called again for each loop)."""

# Events due within this much of now are sent at once rather than after a sub-millisecond sleep: the
# event loop's timers are not finer than that anyway, and the next due time is still taken from t0.
EARLY_S = 0.0005

PACE_QUANTUM_S = 0.005
"""Wall seconds of one pacing step: a line sleeps until the end of the step that holds its next event's due time
(steps counted from ``origin``) and then sends every event due in that step at once, at most this late. At 20x a
session hour's 65 events a market second are 1,300 a wall second: paced one by one, each event woke every line,
and each subscriber's stream sent it in a gRPC message of its own or of two or three (measured: 2.3-3.5 events
per ``MarketDataBatch``); the desk's market data cost was mostly those wake-ups and messages (docs/feeds.md,
"Pacing in steps"). Both lines of a pair, and every feed of one origin, step at the same instants."""


class ResumableSource(Protocol):
    """A source that can start its first pass late, cheaper than generating and skipping what comes before.

    Its events' offsets are below the loop period it is replayed with (a synthetic session's length).
    """

    def __call__(self) -> Iterable[MarketEvent]: ...

    def resume(self, from_ns: int) -> tuple[int, Iterable[MarketEvent]]:
        """The first pass from offset ``from_ns`` on, and how many events come before that."""
        ...


def numbered(
    source: EventSource,
    *,
    loop: bool,
    period_ns: int,
    first: tuple[int, Iterable[MarketEvent]] | None = None,
) -> Iterator[tuple[int, int, int, MarketEvent]]:
    """``(seq, pass, offset_ns, event)`` over the passes of a source: the numbering all lines of a replay share.

    Each pass starts ``period_ns`` after the previous one (at least the last event's offset + 1 ns, so
    time never goes back); an empty pass ends the iteration even when looping. ``first`` is a first pass already
    resumed (``ResumableSource.resume``: the events before it, the rest), numbered as the whole pass would be.
    """
    seq = 0
    base = 0
    n = 0
    while True:
        last_ts = -1
        if first is not None:
            seq, events = first
            last_ts = 0 if seq else -1  # resumed past its end, the pass was not empty: the next starts a period on
            first = None
        else:
            events = source()
        for event in events:
            seq += 1
            last_ts = event.ts_ns
            yield seq, n, base + event.ts_ns, event
        if not loop or last_ts < 0:
            return
        base += max(period_ns, last_ts + 1)
        n += 1


class ReplayLine:
    """One feed line replaying a session; iterate it (``async for item in line``) once.

    ``speed`` is 1..100 times real time, or 0 for as fast as possible. With ``loop`` the session starts
    again when it ends: sequence numbers keep counting and vendor timestamps keep moving forward by
    ``period_ns`` per pass. ``drop`` is fault injection for tests and drills: messages whose sequence
    number it accepts are lost on this line (their numbers are used up, as in a real gap). ``on_close``
    runs when the iteration ends, however it ends (a ``SharedSource`` reader releases its share there).
    Items are ``FeedMessage``s, plus ``Heartbeat``s when ``heartbeat_ns`` is set.
    """

    def __init__(
        self,
        name: str,
        source: EventSource,
        *,
        start_ns: int | None = None,
        speed: float | Decimal = 1,
        loop: bool = False,
        period_ns: int = 0,
        drop: Callable[[int], bool] | None = None,
        yield_every: int = 32,
        quantum_s: float = PACE_QUANTUM_S,
        on_close: Callable[[], None] | None = None,
        from_seq: int = 1,
        origin: float | None = None,
        heartbeat_ns: int = 0,
        skip_before_ns: int = 0,
    ) -> None:
        speed = float(speed)
        if not 0 <= speed <= MAX_SPEED:
            raise ValueError(f"replay speed must be 0 (as fast as possible) or 1..{MAX_SPEED}, not {speed}")
        self.name = name
        self.start_ns = start_ns
        self.speed = speed
        self.loop = loop
        self.period_ns = period_ns
        self.from_seq = from_seq
        self.skip_before_ns = skip_before_ns
        """Events at offsets before this are skipped like those before ``from_seq``: a line started after the
        desk's replay began joins it where the desk's clock is (``ReplayAdapter``'s ``resume_ns``)."""
        self.origin = origin
        """Event loop time (``loop.time()``) of the session start; set when iteration starts if None."""
        self._source = source
        self._drop = drop
        self._yield_every = max(1, yield_every)
        self.quantum_s = quantum_s
        """Pacing step (``PACE_QUANTUM_S``); 0 paces every event on its own due time."""
        self._on_close = on_close
        self._heartbeat_s = heartbeat_ns / NS
        self.seq = 0
        """Sequence number of the last message produced (sent, dropped or skipped)."""
        self.passes = 0
        """Completed passes over the session."""

    async def __aiter__(self) -> AsyncIterator[FeedMessage | Heartbeat]:
        now = asyncio.get_running_loop().time
        if self.origin is None:
            self.origin = now()
        t0 = self.origin
        start_ns = time.time_ns() if self.start_ns is None else self.start_ns
        self.start_ns = start_ns
        speed = self.speed
        wall_s_per_ns = 1.0 / (speed * NS) if speed else 0.0
        quantum = self.quantum_s if speed else 0.0
        name, drop, yield_every, from_seq = self.name, self._drop, self._yield_every, self.from_seq
        skip_before_ns = self.skip_before_ns
        heartbeat_s = self._heartbeat_s if speed else 0.0
        burst = 0
        try:
            resumable = getattr(self._source, "resume", None)
            first = None
            if resumable is not None and from_seq > 1 and speed:  # reopened: near its schedule, if that is right
                first = await self._reopened(resumable, elapsed_ns=int((now() - t0) * speed * NS))
            if first is None and resumable is not None and skip_before_ns > 0:
                # Walking to the join point takes a second or more of a busy day: off the loop, so that the other
                # lines (and the gRPC server) go on meanwhile.
                first = await asyncio.to_thread(resumable, skip_before_ns)
            passes = numbered(self._source, loop=self.loop, period_ns=self.period_ns, first=first)
            for seq, n, offset, event in passes:
                self.passes = n
                if seq < from_seq or offset < skip_before_ns:
                    self.seq = seq
                    if not seq % 4096:
                        await asyncio.sleep(0)  # a long skip must not hold the event loop
                    continue  # the feed already has it: skip without pacing
                if wall_s_per_ns:
                    due = offset * wall_s_per_ns
                    if quantum:
                        due = math.ceil(due / quantum) * quantum  # the end of its step: sent with the step's others
                    due += t0
                    delay = due - now()
                    while heartbeat_s and delay > heartbeat_s:
                        await asyncio.sleep(heartbeat_s)
                        yield Heartbeat(name, seq - 1, start_ns + int((now() - t0) * speed * NS))
                        delay = due - now()
                    if delay > EARLY_S:
                        await asyncio.sleep(delay)
                        burst = 0
                if burst >= yield_every:
                    await asyncio.sleep(0)  # behind schedule or speed 0: let the rest of the loop run
                    burst = 0
                burst += 1
                self.seq = seq
                if drop is not None and drop(seq):
                    continue
                yield FeedMessage(name, seq, start_ns + offset, event)
            self.passes += 1
        finally:
            if self._on_close is not None:
                self._on_close()

    async def _reopened(
        self, resume: Callable[[int], tuple[int, Iterable[MarketEvent]]], *, elapsed_ns: int
    ) -> tuple[int, Iterable[MarketEvent]] | None:
        """The first pass of a line reopened mid-session (its feed already has messages up to ``from_seq``),
        resumed a little before where its schedule is instead of generated from the start and skipped: at a busy
        hour that took seconds of the feeds process's loop (2.5-6.7 s in a simulated day at 100x), in which the
        line that stayed up was late with everything and the desk's references went stale. None when resuming
        would not be right: outside the first pass of a looping replay, or past ``from_seq`` (the partner line
        is further behind than the margin), where the line reads its pass from the start (or from where its
        feeds process joined the replay) as before. A feeds process restarted mid-day reopens its lines here too:
        from its join point, a line reopened an hour later skipped an hour of session on the loop."""
        from_ns = elapsed_ns - REOPEN_MARGIN_NS
        if from_ns <= 0 or (self.period_ns and from_ns >= self.period_ns):
            return None
        before, events = await asyncio.to_thread(resume, from_ns)
        if before >= self.from_seq:
            return None
        return before, events


REOPEN_MARGIN_NS = 5 * NS
"""How far before its schedule's position a reopened line resumes: its partner may run that far behind."""


def last_quotes(
    source: EventSource, *, loop: bool, period_ns: int, start_ns: int, upto_seq: int, line: str
) -> list[FeedMessage]:
    """The last quote and trading status of each symbol among messages 1..``upto_seq`` of a replay: its
    snapshot at that point.

    Each keeps its own sequence number, so the state can tell whether it is newer than what it has.
    """
    latest: dict[tuple[str, str], tuple[int, int, MarketEvent]] = {}
    for seq, _, offset, event in numbered(source, loop=loop, period_ns=period_ns):
        if seq > upto_seq:
            break
        if event.kind != TRADE:
            latest[event.symbol, event.kind] = (seq, offset, event)
    return [FeedMessage(line, seq, start_ns + offset, event) for seq, offset, event in latest.values()]
