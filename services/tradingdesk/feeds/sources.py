"""From the desk spec to replay lines: which events a feed replays, and how fast.

A replay feed's lines all replay the same source from the same session start, which is what makes them an
A/B pair (identical sequence numbers and vendor timestamps). The source is a recorded CSV file when
``replay.path`` is set, otherwise the synthetic session of ``replay.seed``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from itertools import tee
from pathlib import Path

from tradingdesk.core.instruments import Instrument
from tradingdesk.feeds.events import MarketEvent
from tradingdesk.feeds.recording import read_csv
from tradingdesk.feeds.replay import NS, EventSource, ReplayLine
from tradingdesk.feeds.synthetic import generate_session
from tradingdesk.spec.model import FeedSpec, ReplaySpec


def _recorded(path: Path, symbols: frozenset[str]) -> Iterator[MarketEvent]:
    return (e for e in read_csv(path) if e.symbol in symbols)


def event_source(replay: ReplaySpec, instruments: Sequence[Instrument]) -> tuple[EventSource, int]:
    """The event source of a replay and its loop period in ns (0: the recording's own length)."""
    if replay.path:
        path = Path(replay.path)
        if not path.is_file():
            raise FileNotFoundError(f"replay.path {replay.path!r}: no such file")
        symbols = frozenset(i.symbol for i in instruments)
        return (lambda: _recorded(path, symbols)), 0
    chosen = tuple(instruments)

    def synthetic() -> Iterable[MarketEvent]:
        return generate_session(chosen, seed=replay.seed, session_seconds=replay.session_seconds)

    return synthetic, replay.session_seconds * NS


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
        self._passes: dict[int, list[Iterator[MarketEvent] | None]] = {}

    def reader(self, index: int) -> EventSource:
        """The source as line ``index`` sees it: each call starts that line's next pass."""

        def next_pass() -> Iterable[MarketEvent]:
            k = self._taken[index]
            self._taken[index] = k + 1
            copies = self._passes.get(k)
            if copies is None:
                live = sum(self._live)
                tees = iter(tee(self._source(), live))
                copies = self._passes[k] = [next(tees) if alive else None for alive in self._live]
            mine = copies[index]
            copies[index] = None
            if not any(copies):
                del self._passes[k]
            return mine if mine is not None else self._source()

        return next_pass

    def release(self, index: int) -> None:
        """Line ``index`` reads no more: drop its unread copies so they stop buffering."""
        self._live[index] = False
        for k in list(self._passes):
            copies = self._passes[k]
            copies[index] = None
            if not any(copies):
                del self._passes[k]


def replay_lines(
    feed: FeedSpec,
    instruments: Sequence[Instrument],
    start_ns: int,
    *,
    drop: Callable[[str, int], bool] | None = None,
) -> list[ReplayLine]:
    """One ``ReplayLine`` per line of a replay feed; ``drop(line, seq)`` injects loss for tests and drills."""
    source, period_ns = event_source(feed.replay, instruments)
    shared = SharedSource(source, len(feed.lines))
    lines = []
    for i, line in enumerate(feed.lines):
        line_drop = None if drop is None else (lambda seq, _name=line.name: drop(_name, seq))
        lines.append(
            ReplayLine(
                line.name,
                shared.reader(i),
                start_ns=start_ns,
                speed=feed.replay.speed,
                loop=feed.replay.loop,
                period_ns=period_ns,
                drop=line_drop,
                on_close=partial(shared.release, i),
            )
        )
    return lines
