"""Routing's journal snapshots: taken by the active replica as it trades (by its standby when it has one), loaded
by every replica at start.

A snapshot is the engine's recoverable state at a journal seq (``oms/snapshot.py``), stored in the journal's own
database (``storage/snapshots.py``). The consistent copy is a ``fork()`` on the event loop between two events:
the child process holds the engine exactly as records 1..seq left it (the kernel copies pages only as the parent
changes them), serializes it into a pipe and exits, while the parent trades on; the loop pauses only for the
fork itself (copying the page tables: milliseconds, where serializing a large order book on the loop would take
seconds). The parent writes the snapshot off the loop once the journal holds seq durably: a snapshot never
covers a record that could still be lost. The journal stays the truth; a snapshot that fails any check is
skipped and the journal replayed from the start.

The child touches nothing it shares with the parent: it runs no finalizer (garbage collection off; it leaves
with ``os._exit``), handles no signal through the parent's event loop, closes every descriptor it inherited but
the standard streams and its end of the pipe (an orphaned child must not hold the parent's listening sockets),
and only writes to that pipe. The parent runs no cyclic collection while the child lives: a collection writes
into every object it walks, and after the fork the kernel copies each page the parent writes (a full collection
then cost the parent half a second and ~190 MB of copies in ``python -m bench.fork_gc``).

With a standby (``spec.services.routing.replicas`` 2 or more) the standby takes them (``follow``), of the state it
has followed the journal to, and the active replica forks no child: while a child serialized (0.5 to 3 s of wall
time on a busy day, two cores) the active process read its market data late, and at 20x the gate refused orders
against references a few market seconds stale (8 to 11 seconds of a simulated day's availability per episode,
docs/simulation.md). The active one still takes a snapshot when the newest in the store is
``STANDBY_FALLBACK_FACTOR`` times the interval behind (no standby running for a while), so a restart's replay stays
bounded without one.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import select
import signal
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from tradingdesk.core.gc_pause import collector_paused
from tradingdesk.oms.engine import OrderEngine
from tradingdesk.oms.snapshot import capture, restore
from tradingdesk.spec.model import SnapshotSpec
from tradingdesk.storage.journal import Journal
from tradingdesk.storage.journal_async import AsyncDurability
from tradingdesk.storage.snapshots import LoadedSnapshot, SnapshotStore, encode_state, state_key

log = logging.getLogger(__name__)
CHECK_INTERVAL_S = 0.1  # a comparison of two ints: cheap
RETRIES_AT_ONCE = 3
CHILD_NICENESS = 10
"""Added to the serializing child's nice value: it pickles for seconds at the close of a busy day (a fifth of a core
or more of a two-core host, every 25,000 records), and routing's own loop, which it was forked from and competes
with, must come first. Nothing waits for a snapshot but the next restart, which replays a little more."""
STANDBY_FALLBACK_FACTOR = 4
"""With a standby, the active replica takes a snapshot only once the newest one in the store is this many times
``every_records`` (or ``every_seconds``) behind: the standby's are missing (it is down, or still replaying)."""
CHILD_TIMEOUT_S = 300.0
"""How long the serializing child may take before it is killed and the snapshot counted as failed. A fork of a
threaded process can leave the child waiting on a lock some other thread held at the fork; without a bound such
a child would hold every later snapshot back, and restarts would grow with the journal unnoticed. Serializing
100,000 open orders takes seconds."""


def config_key(engine: OrderEngine) -> str:
    """The configuration a snapshot's state depends on: each instrument's sector (the exposure books) and the
    self-match policy (its book's groups). Limits are not in it: they shape checks, not the books."""
    sectors = sorted((symbol, inst.sector) for symbol, inst in engine.instruments.items())
    policy = engine.gate.self_match.policy if engine.gate.self_match is not None else None
    return repr((sectors, policy))


