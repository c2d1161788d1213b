"""The walk marks of a synthetic replay, kept in the desk's data directory for the next feeds process.

A feeds process restarted mid-day joins the desk's replay where its clock is, and the synthetic session's walk
to that point grew with the hour: 0.6 s twenty minutes in, 2.9 s five hours in, each of them a second in which
the desk had no market data and refused orders on stale prices. The running process leaves each symbol's
newest marks (``synthetic.WalkMark``, one every five minutes of session) in a small JSON file per symbol; the
restarted one walks from the newest mark before its join point, a few milliseconds.

The marks are a cache, never the truth: a file is named by everything the walk depends on (seed, session
length, model, the instrument's tick, lot and reference price, and ``FORMAT``, raised whenever the walk
changes), so a desk whose data would differ finds none. A file that cannot be read or written costs only
the long walk, said once in the log.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from tradingdesk.core.instruments import Instrument
from tradingdesk.feeds.synthetic import SessionModel, WalkMark

log = logging.getLogger(__name__)

FORMAT = 1
"""Raised whenever ``generate_symbol``'s walk changes: marks of an older walk would resume different data."""
MT_STATE_LEN = 625
"""``random.Random.getstate()[1]``: the Mersenne Twister's 624 words and its position."""
KEPT = 2
"""Marks kept per symbol: the newest can be ahead of a join point (the pass generates a little ahead of the
desk's clock), the one before it is not."""


class WalkMarks:
    """Each symbol's newest marks of one synthetic session, in memory and under ``directory``."""

    def __init__(
        self,
        directory: Path,
        instruments: Sequence[Instrument],
        *,
        seed: int,
        session_seconds: int,
        model: SessionModel | None = None,
    ) -> None:
        self.directory = directory
        self._marks: dict[str, list[WalkMark]] = {}
        self._files = {
            i.symbol: directory / f"{i.symbol}-{_key(i, seed=seed, session_seconds=session_seconds, model=model)}.json"
            for i in instruments
        }
        self._failed = False
        self._lock = threading.Condition()  # a resumed pass walks in a thread while others generate on the loop
        self._unwritten: dict[str, list[WalkMark]] = {}
        """Each symbol's kept marks not written yet, for the writer thread (the newest list only)."""
        self._writing = False
        self._writer: threading.Thread | None = None

    def record(self, mark: WalkMark) -> None:
        """Keep ``mark`` as its symbol's newest; its file is written by a thread of its own (a pass's ``on_mark``).

        The pass calls this on the feeds process's event loop, where a file write waits for the disk, and the
        whole desk's market data with it. In a simulated day at 20x on PostgreSQL every symbol's reference went
        stale for 19 market seconds from just before the 13,200 s mark, while routing's commits were held too
        (a busy disk, most likely): the twelve files of a mark are written as the pass crosses it, one symbol
        after another, and three symbols got one update through in the middle of the stretch."""
        with self._lock:
            kept = self._marks.setdefault(mark.symbol, [])
            if kept and kept[-1].ts_ns >= mark.ts_ns:
                return  # another pass of the same session (a loop, or a resumed walk) got here first
            kept.append(mark)
            del kept[:-KEPT]
            if self._files.get(mark.symbol) is None or self._failed:
                return
            self._unwritten[mark.symbol] = list(kept)
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_forever, name="feeds-walk-marks", daemon=True)
                self._writer.start()
            self._lock.notify_all()

    def flush(self) -> None:
        """Wait until every mark recorded so far is in its file (or writing failed). For tests: a stopping feeds
        process does not wait for its writer, so a mark not written yet is lost as at a crash, which costs a
        restart only the walk from the mark before it."""
        with self._lock:
            self._lock.wait_for(lambda: not self._unwritten and not self._writing)

    def _write_forever(self) -> None:
        while True:
            with self._lock:
                self._writing = False
                self._lock.notify_all()
                self._lock.wait_for(lambda: self._unwritten)
                symbol, kept = self._unwritten.popitem()
                self._writing = True
            self._write(self._files[symbol], kept)

    def _write(self, path: Path, kept: list[WalkMark]) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps([_encode(m) for m in kept]))
            os.replace(tmp, path)
        except OSError as exc:
            with self._lock:
                self._failed = True
                self._unwritten.clear()
            log.warning("feeds: cannot keep replay walk marks in %s (%s); a restart walks from the open", path, exc)

    def newest(self, symbol: str, at_or_before_ns: int) -> WalkMark | None:
        """The newest mark of ``symbol`` at or before ``at_or_before_ns``, from memory or its file."""
        kept = self._marks.get(symbol) or self._load(symbol)
        best = None
        for mark in kept:
            if mark.ts_ns <= at_or_before_ns and (best is None or mark.ts_ns > best.ts_ns):
                best = mark
        return best

    def _load(self, symbol: str) -> list[WalkMark]:
        path = self._files.get(symbol)
        if path is None or not path.exists():
            return []
        try:
            marks = [_decode(item, symbol) for item in json.loads(path.read_text())]
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("feeds: replay walk marks in %s unreadable (%s); walking from the open", path, exc)
            return []
        self._marks[symbol] = marks
        return marks


def _key(instrument: Instrument, *, seed: int, session_seconds: int, model: SessionModel | None) -> str:
    what = repr(
        (
            FORMAT,
            seed,
            session_seconds,
            model or SessionModel(),
            instrument.symbol,
            instrument.tick_size,
            instrument.lot_size,
            instrument.reference_price,
        )
    )
    return hashlib.sha256(what.encode()).hexdigest()[:16]


def _encode(mark: WalkMark) -> dict:
    version, internal, gauss_next = mark.rng_state
    return {
        "ts_ns": mark.ts_ns,
        "passed": mark.passed,
        "rng": [version, list(internal), gauss_next],
        "log_mid": mark.log_mid,
        "bid": mark.bid,
        "ask": mark.ask,
        "spread_ticks": mark.spread_ticks,
    }


def _decode(item: dict, symbol: str) -> WalkMark:
    version, internal, gauss_next = item["rng"]
    if not isinstance(internal, list) or len(internal) != MT_STATE_LEN or not all(isinstance(x, int) for x in internal):
        raise ValueError("a mark's generator state is not a Mersenne Twister's")
    return WalkMark(
        symbol=symbol,
        ts_ns=int(item["ts_ns"]),
        passed=int(item["passed"]),
        rng_state=(int(version), tuple(internal), None if gauss_next is None else float(gauss_next)),
        log_mid=float(item["log_mid"]),
        bid=int(item["bid"]),
        ask=int(item["ask"]),
        spread_ticks=int(item["spread_ticks"]),
    )
