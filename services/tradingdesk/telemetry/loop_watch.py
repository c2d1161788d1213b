"""A log line whenever a service's event loop was held, with what the process did meanwhile.

In simulated days at 20x, most of the seconds lost outside every fault were a few tenths of a second of wall time
in which routing's loop took nothing (no order, no market data), at 20x 5 to 20 market seconds of stale references
and late acknowledgements (docs/simulation.md). The record could not tell why: nothing logged the stall itself,
nor whether a full garbage collection, the pages a ``fork()`` (routing's journal snapshots) makes the parent copy
on write, or a wait outside the process held it. A thread of its own now asks the loop to run a callback every
``PING_S``; one that waited ``threshold_s`` or more is logged once the loop runs it, with the collections that ran
in the process meanwhile (``gc.callbacks``: generation, time, objects freed), the minor page faults and the
process's CPU time. A loop held while the process had little CPU waited outside it (the machine, a lock, I/O);
so the watch also looks where the loop's thread is while its ping is overdue (``sys._current_frames``, once at the
threshold and then every ping) and logs the innermost frames it found most often: a wait on the database, a lock
or a system call names its own line.

The cost: a thread waking every 50 ms, a ``call_soon_threadsafe`` and two ``getrusage`` calls each time; a stack
read only while the loop is held past the threshold.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import resource
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from types import FrameType

log = logging.getLogger(__name__)

THRESHOLD_S = 0.2
"""A held loop worth a line: at 20x, 4 market seconds of the 5 a reference may age (``referenceMaxAgeMs``)."""
PING_S = 0.05
"""How often the loop is asked to run the watch's callback."""
KEPT_COLLECTIONS = 64
"""Collections remembered between two pings (a held loop can hold many young ones)."""
WHERE_FRAMES = 4
"""Innermost frames of the loop's thread logged for a hold: enough to name the call that waits and its caller."""


@dataclass(frozen=True, slots=True)
class Collection:
    """One run of the cyclic garbage collector."""

    generation: int
    took_s: float
    collected: int


@dataclass(frozen=True, slots=True)
class Held:
    """One time the loop was held past the threshold."""

    held_s: float
    collections: tuple[Collection, ...]
    minor_faults: int
    cpu_s: float
    where: tuple[str, ...] = ()
    """The loop thread's innermost frames (innermost first) seen most often while it was held."""
    samples: int = 0
    """Stacks read while it was held; ``where`` was seen in ``where_count`` of them."""
    where_count: int = 0

    def describe(self, service: str) -> str:
        gen2 = [c for c in self.collections if c.generation == 2]
        young = [c for c in self.collections if c.generation < 2]
        parts = []
        if gen2:
            took = ", ".join(f"{c.took_s * 1e3:.0f} ms ({c.collected} freed)" for c in gen2)
            parts.append(f"full collections {took}")
        if young:
            parts.append(f"{len(young)} young collections {sum(c.took_s for c in young) * 1e3:.0f} ms")
        parts.append(f"{self.minor_faults} minor page faults")
        parts.append(f"{self.cpu_s * 1e3:.0f} ms of the process's CPU")
        line = f"{service}: event loop held {self.held_s * 1e3:.0f} ms; meanwhile {', '.join(parts)}"
        if self.where:
            line += f"; the loop was in {' < '.join(self.where)} ({self.where_count} of {self.samples} looks)"
        return line


def innermost(frame: FrameType | None, depth: int = WHERE_FRAMES) -> tuple[str, ...]:
    """``file:line function`` of ``frame`` and its callers, innermost first, at most ``depth`` of them (no source
    lines read: this runs while the loop is held, and a file read would add to what it reports)."""
    if frame is None:
        return ()
    stack = traceback.StackSummary.extract(traceback.walk_stack(frame), limit=depth, lookup_lines=False)
    return tuple(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in stack)


class LoopWatch:
    """Watches one event loop from a thread of its own; ``start`` on the loop's thread, ``stop`` when draining."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        service: str,
        threshold_s: float = THRESHOLD_S,
        ping_s: float = PING_S,
    ) -> None:
        self.loop = loop
        self.service = service
        self.threshold_s = threshold_s
        self.ping_s = ping_s
        self.pings = 0
        """Pings the loop ran."""
        self.looks = 0
        """Stacks of the loop's thread read while it was held, since the start."""
        self.held: list[Held] = []
        """Every hold logged (the newest ``KEPT_COLLECTIONS``), for a test or a status page."""
        self._collections: list[Collection] = []
        self._gc_started = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._waiting_since: float | None = None
        self._loop_thread: int | None = None

    def start(self) -> None:
        self._loop_thread = threading.get_ident()  # called on the loop's thread
        gc.callbacks.append(self._on_gc)
        self._thread = threading.Thread(target=self._watch, name=f"{self.service}-loop-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def overdue(self) -> bool:
        """The loop has not run the pending ping for ``threshold_s`` or more (the hold is not logged yet)."""
        since = self._waiting_since
        return since is not None and time.monotonic() - since >= self.threshold_s

    def _on_gc(self, phase: str, info: dict) -> None:
        # runs on whichever thread collects, with the GIL: keep it to a clock read and an append
        if phase == "start":
            self._gc_started = time.perf_counter()
            return
        took = time.perf_counter() - self._gc_started
        with self._lock:
            self._collections.append(Collection(info["generation"], took, info["collected"]))
            del self._collections[:-KEPT_COLLECTIONS]

    def _watch(self) -> None:
        while not self._stop.is_set():
            ran = threading.Event()
            with self._lock:
                self._collections.clear()
            before = resource.getrusage(resource.RUSAGE_SELF)
            self._waiting_since = started = time.monotonic()
            try:
                self.loop.call_soon_threadsafe(ran.set)
            except RuntimeError:  # the loop is closed
                return
            looks: Counter[tuple[str, ...]] = Counter()
            while not ran.wait(self.ping_s):
                if self._stop.is_set():
                    return
                if time.monotonic() - started >= self.threshold_s:
                    where = self._where_the_loop_is()
                    self.looks += 1
                    if where:
                        looks[where] += 1
            held_s = time.monotonic() - started
            self._waiting_since = None
            self.pings += 1
            if held_s >= self.threshold_s:
                after = resource.getrusage(resource.RUSAGE_SELF)
                with self._lock:
                    collections = tuple(self._collections)
                held = Held(
                    held_s=held_s,
                    collections=collections,
                    minor_faults=after.ru_minflt - before.ru_minflt,
                    cpu_s=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
                    **_most_seen(looks),
                )
                self.held.append(held)
                del self.held[:-KEPT_COLLECTIONS]
                log.warning(held.describe(self.service))
            self._stop.wait(self.ping_s)

    def _where_the_loop_is(self) -> tuple[str, ...]:
        frame = sys._current_frames().get(self._loop_thread) if self._loop_thread is not None else None
        return innermost(frame)


def _most_seen(looks: Counter[tuple[str, ...]]) -> dict:
    if not looks:
        return {}
    where, count = looks.most_common(1)[0]
    return {"where": where, "where_count": count, "samples": sum(looks.values())}