class RoutingSnapshots:
    """``load`` at start (any replica); ``run`` while active: a snapshot every ``spec.every_records`` records or
    ``spec.every_seconds`` seconds, whichever comes first."""

    def __init__(
        self,
        db: Engine,
        *,
        engine: OrderEngine,
        spec: SnapshotSpec,
        incarnation: str,
        extra: Callable[[], dict[str, Any]],
    ) -> None:
        self.engine = engine
        self.spec = spec
        self.store = SnapshotStore(db, incarnation=incarnation, key=state_key(config_key(engine)))
        self._extra = extra
        self.last_seq = 0
        """The seq of the newest snapshot (loaded or taken)."""
        self._due_from_seq = 0  # the last snapshot's seq, or the journal's when the last attempt failed
        self.last_pause_ms = 0.0
        """How long the last snapshot held the event loop (the fork)."""
        self._last_ns = time.monotonic_ns()
        self.child_timeout_s = CHILD_TIMEOUT_S

    @property
    def enabled(self) -> bool:
        return bool(self.spec.every_records or self.spec.every_seconds)

    def load(self) -> LoadedSnapshot | None:
        """The newest valid snapshot put into the (fresh) engine, or None: replay the whole journal."""
        loaded = self.store.latest()
        if loaded is None:
            return None
        try:
            restore(self.engine, loaded.state)
        except ValueError as exc:
            log.warning("journal snapshot at seq %d not used: %s", loaded.state.seq, exc)
            return None
        self.last_seq = self._due_from_seq = loaded.state.seq
        return loaded

    def due(self, journal_seq: int, *, factor: int = 1) -> bool:
        written = journal_seq - self._due_from_seq
        if written <= 0:
            return False
        if self.spec.every_records and written >= self.spec.every_records * factor:
            return True
        elapsed_s = (time.monotonic_ns() - self._last_ns) / 1e9
        return bool(self.spec.every_seconds) and elapsed_s >= self.spec.every_seconds * factor

    async def run(self, journal: Journal, durability: AsyncDurability, *, standby_takes_them: bool = False) -> None:
        """While this replica is active (cancelled when it stops). ``standby_takes_them``: the desk runs a routing
        standby, which takes the snapshots (``follow``); this replica takes one only when the newest in the store
        is ``STANDBY_FALLBACK_FACTOR`` times the interval behind."""
        factor = STANDBY_FALLBACK_FACTOR if standby_takes_them else 1
        failed = 0
        while True:
            await asyncio.sleep(CHECK_INTERVAL_S)
            if not self.due(journal.last_seq(), factor=factor):
                continue
            if standby_takes_them and await asyncio.to_thread(self._caught_up_with_store):
                continue  # the standby took one since: count from it
            try:
                await self.take(journal, durability)
                failed = 0
            except Exception:  # a failed snapshot costs a longer restart, never an order
                failed += 1
                log.exception("routing: journal snapshot failed; the journal still holds everything")
                # The serializing child can be aborted by gRPC's own fork handling (seen under load): retry at
                # the next check a few times, then only when the next snapshot is due.
                if failed > RETRIES_AT_ONCE:
                    self._due_from_seq, self._last_ns = journal.last_seq(), time.monotonic_ns()

    async def follow(self, applied_seq: Callable[[], int]) -> None:
        """While this replica stands by (cancelled when it takes over or stops): a snapshot of the state it has
        applied, when one is due, so that the active replica never forks for one. ``applied_seq`` is read on the
        loop right before the fork, between two applications of followed records: the state at that seq exactly,
        every record of it committed."""
        failed = 0
        while True:
            await asyncio.sleep(CHECK_INTERVAL_S)
            seq = applied_seq()
            if not self.due(seq) or seq <= self.last_seq:
                continue
            try:
                await self._take_at(seq, durable=None, role="standby")
                failed = 0
            except Exception:  # a standby's failed snapshot costs a longer restart, never an order
                failed += 1
                log.exception("routing: standby's journal snapshot failed; the journal still holds everything")
                if failed > RETRIES_AT_ONCE:
                    self._due_from_seq, self._last_ns = seq, time.monotonic_ns()

    def _caught_up_with_store(self) -> bool:
        """Count from the newest snapshot in the store if another replica took it since this one's; True then."""
        newest = max(self.store.seqs(), default=0)
        if newest <= self._due_from_seq:
            return False
        self.last_seq = self._due_from_seq = newest
        self._last_ns = time.monotonic_ns()
        return True

    async def take(self, journal: Journal, durability: AsyncDurability) -> int:
        """One snapshot now: captured on the loop at the journal's last seq, written once that seq is durable.
        Returns its seq (0: nothing new since the last one)."""
        seq = journal.last_seq()
        if seq <= self.last_seq:
            return 0
        return await self._take_at(seq, durable=durability, role="active")

    async def _take_at(self, seq: int, *, durable: AsyncDurability | None, role: str) -> int:
        """Fork now (the caller read ``seq`` with no await since), then write the snapshot once ``seq`` is durable
        (``durable`` None: it already is, a standby's applied records all were committed)."""
        started = time.perf_counter()
        body = await self.serialize(seq)  # it forks before its first await: the state at seq exactly
        if durable is not None:
            await durable.wait_durable(seq)
        if not await asyncio.to_thread(self.store.save, seq, body):
            raise RuntimeError(f"the journal has no record {seq} although it was reported durable")
        self.last_seq = self._due_from_seq = seq
        self._last_ns = time.monotonic_ns()
        log.info(
            "routing: journal snapshot at seq %d (%s replica, %d open orders, %.1f MB, %.0f ms on the loop, "
            "%.0f ms in all)",
            seq,
            role,
            self.engine.open_count,
            len(body) / 1e6,
            self.last_pause_ms,
            (time.perf_counter() - started) * 1e3,
        )
        return seq

    async def serialize(self, seq: int) -> bytes:
        """The engine's state at ``seq`` (the journal's last, with no await between the caller's read of it and
        this call), serialized by a forked child; ``last_pause_ms`` is what the fork held the loop.

        No cyclic collection runs in this process while the child lives: a collection writes into every object it
        walks, and after the fork the kernel copies each page this process writes (``bench/fork_gc.py``: a full
        collection of a million small containers made 47,500 page faults, ~190 MB copied). What the loop makes
        meanwhile is collected after, as usual (nothing is frozen: ``core/gc_pause.py``)."""
        with collector_paused(freeze_after=False):
            started = time.perf_counter()
            pid, pipe = self._fork_serializer(seq)
            self.last_pause_ms = (time.perf_counter() - started) * 1e3
            return await asyncio.to_thread(_collect, pid, pipe, timeout_s=self.child_timeout_s)

    def _fork_serializer(self, seq: int) -> tuple[int, int]:
        """A child process that writes the engine's state at ``seq`` into a pipe; its pid and the pipe's end."""
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid:
            os.close(write_fd)
            return pid, read_fd
        status = 1
        try:
            gc.disable()  # a finalizer could close a connection or socket the parent still uses
            signal.set_wakeup_fd(-1)  # a signal to the child must not wake the parent's loop
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
            os.close(read_fd)
            _close_inherited_fds(keep=write_fd)
            os.nice(CHILD_NICENESS)
            view = memoryview(encode_state(capture(self.engine, seq=seq, extra=self._extra())))
            while view:
                view = view[os.write(write_fd, view) :]
            status = 0
        finally:
            os._exit(status)


