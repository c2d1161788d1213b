"""From the desk spec to line adapters: which events a replay feed replays and how fast, or where a
WebSocket feed's lines connect.

A replay feed's lines all replay the same source from the same session start, which is what makes them an
A/B pair (identical sequence numbers and vendor timestamps). The source is a recorded CSV file (optionally
gzipped) when ``replay.path`` is set, otherwise the synthetic session of ``replay.seed``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from functools import partial
from itertools import tee
from pathlib import Path

from tradingdesk.core.instruments import Instrument
from tradingdesk.feeds.adapters import LineAdapter
from tradingdesk.feeds.events import FeedMessage, Heartbeat, MarketEvent
from tradingdesk.feeds.recording import read_csv
from tradingdesk.feeds.replay import NS, EventSource, ReplayLine, last_quotes
from tradingdesk.feeds.synthetic import generate_session, resume_session
from tradingdesk.feeds.walk_marks import WalkMarks
from tradingdesk.feeds.websocket import WebSocketLine
from tradingdesk.spec.model import FeedSpec, ReplaySpec

log = logging.getLogger(__name__)


def _recorded(path: Path, symbols: frozenset[str]) -> Iterator[MarketEvent]:
    return (e for e in read_csv(path) if e.symbol in symbols)


def event_source(
    replay: ReplaySpec, instruments: Sequence[Instrument], *, marks_dir: Path | None = None
) -> tuple[EventSource, int]:
    """The event source of a replay and its loop period in ns (0: the recording's own length); ``marks_dir``: where
    a synthetic session keeps its walk marks for a restarted feeds process (``walk_marks``), None: nowhere."""
    if replay.path:
        path = Path(replay.path)
        if not path.is_file():
            raise FileNotFoundError(f"replay.path {replay.path!r}: no such file")
        symbols = frozenset(i.symbol for i in instruments)
        return (lambda: _recorded(path, symbols)), 0
    marks = (
        WalkMarks(marks_dir, instruments, seed=replay.seed, session_seconds=replay.session_seconds)
        if marks_dir is not None
        else None
    )
    source = SyntheticSource(tuple(instruments), seed=replay.seed, session_seconds=replay.session_seconds, marks=marks)
    return source, replay.session_seconds * NS


class SyntheticSource:
    """The synthetic session of a seed: each call a fresh pass; ``resume`` starts one late (``ResumableSource``),
    from the newest walk marks before the join point when ``marks`` has them."""

    def __init__(
        self, instruments: tuple[Instrument, ...], *, seed: int, session_seconds: int, marks: WalkMarks | None = None
    ) -> None:
        self.instruments = instruments
        self.seed = seed
        self.session_seconds = session_seconds
        self.marks = marks

    def __call__(self) -> Iterable[MarketEvent]:
        on_mark = self.marks.record if self.marks is not None else None
        return generate_session(self.instruments, seed=self.seed, session_seconds=self.session_seconds, on_mark=on_mark)

    def resume(self, from_ns: int) -> tuple[int, Iterable[MarketEvent]]:
        if self.marks is not None:
            try:
                return resume_session(
                    self.instruments,
                    seed=self.seed,
                    session_seconds=self.session_seconds,
                    from_ns=from_ns,
                    marks=self.marks.newest,
                    on_mark=self.marks.record,
                )
            except ValueError as exc:  # a mark the generator refuses: the walk from the open is always right
                log.warning("feeds: replay walk marks refused (%s); walking from the open", exc)
        return resume_session(self.instruments, seed=self.seed, session_seconds=self.session_seconds, from_ns=from_ns)


class SharedSource:
    """One pass of a source generated once and read by every line of a feed (``itertools.tee``).

    The lines of a replay feed carry the same events, so generating them once per line would double the
    cost of the hot path. Lines read at the same pace, so the tee's buffer holds only the distance between
    them. A line that stops must ``release`` its share, or its unread copy would buffer without bound.
    """

    def __init__(self, source: EventSource, readers: int) -> None:
        self._source = source
        self._live = [True] * readers
        self._taken = [0] * readers
        self._passes: dict[int, tuple[int, list[Iterator[MarketEvent] | None]]] = {}
        self._lock = threading.Lock()  # lines resume in threads: one walks, the others wait for its copies

    def reader(self, index: int) -> EventSource:
        """The source as line ``index`` sees it: each call starts that line's next pass. It can ``resume`` when
        the source can: the first line to resume runs the source's walk to the join point for all of them."""

        def next_pass() -> Iterable[MarketEvent]:
            return self._take(index, lambda: (0, self._source()))[1]

        if not callable(getattr(self._source, "resume", None)):
            return next_pass

        def resume(from_ns: int) -> tuple[int, Iterable[MarketEvent]]:
            return self._take(index, lambda: self._source.resume(from_ns))  # type: ignore[attr-defined]

        next_pass.resume = resume  # type: ignore[attr-defined]
        return next_pass

    def _take(self, index: int, start: Callable[[], tuple[int, Iterable[MarketEvent]]]) -> tuple[int, Iterable]:
        """Line ``index``'s copy of its next pass (``(events before it, events)``), started by ``start`` if it is
        the first line there."""
        with self._lock:
            k = self._taken[index]
            self._taken[index] = k + 1
            entry = self._passes.get(k)
            if entry is None:
                live = sum(self._live)
                before, events = start()
                tees = iter(tee(events, live))
                entry = self._passes[k] = (before, [next(tees) if alive else None for alive in self._live])
            before, copies = entry
            mine = copies[index]
            copies[index] = None
            if not any(copies):
                del self._passes[k]
        return (before, mine) if mine is not None else start()

    def release(self, index: int) -> None:
        """Line ``index`` reads no more: drop its unread copies so they stop buffering."""
        with self._lock:
            self._live[index] = False
            for k in list(self._passes):
                copies = self._passes[k][1]
                copies[index] = None
                if not any(copies):
                    del self._passes[k]


class ReplayAdapter:
    """A line of a ``replay`` feed: opened first on the feed's shared pass, reopened on a pass of its own.

    Every line of the feed shares ``origin`` (the schedule's start) and ``start_ns`` (the vendor clock's),
    so a reopened line is back on its partner's schedule with the same numbers and timestamps.
    """

    kind = "replay"

    def __init__(
        self,
        name: str,
        shared: EventSource,
        source: EventSource,
        replay: ReplaySpec,
        *,
        start_ns: int,
        period_ns: int,
        heartbeat_ns: int = 0,
        drop: Callable[[int], bool] | None = None,
        release: Callable[[], None] | None = None,
        resume_ns: int = 0,
    ) -> None:
        self.name = name
        self.resume_ns = resume_ns
        """Replay time the desk's clock had run when this feeds process started: the line's schedule starts that
        far in the past, and what comes before is skipped (a restart joins the replay, never starts it again).
        Negative when the desk's replay has not begun: the schedule starts that far in the future."""
        self.replay = replay
        self.start_ns = start_ns
        self.period_ns = period_ns
        self.heartbeat_ns = heartbeat_ns
        self._shared: EventSource | None = shared
        self._source = source
        self._drop = drop
        self._release = release
        self.origin: float | None = None
        self.current: ReplayLine | None = None
        """The line of the latest ``open``."""

    def open(self, from_seq: int) -> AsyncIterator[FeedMessage | Heartbeat]:
        if self.origin is None:
            speed = float(self.replay.speed)
            behind_s = self.resume_ns / (speed * NS) if speed else 0.0
            self.origin = asyncio.get_running_loop().time() - behind_s
        source, on_close = self._source, None
        if self._shared is not None:  # first open: read the feed's shared pass, release it when done
            source, on_close, self._shared = self._shared, self._release, None
        self.current = ReplayLine(
            self.name,
            source,
            start_ns=self.start_ns,
            speed=self.replay.speed,
            loop=self.replay.loop,
            period_ns=self.period_ns,
            drop=self._drop,
            on_close=on_close,
            from_seq=from_seq,
            origin=self.origin,
            heartbeat_ns=self.heartbeat_ns,
            skip_before_ns=self.resume_ns if self.replay.speed else 0,
        )
        return aiter(self.current)

    async def snapshot(self, upto_seq: int) -> list[FeedMessage] | None:
        """Replays the source up to ``upto_seq`` off the event loop (rare: only after a loss)."""
        return await asyncio.to_thread(
            last_quotes,
            self._source,
            loop=self.replay.loop,
            period_ns=self.period_ns,
            start_ns=self.start_ns,
            upto_seq=upto_seq,
            line=self.name,
        )


SharedPass = tuple[SharedSource, int, EventSource, int]
"""A feed's share of a pass: the shared source, its first line's reader index, the source, its period."""


def shared_passes(
    feeds: Sequence[FeedSpec], instruments: Sequence[Instrument], *, marks_dir: Path | None = None
) -> dict[str, SharedPass]:
    """One shared pass for all the replay feeds that replay the same events at the same pace (the same recording
    or seed and session length, speed and loop): two vendors configured alike carry identical data, and
    generating it once per feed would double the feeds service's hot path (the example desk's two vendors)."""
    groups: dict[tuple, list[FeedSpec]] = {}
    for feed in feeds:
        if feed.kind == "replay":
            r = feed.replay
            key = (r.path, r.seed if not r.path else None, r.session_seconds, r.speed, r.loop)
            groups.setdefault(key, []).append(feed)
    out: dict[str, SharedPass] = {}
    for group in groups.values():
        source, period_ns = event_source(group[0].replay, instruments, marks_dir=marks_dir)
        shared = SharedSource(source, sum(len(f.lines) for f in group))
        first = 0
        for feed in group:
            out[feed.name] = (shared, first, source, period_ns)
            first += len(feed.lines)
    return out


def replay_adapters(
    feed: FeedSpec,
    instruments: Sequence[Instrument],
    start_ns: int,
    *,
    heartbeat_ns: int = 0,
    drop: Callable[[str, int], bool] | None = None,
    resume_ns: int = 0,
    shared_pass: SharedPass | None = None,
) -> list[ReplayAdapter]:
    """One adapter per line of a replay feed; ``drop(line, seq)`` injects loss for tests and drills; ``resume_ns``
    joins a replay the desk's clock has already run that far into; ``shared_pass``: the feed's share of a pass
    read by other feeds too (``shared_passes``), else one of the feed's own."""
    if shared_pass is None:
        source, period_ns = event_source(feed.replay, instruments)
        shared_pass = (SharedSource(source, len(feed.lines)), 0, source, period_ns)
    shared, first, source, period_ns = shared_pass
    adapters = []
    for i, line in enumerate(feed.lines, start=first):
        line_drop = None if drop is None else (lambda seq, _name=line.name: drop(_name, seq))
        adapters.append(
            ReplayAdapter(
                line.name,
                shared.reader(i),
                source,
                feed.replay,
                start_ns=start_ns,
                period_ns=period_ns,
                heartbeat_ns=heartbeat_ns,
                drop=line_drop,
                release=partial(shared.release, i),
                resume_ns=resume_ns,
            )
        )
    return adapters


def line_adapters(
    feed: FeedSpec,
    instruments: Sequence[Instrument],
    start_ns: int,
    *,
    heartbeat_ns: int = 0,
    drop: Callable[[str, int], bool] | None = None,
    resume_ns: int = 0,
    shared_pass: SharedPass | None = None,
) -> list[LineAdapter]:
    """The adapters of a feed's lines, by the feed's kind (``resume_ns`` and ``shared_pass``: replay lines only)."""
    if feed.kind == "websocket":
        return [WebSocketLine(line.name, line.url) for line in feed.lines]
    adapters = replay_adapters(
        feed, instruments, start_ns, heartbeat_ns=heartbeat_ns, drop=drop, resume_ns=resume_ns, shared_pass=shared_pass
    )
    return list(adapters)
