"""The append-only, event-sourced order journal, with group commit.

``Journal.append`` is called on the hot path. It encodes the payload, assigns the next sequence number and
queues the record (O(1), no I/O, never blocks on the database) and returns the seq. One background writer
thread drains the queue: everything queued since its last commit goes into ONE transaction (an executemany
insert and a commit, at most ``batch_max`` rows each), so the cost of a durable commit (an fsync) is shared
by every record that arrived while the previous commit was in flight. Throughput grows with load instead of
being capped at one fsync per event.

After each commit the writer advances ``durable_seq`` and calls every commit listener with
``(upto_seq, records)`` from the writer thread, in seq order. ``AsyncDurability`` (journal_async.py) bridges
that to asyncio, so the order path can ``await wait_durable(seq)`` before it acknowledges anything.

Failure handling: when a write fails (database down, disk full, lock timeout) the writer keeps the records,
drops its connection, and retries the same batch with exponential backoff (``retry_initial_s`` doubling up
to ``retry_max_s``), logging each failure. ``durable_seq`` does not move until the batch really committed.
If the failure happened after the server committed but before the acknowledgement arrived, the retry sees
the rows (the batch is one transaction, so all or none are there) and does not insert them twice.

Backpressure: while the database is unavailable, appends keep queuing in memory up to ``max_pending``
records; beyond that ``append`` raises ``JournalFull`` instead of blocking (the caller is usually an asyncio
loop, which must never block). Callers should stop admitting new orders earlier, when ``healthy`` is false
or ``backlog`` grows, so that events of orders already live (fills, cancels) still fit.

There is one ``Journal`` writing to a journal table at a time: it owns the numbering. On PostgreSQL the
database enforces it (``fence.py``): the writer's connection holds the table's writer lock, taken when the
journal is created (``wait_for_lock`` queues for it), and while it is held no other session can insert. A
``standby`` journal takes no lock: it only reads (``replay``) until ``take_over`` gets the lock, when the
writer it stood by for is gone, and continues the numbering after the last committed record. A writer that
loses its session (found at its next write, or by the idle writer's session check every ``session_check_s``)
re-takes the lock only if no other writer took it meanwhile (held by another session for ``fence_confirm_s`` in
a row: in a database outage a standby's queued wait can be granted for the moment between the two sessions being
cut), and then checks that nobody appended in between; otherwise it is fenced for good: ``JournalFenced``,
``on_fenced`` called once, no append ever again. Records it had not committed were never reported durable, so
never acknowledged.

With an outage spool (``spool.py``) the writer also owns the spool: it takes the spool's owner lock (a ``flock``)
right after the writer lock, in the constructor or in ``take_over``, and copies what the spool holds into the
table before it reads the last seq, so it numbers on after the spooled records as if they had been committed.
Always in that order (writer lock, then spool), so no two processes wait for each other: one holding the spool
without the writer lock is a writer whose session was cut, which takes the lock back or is fenced off within
``fence_confirm_s`` of finding it held (and then lets go of the spool). The races of a routing standby on the
same disk (the embedded desk, ``replicas`` 2):

1. The active process is SIGKILLed with an empty spool: the kernel drops its flock as it ends its session, the
   standby's queued wait for the writer lock is granted and its try of the flock succeeds at once; the takeover
   costs one ``open`` and one ``flock`` more.
2. It is SIGKILLed during an outage with acknowledged records in the spool: each was fsynced before it was
   reported durable. Once the database is back the standby gets the writer lock, then the flock, copies the spool
   into the table in seq order (``_copy_spool``), reads the last seq after them, and routing's ``_lead`` applies
   everything committed after what it had applied, the spooled records included, so ``applied_seq`` meets
   ``last_seq``.
3. The active process lives through an outage, spooling, and the standby wins the writer lock first when the
   database is back: the active finds the lock held elsewhere at its next try of the database and spools (and
   acknowledges) on until it has been held for ``fence_confirm_s``, then is fenced off, leaves the spool in place,
   lets go of the flock after its last append, and exits. The standby waits for the flock (up to
   ``spool_owner_wait_s``, else ``SpoolOwned``: it lets go of the writer lock too, and routing exits to stand by
   again), so it reads the spool only once nothing more is appended to it, and nothing that was acknowledged is
   missing from it.
4. The killed process comes back as the new standby: a standby journal never reads, copies or appends to the spool
   until its own ``take_over``, which needs the flock.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import DBAPIError

from tradingdesk.core.frozen_build import positional_builder

from .codec import decode_payload, encode_payload
from .db import is_postgresql
from .fence import WriterFenced, WriterLock
from .journal_metrics import JournalMetrics
from .pg_copy import copy_statement, write_copy
from .schema import journal as journal_table
from .spool import OutageSpool, SpoolOwned

log = logging.getLogger(__name__)

KIND_MAX_LEN = 64
SLOW_COMMIT_S = 0.25
"""A commit that took this long is logged (WARNING) with its size and time: every acknowledgement waiting for it
waited as long, and with the commit off the event loop no loop watch sees it (``telemetry/loop_watch.py``)."""
SPOOL_OWNER_WAIT_S = 30.0
"""How long a new writer waits for the outage spool's previous owner to let go of it (race 3 of the module
docstring: a writer fenced off while alive lets go within about ``fence_confirm_s`` plus its retry backoff)."""
SPOOL_SESSION_CHECK_S = 1.0
"""While a new writer waits for the spool's owner, how often it checks that its writer lock's session still lives."""
SLOW_COMMIT_LOG_EVERY_S = 1.0
"""At most one such line a second; the line says how many slow commits it stands for."""
ORDER_ID_MAX_LEN = 128
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class JournalRecord:
    """One journal event. ``payload`` holds ints, strs, bools, lists and dicts only."""

    seq: int
    ts_ns: int
    kind: str
    order_id: str
    payload: dict[str, Any]
    payload_json: str = field(default="", compare=False, repr=False)
    """The payload as stored, so consumers that forward it need not encode it again."""
    event: Any = field(default=None, compare=False, repr=False)
    """The typed event the payload encodes, when the record was appended in this process (``None`` when read
    back from the database: decode it with ``core.event_codec``)."""


_build_record = positional_builder(JournalRecord)
"""``JournalRecord`` of every field, positionally (``core/frozen_build.py``): a replay reads one per record, and the
frozen dataclass's constructor was about a tenth of the journal's read."""

#: ``listener(upto_seq, records)``, called from the writer thread after each commit, in seq order.
CommitListener = Callable[[int, list[JournalRecord]], None]


class JournalError(RuntimeError):
    pass


class JournalClosed(JournalError):
    """``append`` after ``close``."""


class JournalFull(JournalError):
    """Too many records wait for the database (it has been unavailable for a while)."""


class JournalFenced(JournalError):
    """Another writer holds this journal, or took it over: this one may never append again."""


class JournalStandby(JournalError):
    """``append`` on a standby journal: another replica writes it until ``take_over``."""


@dataclass(slots=True)
class JournalStats:
    commits: int = 0
    records: int = 0
    write_failures: int = 0
    largest_batch: int = 0
    spooled: int = 0  # records written to the outage spool


_COLUMNS = ("seq", "ts_ns", "kind", "order_id", "payload")
_PG_COPY = copy_statement("journal", _COLUMNS)
_SQLITE_INSERT = f"INSERT INTO journal ({', '.join(_COLUMNS)}) VALUES (?, ?, ?, ?, ?)"

# A queued, not yet durable record: (seq, ts_ns, kind, order_id, payload_json, payload, event).
_Pending = tuple[int, int, str, str, str, dict[str, Any], Any]


class Journal:
    """Append-only order journal with group commit. See the module docstring for the guarantees."""

    def __init__(
        self,
        engine: Engine,
        *,
        batch_max: int = 2000,
        max_pending: int = 500_000,
        retry_initial_s: float = 0.05,
        retry_max_s: float = 5.0,
        replay_chunk: int = 5000,
        inline: bool = False,
        wait_for_lock: bool = False,
        standby: bool = False,
        on_fenced: Callable[[], None] | None = None,
        fence_confirm_s: float = 1.0,
        session_check_s: float = 1.0,
        spool: OutageSpool | None = None,
        spool_owner_wait_s: float = SPOOL_OWNER_WAIT_S,
    ) -> None:
        """``inline``: the owner calls ``commit_inline`` (e.g. once per event-loop turn) and appends do not
        wake the writer thread, which then only sweeps every few milliseconds and retries failures.

        On PostgreSQL the constructor takes the journal's writer lock: ``JournalFenced`` if another writer holds
        it, or with ``wait_for_lock`` it waits its turn; a ``standby`` journal takes it later, in ``take_over``.
        ``on_fenced`` is called (from the writer thread) if this journal is later fenced off: after a lost
        session, once another session has held the lock for ``fence_confirm_s`` while this one retried, or at
        once if another writer appended. An idle writer checks its session every ``session_check_s``: one that
        lost it (and with it the lock) without writing finds out, and takes the lock back or is fenced off.

        ``spool``: while the database cannot write, batches go to this local file instead (fsynced, then reported
        durable) and are copied into the table, before anything newer, once it can (``spool.py``). A spool left
        by an earlier process is copied in when this journal becomes the writer, before it reads the table, once
        it owns the spool: ``SpoolOwned`` if another process still does after ``spool_owner_wait_s``."""
        if batch_max < 1:
            raise ValueError("batch_max must be >= 1")
        self._engine = engine
        self._batch_max = batch_max
        self._max_pending = max_pending
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._fence_confirm_s = fence_confirm_s
        self._session_check_s = session_check_s
        self._held_elsewhere_since: float | None = None  # since when another session has held the lock, in a row
        self._replay_chunk = replay_chunk
        self._inline = inline
        # Held by whoever is writing (the writer thread or commit_inline), from taking a batch until it is
        # committed, so batches are committed in seq order and never concurrently.
        self._write_lock = threading.Lock()
        self._fence = WriterLock(engine, journal_table.name) if is_postgresql(engine) else None
        self._on_fenced = on_fenced
        self._fenced = False
        self._conn: Connection | None = None  # the writer's own connection (on PostgreSQL: holding the lock)
        self._standby = standby
        self._spool = spool
        self._spooling = False  # the spool holds records the table has not (written by the writer thread only)
        self._spool_ok = True  # false after a failed spool write, until the next write to the spool or the table
        self._database_retry_at = 0.0  # while spooling: when the writer next tries the database
        self._database_retry_s = retry_initial_s
        self._spool_retries = 0  # failed tries of the database since records went to the spool (for its log)
        self._spool_owner_wait_s = spool_owner_wait_s
        if self._fence is not None and not standby:
            try:
                self._conn = self._fence.acquire() if wait_for_lock else self._fence.try_acquire()
            except WriterFenced as exc:
                raise JournalFenced(str(exc)) from None
        if not standby:
            try:
                self._own_and_recover_spool(self._conn)
            except BaseException:
                self._give_up_writing(self._conn)
                self._conn = None
                raise

        last = self._read_max_seq()  # with the lock held: nobody else appends any more
        self._next_seq = last + 1  # guarded by _lock
        self._durable_seq = last  # written by the writer thread only
        self._lock = threading.Lock()
        self._pending: list[_Pending] = []  # guarded by _lock, in seq order
        self._wake = threading.Event()
        self._abandon = threading.Event()
        self._durable_cv = threading.Condition(threading.Lock())
        self._durable_waiters = 0
        self._listeners: tuple[CommitListener, ...] = ()
        self._thread: threading.Thread | None = None
        self._closing = False
        self._closed = False
        self._healthy = True
        self._last_error: BaseException | None = None
        self.stats = JournalStats()
        self._metrics = JournalMetrics(self)
        self._slow_commits = 0  # slow commits since the last line that said so (``_slow_commit``)
        self._slow_logged_at = -SLOW_COMMIT_LOG_EVERY_S

    # ------------------------------------------------------------------ hot path

    def append(self, kind: str, order_id: str, payload: dict[str, Any], ts_ns: int, event: Any = None) -> int:
        """Queue one event and return its seq. Thread-safe, O(1), no I/O.

        The record is durable once ``durable_seq >= seq`` (see ``flush`` and ``AsyncDurability``). The
        payload is encoded now; the same dict object is handed to commit listeners, so do not mutate it
        after appending. ``event`` (the typed event, if any) rides along to the listeners. Raises
        ``ValueError``/``TypeError`` for a bad record (no seq is used up then), ``JournalClosed`` after close and
        ``JournalFull`` when the backlog limit is reached.
        """
        if len(kind) > KIND_MAX_LEN or len(order_id) > ORDER_ID_MAX_LEN:
            raise ValueError(f"kind (<= {KIND_MAX_LEN}) or order_id (<= {ORDER_ID_MAX_LEN}) too long")
        if "\x00" in kind or "\x00" in order_id:
            raise ValueError("NUL character in kind or order_id")
        if not (kind.isascii() and order_id.isascii()):
            kind.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError (a ValueError) here
            order_id.encode("utf-8")
        if type(ts_ns) is not int or not _INT64_MIN <= ts_ns <= _INT64_MAX:
            raise TypeError("ts_ns must be a 64-bit int")
        text = encode_payload(payload)
        with self._lock:
            if self._standby:
                raise JournalStandby("this replica stands by: another one writes the journal")
            if self._closing:
                if self._fenced:
                    raise JournalFenced("this journal was fenced off: another writer took over")
                raise JournalClosed("journal is closed")
            if len(self._pending) >= self._max_pending:
                raise JournalFull(f"{len(self._pending)} records wait for the database")
            seq = self._next_seq
            self._next_seq = seq + 1
            self._pending.append((seq, ts_ns, kind, order_id, text, payload, event))
        if not self._inline and not self._wake.is_set():
            self._wake.set()
        return seq

    def wake(self) -> None:
        """In inline mode: have the writer thread commit what is queued (for records nobody waits on)."""
        if not self._wake.is_set():
            self._wake.set()

    def commit_inline(self) -> bool:
        """Commit everything queued now, on the calling thread, if no other write is in progress.

        This saves two thread hand-offs per batch when the caller is about to wait for durability anyway.
        It never retries or sleeps: on a failure the batch goes back to the head of the queue and the writer
        thread takes over with its backoff. Returns True if nothing is left queued by this call.
        """
        if self._spooling or not self._write_lock.acquire(blocking=False):
            self._wake.set()  # while spooling the writer thread writes: no connection attempt on the caller's thread
            return False
        try:
            with self._lock:
                batch, self._pending = self._pending[: self._batch_max], self._pending[self._batch_max :]
                more = bool(self._pending)
            if not batch:
                return True
            try:
                conn = self._writer()
                started = time.perf_counter()
                self._insert_rows(conn, [p[:5] for p in batch])
            except Exception as exc:
                with self._lock:
                    self._pending[:0] = batch
                self.stats.write_failures += 1
                self._healthy = False
                self._last_error = exc
                self._drop_conn()
                log.warning("inline journal write failed, handing over to the writer: %s", _describe(exc))
                self._wake.set()
                return False
            self._committed(batch, time.perf_counter() - started)
            if more:
                self._wake.set()
            return not more
        finally:
            self._write_lock.release()

    # ------------------------------------------------------------------ state

    @property
    def durable_seq(self) -> int:
        """Every record with ``seq <= durable_seq`` is committed (durable)."""
        return self._durable_seq

    def last_seq(self) -> int:
        """The last seq assigned (durable or not); at start, the highest seq in the table (0 if empty)."""
        return self._next_seq - 1

    @property
    def backlog(self) -> int:
        """Records appended but not yet durable."""
        return self._next_seq - 1 - self._durable_seq

    @property
    def standby(self) -> bool:
        """True until ``take_over``: another replica writes this journal."""
        return self._standby

    def try_take_over(self) -> bool:
        """Become the writer now if nobody else writes (the lock is free); False if another writer holds it. With a
        spool, as ``take_over``."""
        if not self._standby:
            return True
        try:
            conn = self._fence.try_acquire() if self._fence is not None else None
        except WriterFenced:
            return False
        self._took_over(conn)
        return True

    def take_over(self, stop: threading.Event | None = None, on_wait: Callable[[], None] | None = None) -> int:
        """Wait for the writer lock (granted the moment the current writer's session ends) and become the writer,
        numbering on after the last committed record. Returns that record's seq. ``stop`` gives up the wait
        with ``JournalStandby``. With a spool, it then waits for the spool's owner lock and copies the spool in first
        (the module docstring's races); ``SpoolOwned`` (the writer lock let go of again) if the previous owner holds
        it for ``spool_owner_wait_s``."""
        if self._standby:
            try:
                conn = self._fence.acquire(stop, on_wait) if self._fence is not None else None
            except WriterFenced as exc:
                raise JournalStandby(str(exc)) from None
            self._took_over(conn)
        return self.last_seq()

    def _took_over(self, conn: Connection | None) -> None:
        """With the writer lock held on ``conn``: own the spool and copy it in, then number on after the last
        record. If any of it fails the lock and the spool are let go of (nothing was appended), and it raises."""
        try:
            self._own_and_recover_spool(conn)
            last = self._read_max_seq(conn)  # with the lock held: nobody else appends any more
        except BaseException:
            self._give_up_writing(conn)
            raise
        with self._lock, self._durable_cv:
            self._conn = conn
            self._next_seq = last + 1
            self._durable_seq = last
            self._standby = False

    @property
    def fenced(self) -> bool:
        """True once another writer took this journal over; it never appends again."""
        return self._fenced

    @property
    def healthy(self) -> bool:
        """False while the writer cannot write (it keeps retrying); true again after the next commit."""
        return self._healthy

    @property
    def accepting(self) -> bool:
        """True while appends become durable: the database writes, or the outage spool does."""
        return self._healthy or (self._spool is not None and self._spool_ok)

    @property
    def spooling(self) -> bool:
        """True while records durable only in the outage spool wait for the database."""
        return self._spooling

    @property
    def last_error(self) -> BaseException | None:
        return self._last_error

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def add_commit_listener(self, fn: CommitListener) -> None:
        """Call ``fn(upto_seq, records)`` from the writer thread after every commit. Keep it quick."""
        with self._lock:
            self._listeners = (*self._listeners, fn)

    def remove_commit_listener(self, fn: CommitListener) -> None:
        with self._lock:
            self._listeners = tuple(x for x in self._listeners if x is not fn)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Journal:
        """Start the writer thread (idempotent). Appends made before ``start`` are written then."""
        with self._lock:
            if self._closed:
                raise JournalClosed("journal is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="journal-writer", daemon=True)
                self._thread.start()
        return self

    def flush(self, timeout: float | None = None) -> bool:
        """Block until everything appended so far is durable. Returns False on timeout."""
        target = self.last_seq()
        if self._durable_seq >= target:
            return True
        if self._thread is None:
            raise JournalError("journal writer not started")
        with self._durable_cv:
            self._durable_waiters += 1
            try:
                return self._durable_cv.wait_for(lambda: self._durable_seq >= target, timeout)
            finally:
                self._durable_waiters -= 1

    def close(self, timeout: float | None = None) -> bool:
        """Stop accepting appends, write everything queued, stop the writer. Idempotent.

        With a ``timeout`` (seconds) and a database that stays unavailable, the writer gives up after it
        and the records still queued are lost (they were never reported durable). Returns True when
        everything appended is durable.
        """
        if self._thread is not None and threading.current_thread() is self._thread:
            raise JournalError("close() called from a commit listener (the writer thread)")
        with self._lock:
            self._closing = True
            need_writer = self._thread is None and bool(self._pending)
        if need_writer:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="journal-writer", daemon=True)
                    self._thread.start()
        thread = self._thread
        if thread is not None:
            self._wake.set()
            thread.join(timeout)
            if thread.is_alive():
                self._abandon.set()
                self._wake.set()
                thread.join(5.0)  # a write stuck in the driver cannot be interrupted: the thread is a daemon
                log.error("journal closed with %d records not durable (database unavailable)", self.backlog)
        if self._spool is not None and (thread is None or not thread.is_alive()):
            self._spool.release()  # nothing appends any more: a spool left behind is the next writer's
        self._closed = True
        return self._durable_seq >= self.last_seq()

    def __enter__(self) -> Journal:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading

    def replay(self, from_seq: int = 1, to_seq: int | None = None) -> Iterator[JournalRecord]:
        """Committed records with ``from_seq <= seq (<= to_seq)`` in seq order (see ``read_journal``)."""
        return read_journal(self._engine, from_seq, to_seq, chunk=self._replay_chunk)

    def _read_max_seq(self, conn: Connection | None = None) -> int:
        stmt = select(func.max(journal_table.c.seq))
        if conn is not None:
            value = conn.execute(stmt).scalar()
            conn.rollback()
        else:
            with self._engine.connect() as c:
                value = c.execute(stmt).scalar()
        return int(value or 0)

    # ------------------------------------------------------------------ writer thread

    def _run(self) -> None:
        try:
            sweep = 0.005 if self._inline else None
            next_check = time.monotonic() + self._session_check_s
            while True:
                with self._lock:
                    has_work = bool(self._pending)
                    closing = self._closing
                if not has_work:
                    if closing or self._abandon.is_set():
                        return  # a spool left behind is the next writer's first step
                    if self._spooling:
                        if time.monotonic() >= self._database_retry_at and not self._drain_spool():
                            return  # fenced off
                        if self._spooling:
                            self._wake.wait(max(0.0, min(self._database_retry_at - time.monotonic(), 1.0)))
                            self._wake.clear()
                            continue
                    if time.monotonic() >= next_check:
                        next_check = time.monotonic() + self._session_check_s
                        if not self._check_session():
                            return  # fenced off
                    self._wake.wait(sweep if sweep is not None else self._session_check_s)
                    self._wake.clear()
                    continue
                with self._write_lock:
                    with self._lock:
                        batch, self._pending = self._pending, []
                    for start in range(0, len(batch), self._batch_max):
                        if not self._write_chunk(batch[start : start + self._batch_max]):
                            return  # abandoned by close(timeout)
        except BaseException:  # pragma: no cover - a bug; make it loud
            log.critical("journal writer died", exc_info=True)
            self._healthy = False
            raise
        finally:
            self._drop_conn(invalidate=False)

    def _write_chunk(self, chunk: list[_Pending]) -> bool:
        rows = [p[:5] for p in chunk]
        first, last = chunk[0][0], chunk[-1][0]
        delay = self._retry_initial_s
        attempt = 0
        while True:
            if self._spooling and time.monotonic() < self._database_retry_at and self._to_spool(chunk, rows):
                return True
            try:
                conn = self._writer()
                if self._spooling:
                    self._copy_spool(conn)
                started = time.perf_counter()
                if attempt and self._already_written(conn, rows):
                    # An earlier attempt committed but its acknowledgement was lost.
                    log.warning("journal batch %d..%d was committed by an earlier attempt", first, last)
                else:
                    self._insert_rows(conn, rows)
                self._held_elsewhere_since = None
                break
            except JournalFenced as exc:
                self._fenced_off(exc)
                return False
            except Exception as exc:
                if self._lock_lost_for_good(exc):
                    self._fenced_off(exc)
                    return False
                attempt += 1
                self.stats.write_failures += 1
                self._healthy = False
                self._last_error = exc
                self._drop_conn()
                if self._spool is not None:
                    self._try_database_later(exc)
                    if self._to_spool(chunk, rows):
                        return True
                level = logging.WARNING if attempt < 5 or attempt % 20 == 0 else logging.DEBUG
                log.log(
                    level,
                    "journal write of seq %d..%d failed (attempt %d, retry in %.2fs, %d records waiting): %s",
                    first,
                    last,
                    attempt,
                    delay,
                    self.backlog,
                    _describe(exc),
                )
                if self._abandon.wait(delay):
                    return False
                delay = min(delay * 2, self._retry_max_s)
        if attempt:
            log.warning("journal writes recovered after %d failed attempts", attempt)
        self._committed(chunk, time.perf_counter() - started)
        return True

    # ------------------------------------------------------------------ outage spool

    def _to_spool(self, chunk: list[_Pending], rows: list[tuple[Any, ...]]) -> bool:
        """Make ``chunk`` durable in the outage spool and report it durable; False if the spool cannot write."""
        assert self._spool is not None
        started = time.perf_counter()
        try:
            self._spool.append(rows)
        except OSError as exc:
            if self._spool_ok:
                log.error(
                    "journal spool %s cannot write (%s): new records wait for the database", self._spool.path, exc
                )
            self._spool_ok = False
            self._database_retry_at = 0.0
            return False
        if not self._spooling:
            log.warning(
                "journal: the database cannot write (%s); records go to the outage spool %s from seq %d until it can",
                _describe(self._last_error) if self._last_error is not None else "unknown",
                self._spool.path,
                rows[0][0],
            )
        self._spooling = True
        self._spool_ok = True
        self.stats.spooled += len(rows)
        self._committed(chunk, time.perf_counter() - started, in_database=False)
        return True

    def _copy_spool(self, conn: Connection) -> None:
        """Copy the spooled records into the table over ``conn`` (holding the writer lock), then empty the spool.
        Records already there (a commit whose answer was lost) must be the same ones: ``JournalFenced`` if not."""
        assert self._spool is not None
        rows = self._spool.read()
        if rows:
            found = self._rows_from(conn, rows[0][0], limit=len(rows) + 1)
            if found != rows[: len(found)]:
                raise JournalFenced(
                    f"the journal holds other records from seq {rows[0][0]} on than the {len(rows)} in the outage "
                    f"spool {self._spool.path}"
                )
            if self._read_max_seq(conn) < rows[0][0] - 1:
                raise JournalFenced(f"the journal ends before seq {rows[0][0] - 1}, where the outage spool begins")
            if len(found) < len(rows):
                self._insert_rows(conn, rows[len(found) :])
            log.warning(
                "journal: %d records of the outage spool written to the database (seq %d..%d)",
                len(rows) - len(found),
                rows[0][0],
                rows[-1][0],
            )
        self._spool.clear()
        self._spooling = False
        self._spool_retries = 0
        self._database_retry_s = self._retry_initial_s
        self._healthy = True
        self._last_error = None

    def _drain_spool(self) -> bool:
        """An idle writer's try to empty the spool into the database. False once fenced off."""

        def failed(exc: BaseException) -> None:
            self._last_error = exc
            self.stats.write_failures += 1
            self._try_database_later(exc)

        return self._idle_step(lambda: self._copy_spool(self._writer()), failed)

    def _try_database_later(self, exc: BaseException) -> None:
        """While spooling: the next try of the database after the current backoff, which doubles up to
        ``retry_max_s``. A failed try after the spool began is logged (the first four and every twentieth at
        WARNING, the rest at DEBUG): the SRE watching an outage sees the writer still trying, and why it fails."""
        self._database_retry_at = time.monotonic() + self._database_retry_s
        if self._spooling and self._spool is not None:
            self._spool_retries += 1
            log.log(
                logging.WARNING if self._spool_retries < 5 or self._spool_retries % 20 == 0 else logging.DEBUG,
                "journal: the database still cannot write (try %d since the spool began, next in %.1fs; %d records "
                "in the outage spool %s): %s",
                self._spool_retries,
                self._database_retry_s,
                len(self._spool),
                self._spool.path,
                _describe(exc),
            )
        self._database_retry_s = min(self._database_retry_s * 2, self._retry_max_s)

    def _own_and_recover_spool(self, conn: Connection | None) -> None:
        """A new writer's first step, with the writer lock held: own the spool (waiting for a previous owner to let
        go or die), then copy into the table what an earlier process spooled, before the table is read."""
        if self._spool is None:
            return
        started = time.monotonic()
        blocked = False
        while True:
            left = self._spool_owner_wait_s - (time.monotonic() - started)
            try:
                blocked |= self._spool.own(within_s=max(0.0, min(left, SPOOL_SESSION_CHECK_S))) > 0
                break
            except SpoolOwned:
                blocked = True
                if left <= SPOOL_SESSION_CHECK_S:
                    log.critical(
                        "journal: holding the writer lock, but another process still owns the outage spool %s after "
                        "%.0f s; letting go of the lock",
                        self._spool.path,
                        self._spool_owner_wait_s,
                    )
                    raise
            # A lock granted from the queue in the instant a database outage cut the sessions one by one is held by
            # a session already gone, and the old writer, alive, took it back: it owns the spool for good. Ask the
            # session (an error here is the database's: the caller waits for it as a standby does).
            if conn is not None:
                conn.exec_driver_sql("SELECT 1")
                conn.rollback()
        if blocked:
            waited = time.monotonic() - started
            log.warning("journal: waited %.3f s for the outage spool's previous owner to let go of it", waited)
        self._recover_spool(conn)

    def _give_up_writing(self, conn: Connection | None) -> None:
        """After a failed start as the writer: let go of the spool and of the writer lock's session."""
        if self._spool is not None:
            self._spool.release()
        if conn is not None:
            WriterLock.release(conn)

    def _recover_spool(self, conn: Connection | None) -> None:
        """Records an earlier process spooled go into the table before it is read (the spool is owned)."""
        if self._spool is None or not len(self._spool):
            return
        log.warning(
            "journal: %d records in the outage spool %s from an earlier process", len(self._spool), self._spool.path
        )
        if conn is not None:
            self._copy_spool(conn)
            return
        with self._engine.connect() as own:
            self._copy_spool(own)

    def _rows_from(self, conn: Connection, seq: int, *, limit: int) -> list[tuple[Any, ...]]:
        t = journal_table
        stmt = select(t.c.seq, t.c.ts_ns, t.c.kind, t.c.order_id, t.c.payload).where(t.c.seq >= seq)
        found = [tuple(r) for r in conn.execute(stmt.order_by(t.c.seq).limit(limit)).all()]
        conn.rollback()
        return found

    def _writer(self) -> Connection:
        """The writer's connection; after a lost one, a new one that holds the writer lock again."""
        conn = self._conn
        if conn is None:
            conn = self._conn = self._fence.try_acquire() if self._fence is not None else self._engine.connect()
        return conn

    def _lock_lost_for_good(self, exc: BaseException) -> bool:
        """After a failed write or session check: is the journal another writer's now? At once if another
        appended; if another session holds the lock, only once it has for ``fence_confirm_s`` in a row. In a
        database outage a standby's queued wait can be granted the moment this session is cut, and its own
        session is cut a moment later: nobody wrote, and this writer takes the lock back."""
        if isinstance(exc, JournalFenced):
            return True
        if not isinstance(exc, WriterFenced):
            self._held_elsewhere_since = None
            return False
        now = time.monotonic()
        if self._held_elsewhere_since is None:
            self._held_elsewhere_since = now
        return now - self._held_elsewhere_since >= self._fence_confirm_s

    def _check_session(self) -> bool:
        """An idle writer's check that its session (on PostgreSQL: holding the writer lock) is still there; a lost
        one is replaced by one that holds the lock again, checked that nobody appended meanwhile. Without it a
        writer would only find out at its next write, and a standby that took over in between would wait for this
        process to give up the service's address. Returns False once fenced off."""
        if self._fence is None or self._standby or self._fenced:
            return True

        def check() -> None:
            with self._lock:
                if self._pending:
                    return  # the write about to happen checks the session itself
            lost = self._conn is None
            conn = self._writer()
            if lost:  # a new session: nothing may have been appended since our last commit
                if self._read_max_seq(conn) != self._durable_seq:
                    raise JournalFenced("another writer appended to the journal while this one had no session")
            else:
                conn.exec_driver_sql("SELECT 1")
                conn.rollback()

        def failed(exc: BaseException) -> None:
            log.debug("journal session check failed (next in %.1fs): %s", self._session_check_s, _describe(exc))

        return self._idle_step(check, failed)

    def _idle_step(self, step: Callable[[], None], failed: Callable[[BaseException], None]) -> bool:
        """Run an idle writer's database ``step`` under the write lock (skipped while a write is in progress: that
        write meets the same database). A failure drops the connection and fences this journal off if the lock is
        another writer's for good, else goes to ``failed``. False once fenced off."""
        if not self._write_lock.acquire(blocking=False):
            return True
        try:
            try:
                step()
                self._held_elsewhere_since = None
            except Exception as exc:
                self._drop_conn()
                if self._lock_lost_for_good(exc):
                    self._fenced_off(exc)
                    return False
                failed(exc)
            return True
        finally:
            self._write_lock.release()

    def _already_written(self, conn: Connection, rows: list[tuple[Any, ...]]) -> bool:
        """After a failed attempt: are ``rows`` in the table (ours, committed though the answer was lost), or
        nothing from their first seq on? Anything else means another writer appended: ``JournalFenced``."""
        found = self._rows_from(conn, rows[0][0], limit=len(rows) + 1)
        if not found:
            return False
        if found == [tuple(r) for r in rows]:
            return True
        raise JournalFenced(f"another writer appended to the journal from seq {found[0][0]} on")

    def _fenced_off(self, exc: BaseException) -> None:
        """Another writer has the journal: stop for good. Nothing not yet durable was ever acknowledged."""
        with self._lock:
            self._closing = True
            self._fenced = True
        self._healthy = False
        self._last_error = exc
        self._drop_conn()
        log.critical("journal fenced off (%s): %d records were never durable and are dropped", exc, self.backlog)
        if self._spooling and self._spool is not None:
            self._spooling = False
            if isinstance(exc, JournalFenced):  # another writer appended without them: never ours to copy in
                try:
                    kept = str(self._spool.set_aside())
                except OSError as err:
                    kept = f"{self._spool.path} (not set aside: {err})"
                log.critical(
                    "journal: acknowledged records in the outage spool are not in the journal, which another writer "
                    "took over; they are kept in %s",
                    kept,
                )
            else:  # the new writer holds the lock and waits for the spool: it copies them in before it writes
                log.critical(
                    "journal: %d acknowledged records left in the outage spool %s for the writer that took over",
                    len(self._spool),
                    self._spool.path,
                )
        if self._spool is not None:
            self._spool.release()  # from the writer thread, which never appends again
        if self._on_fenced is not None:
            try:
                self._on_fenced()
            except Exception:
                log.exception("on_fenced failed")

    def _committed(self, chunk: list[_Pending], seconds: float, *, in_database: bool = True) -> None:
        """Bookkeeping after a commit (``seconds`` it took; ``in_database`` false: to the outage spool): durable
        seq, stats and metrics, then the listeners."""
        last = chunk[-1][0]
        self._metrics.committed(len(chunk), seconds)
        if seconds >= SLOW_COMMIT_S:
            self._slow_commit(chunk, seconds, in_database=in_database)
        if in_database:
            self._healthy = True
            self._last_error = None
            self._spool_ok = True
        stats = self.stats
        stats.commits += 1
        stats.records += len(chunk)
        if len(chunk) > stats.largest_batch:
            stats.largest_batch = len(chunk)
        with self._durable_cv:
            self._durable_seq = last
            if self._durable_waiters:
                self._durable_cv.notify_all()
        listeners = self._listeners
        if listeners:
            records = [_build_record(p[0], p[1], p[2], p[3], p[5], p[4], p[6]) for p in chunk]
            for fn in listeners:
                try:
                    fn(last, records)
                except Exception:
                    log.exception("journal commit listener %r failed", fn)

    def _slow_commit(self, chunk: list[_Pending], seconds: float, *, in_database: bool) -> None:
        self._slow_commits += 1
        now = time.monotonic()
        if now < self._slow_logged_at + SLOW_COMMIT_LOG_EVERY_S:
            return
        log.warning(
            "journal: a commit of %d records (seq %d..%d) took %.0f ms %s%s",
            len(chunk),
            chunk[0][0],
            chunk[-1][0],
            seconds * 1e3,
            "in the database" if in_database else "to the outage spool",
            f" ({self._slow_commits} commits of {SLOW_COMMIT_S * 1e3:.0f} ms or more since the last such line)"
            if self._slow_commits > 1
            else "",
        )
        self._slow_logged_at, self._slow_commits = now, 0

    def _insert_rows(self, conn: Connection, rows: list[tuple[Any, ...]]) -> None:
        """Insert ``rows`` (seq, ts_ns, kind, order_id, payload) in one transaction and commit it.

        PostgreSQL: ``COPY FROM STDIN`` as its own transaction (``_insert_postgresql``; ``COPY`` is about 3x an
        executemany). SQLite: the driver's executemany with tuples. Anything else: a Core executemany.
        """
        if conn.in_transaction():
            conn.rollback()
        dialect = conn.dialect.name
        if dialect == "postgresql":
            _insert_postgresql(conn.connection.driver_connection, rows)
            return
        with conn.begin():
            if dialect == "sqlite":
                conn.connection.driver_connection.executemany(_SQLITE_INSERT, rows)
            else:
                conn.execute(journal_table.insert(), [dict(zip(_COLUMNS, r, strict=True)) for r in rows])

    def _drop_conn(self, *, invalidate: bool = True) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if invalidate or self._fence is not None:
            # after a failure, never hand a possibly broken connection back to the pool; a fenced writer's
            # session ends here, and its writer lock with it (a pooled session would keep holding it)
            with contextlib.suppress(Exception):
                conn.invalidate()
        with contextlib.suppress(Exception):
            conn.close()


def _insert_postgresql(raw: Any, rows: list[tuple[Any, ...]]) -> None:
    """Insert ``rows`` with one ``COPY FROM STDIN`` that is its own transaction: it returns once the commit is
    durable, in two round trips to the server (the ``COPY`` and its data).

    In an explicit transaction (``BEGIN``, ``COPY``, ``COMMIT``) it took four, and the writer thread needs the
    interpreter's lock again after each one while routing's event loop keeps it busy: sampled through a
    simulated run, the journal's session spent more of each commit waiting for its client between those steps than in
    the WAL's fsync. With a thread keeping the lock busy, a commit of 10 rows took a median 64 ms that way and
    27 ms as one statement; quiet, the one statement is as fast or faster at every batch size measured, 1 to
    2,000 rows (docs/simulation.md). ``COPY`` rather than one ``INSERT ... SELECT FROM unnest(...)`` (a single
    round trip): that was 16 ms under the same contention but four times slower than ``COPY`` for 2,000 rows."""
    if raw.info.transaction_status != TransactionStatus.IDLE:
        raw.rollback()
    autocommit = raw.autocommit
    raw.autocommit = True  # the COPY commits on its own: no BEGIN or COMMIT round trip
    try:
        write_copy(raw, _PG_COPY, rows)
    finally:
        if raw.info.transaction_status == TransactionStatus.IDLE:  # a lost connection is dropped by the caller;
            raw.autocommit = autocommit  # changing it then would raise and hide the error that lost it


def read_journal(
    engine: Engine, from_seq: int = 1, to_seq: int | None = None, *, chunk: int = 5000
) -> Iterator[JournalRecord]:
    """Yield committed records with ``from_seq <= seq (<= to_seq)`` in seq order, a chunk at a time.

    Each chunk is one short query (keyset pagination on the primary key); no connection or transaction is held
    between chunks, so replaying a long journal neither loads it into memory nor pins a snapshot. Needs no
    writer lock: a standby follows the journal this way while another replica writes it.
    """
    t = journal_table
    cols = (t.c.seq, t.c.ts_ns, t.c.kind, t.c.order_id, t.c.payload)
    cursor = from_seq
    while True:
        stmt = select(*cols).where(t.c.seq >= cursor)
        if to_seq is not None:
            stmt = stmt.where(t.c.seq <= to_seq)
        stmt = stmt.order_by(t.c.seq).limit(chunk)
        with engine.connect() as conn:
            rows = conn.execute(stmt).all()
        for seq, ts_ns, kind, order_id, payload in rows:
            yield _build_record(seq, ts_ns, kind, order_id, decode_payload(payload), payload, None)
        if len(rows) < chunk:
            return
        cursor = rows[-1][0] + 1


def read_order_records(engine: Engine, *, order_id: str = "", created_seq: int = 0) -> list[JournalRecord]:
    """One order's records in seq order, named by its id or by the seq of the record that created it; none when
    the journal has no such order. A replaced order's ``replaced`` record is among them: it is journaled under
    the replacement's id. Indexed queries (the primary key, ``ix_journal_order_id``), for the rare request about
    an order retired from memory (``oms/retired.py``)."""
    t = journal_table
    cols = (t.c.seq, t.c.ts_ns, t.c.kind, t.c.order_id, t.c.payload)
    with engine.connect() as conn:
        if not order_id:
            order_id = conn.execute(select(t.c.order_id).where(t.c.seq == created_seq)).scalar() or ""
            if not order_id:
                return []
        rows = list(conn.execute(select(*cols).where(t.c.order_id == order_id).order_by(t.c.seq)).all())
        replacements = {
            new_id
            for _seq, _ts, kind, _id, payload in rows
            if kind == "pending_replace" and (new_id := decode_payload(payload).get("new_order_id"))
        }
        if replacements:
            stmt = select(*cols).where(t.c.order_id.in_(sorted(replacements)), t.c.kind == "replaced")
            rows = sorted([*rows, *conn.execute(stmt).all()])
    return [
        JournalRecord(seq, ts_ns, kind, oid, decode_payload(payload), payload)
        for seq, ts_ns, kind, oid, payload in rows
    ]


def _describe(exc: BaseException) -> str:
    """A one-line description of a write error, without the statement and its parameters (payloads)."""
    orig = getattr(exc, "orig", None) if isinstance(exc, DBAPIError) else None
    err = orig if orig is not None else exc
    first_line = (str(err).strip().splitlines() or [""])[0]
    return f"{type(err).__module__}.{type(err).__name__}: {first_line}"


__all__ = [
    "CommitListener",
    "Journal",
    "JournalClosed",
    "JournalError",
    "JournalFenced",
    "JournalFull",
    "JournalRecord",
    "JournalStandby",
    "JournalStats",
    "read_journal",
]