def _close_inherited_fds(*, keep: int) -> None:
    """Close every descriptor the forked child inherited but its standard streams and ``keep``. A child holds
    the parent's listening sockets otherwise: when routing was SIGKILLed while a child serialized (5 s at the
    close of a busy day), its successor found its /metrics port still taken by the orphan, could not serve
    metrics for the rest of the day, and its gRPC port was not free until the orphan exited. Closing them here
    leaves the parent's sockets open (the parent holds its own references)."""
    os.closerange(3, keep)
    os.closerange(keep + 1, _max_fd())


def _max_fd() -> int:
    try:
        return os.sysconf("SC_OPEN_MAX")
    except (OSError, ValueError):
        return 65_536


def _collect(pid: int, pipe: int, *, timeout_s: float) -> bytes:
    """What the serializing child wrote, once it exited cleanly; a child still writing after ``timeout_s`` is
    killed (through a pidfd: the signal cannot reach another process that reused the pid) and nothing is kept."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    pidfd = os.pidfd_open(pid)
    try:
        with os.fdopen(pipe, "rb", buffering=0) as stream:
            poller = select.poll()
            poller.register(stream, select.POLLIN | select.POLLHUP)
            while True:
                left_ms = (deadline - time.monotonic()) * 1e3
                if left_ms <= 0 or not poller.poll(left_ms):
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    raise RuntimeError(f"the snapshot's serializing process {pid} took over {timeout_s:g} s: killed")
                chunk = stream.read(1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"the snapshot's serializing process {pid} exited with {code}")
    return b"".join(chunks)
