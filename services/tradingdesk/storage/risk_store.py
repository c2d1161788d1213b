"""Journal of risk limit and trading-state changes: who changed what, when, why and where (scope).

The ids are the journal's sequence numbers, assigned here rather than by the database: one writer, under a
lock, takes the next number and commits the row before the next one is taken. So the numbers have no gaps
and a row is never visible before the rows numbered below it, which is what lets the compliance service read
the journal as a gap-free stream (``since``) and tell a missing change from one not yet written. (A database
sequence can skip numbers on a rolled-back insert, and concurrent writers can commit out of order.)

There must be one risk service writing to a database at a time: it owns the numbering. On PostgreSQL the
database enforces that, like routing's journal (fence.py): ``hold`` takes the writer lock (waiting while
another replica holds it; ``record`` takes it without waiting if nobody called ``hold``), and ``record`` writes
through the connection that holds it. The next id is read once the lock is held, so a standby that takes over
goes on from the last change its predecessor committed.

A writer whose session ended (the database restarted, or cut it in an outage) takes the lock back if nobody took
it meanwhile, and checks that nobody wrote in between: its next ``record`` does so, and so does ``check_session``,
which the risk service calls every ``SESSION_CHECK_S`` so that a lost session is found while nothing is written.
Only when another session holds the lock, or another writer appended, is it fenced off: ``on_fenced`` is called and
``WriterFenced`` raised, and the service must stop. (Before, the first change after any database restart fenced the
only risk service off: it exited, and the change, a kill switch perhaps, was refused.)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import OperationalError

from .codec import decode_payload, encode_payload
from .fence import WriterFenced, WriterLock, is_fence_error
from .incarnation import journal_incarnation
from .schema import risk_changes

log = logging.getLogger(__name__)

_STORED = ("ts_ns", "actor", "reason", "scope", "change")
"""The columns of a change besides its id (``_row_is`` compares them)."""
TAKE_BACK_WAIT_S = 1.0
"""How long a writer whose session ended waits for the lock before it calls the journal another's: the cut session
holds it until its backend has exited, and in an outage a standby's queued wait can be granted for the moment
between two sessions being cut (as ``Journal``'s ``fence_confirm_s``)."""
_APPLIED_ELSEWHERE = (
    "a change whose answer a lost session took with it is in the journal, and this process never applied it"
)
SESSION_CHECK_S = 2.0
"""How often the risk service checks that the writer's session still holds the lock (``check_session``)."""


class ChangeJournalUnavailable(RuntimeError):
    """The database does not answer: the change was not stored (or, if the answer was lost, it is found as this
    writer's own row at the next write)."""


@dataclass(frozen=True, slots=True)
class RiskChange:
    id: int
    ts_ns: int
    actor: str
    reason: str
    scope: str
    change: dict[str, Any]
    change_json: str = ""
    """``change`` as stored."""


class RiskChangeStore:
    def __init__(self, engine: Engine, *, on_fenced: Callable[[str], None] | None = None) -> None:
        """``on_fenced(why)``: called once this store finds it lost the writer lock, before ``WriterFenced``."""
        self._engine = engine
        self._on_fenced = on_fenced
        self._fence = WriterLock(engine, risk_changes.name)
        self._writer: Connection | None = None
        self._write_lock = threading.Lock()  # record() is called from the event loop and from worker threads
        self._next_id: int | None = None  # read at the first write under the lock (and after migrate)
        self._known_last: int | None = None
        """The last id in the table as this writer knows it, while it holds (or held and lost) the lock."""
        self._lost = False
        """The writer's session ended and could not be replaced yet (the database did not answer)."""
        self._unconfirmed: tuple[int, dict[str, Any]] | None = None
        """The write whose answer a lost session took with it: committed or not, found out when the lock is back."""

    def hold(self, *, wait: bool = True, stop: threading.Event | None = None) -> None:
        """Take the writer lock before writing (PostgreSQL; nothing to do on SQLite). ``wait``: queue for it
        while another replica writes (``stop`` ends the wait with ``WriterFenced``); else ``WriterFenced`` at
        once."""
        if not self._fence.enforced or self._writer is not None:
            return
        writer = self._fence.acquire(stop) if wait else self._fence.try_acquire()
        with self._write_lock:
            self._writer = writer
            self._lost = False
            try:  # whoever wrote before us may have gone on: read the last id again
                self._known_last = self.last_id()
            except BaseException:
                self._drop_writer()
                self._lost = False
                raise
            self._next_id = self._known_last + 1

    def release(self) -> None:
        with self._write_lock:
            writer, self._writer = self._writer, None
            self._next_id = None
            self._known_last = None
            self._lost = False
        if writer is not None:
            WriterLock.release(writer)

    def record(self, ts_ns: int, actor: str, reason: str, scope: str, change: dict[str, Any]) -> int:
        """Store one change durably (its own transaction) and return its id, the next without a gap.
        ``ChangeJournalUnavailable`` when the database does not answer; ``WriterFenced`` when another writer has the
        journal."""
        try:
            return self._record(ts_ns, actor, reason, scope, change)
        except OperationalError as exc:
            raise ChangeJournalUnavailable(f"the risk change journal's database does not answer: {exc.orig}") from exc

    def _record(self, ts_ns: int, actor: str, reason: str, scope: str, change: dict[str, Any]) -> int:
        values = {
            "ts_ns": ts_ns,
            "actor": actor,
            "reason": reason,
            "scope": scope,
            "change": encode_payload(change),
        }
        with self._write_lock:
            if self._lost:
                committed = self._take_back()
                if committed is not None:
                    if committed[1] != values:
                        self._fenced_off(_APPLIED_ELSEWHERE)
                    self._known_last, self._next_id = committed[0], committed[0] + 1
                    return committed[0]  # this very change, retried: its lost answer had committed it
            elif self._fence.enforced and self._writer is None:  # not held yet: take it now, without waiting
                self._writer = self._fence.try_acquire()
                self._next_id = None
            if self._next_id is None:
                self._known_last = self.last_id()
                self._next_id = self._known_last + 1
            change_id = self._next_id
            try:
                self._insert(change_id, values)
            except Exception as exc:
                self._next_id = None  # it may have committed after all: read the last id again next time
                if self._writer is None:
                    raise
                if is_fence_error(exc):
                    self._fenced_off(f"the database refused the write: {exc}")
                if self._still_held():
                    raise
                log.warning("risk change journal: the writer's session is gone (%s); taking the lock back", exc)
                self._drop_writer()
                self._unconfirmed = (change_id, values)
                if self._take_back() is not None:
                    return change_id  # the lost session had committed it
                change_id = self._known_last + 1
                try:
                    self._insert(change_id, values)
                except Exception:
                    self._drop_writer()
                    self._unconfirmed = (change_id, values)
                    raise
            self._known_last = change_id
            self._next_id = change_id + 1
        return change_id

    def check_session(self) -> None:
        """Whether the writer's session still holds the lock, and if it ended, take the lock back (checked that
        nobody wrote meanwhile); ``WriterFenced`` (``on_fenced`` called first) when another writer has the journal
        now. Skipped while a change is being written (that write finds out itself). Blocking: call from a thread."""
        if not self._fence.enforced or not self._write_lock.acquire(blocking=False):
            return
        try:
            if self._lost:
                if self._unconfirmed is None:  # else the next record finds out, which may be that very change again
                    self._take_back()
                return
            if self._writer is None:
                return  # nothing held: nothing to lose
            try:
                self._writer.exec_driver_sql("SELECT 1")
                self._writer.rollback()
                return
            except Exception as exc:
                log.warning("risk change journal: the writer's session is gone (%s); taking the lock back", exc)
            self._drop_writer()
            self._take_back()  # no write was in flight: a write holds ``_write_lock``, and this check skips then
        finally:
            self._write_lock.release()

    def _insert(self, change_id: int, values: dict[str, Any]) -> None:
        statement = risk_changes.insert().values(id=change_id, **values)
        if self._writer is None:
            with self._engine.begin() as conn:
                conn.execute(statement)
        else:
            with self._writer.begin():
                self._writer.execute(statement)

    def _drop_writer(self) -> None:
        writer, self._writer = self._writer, None
        self._lost = True
        if writer is not None:
            WriterLock.release(writer)

    def _take_back(self) -> tuple[int, dict[str, Any]] | None:
        """A new session holding the lock, after the last one ended (under ``_write_lock``). The table must end
        where this writer left it, or with the one write whose answer the lost session took with it
        (``_unconfirmed``): that write is then returned, committed after all. Fenced off if another session
        holds the lock or the table holds anything else. A database that does not answer raises its error and
        leaves this writer lost, to try again (with the same unconfirmed write)."""
        try:
            writer = self._fence.acquire_within(TAKE_BACK_WAIT_S)
        except WriterFenced as exc:
            self._fenced_off(f"another session holds the writer lock: {exc}")
        self._writer = writer
        self._lost = False
        unconfirmed = self._unconfirmed
        try:
            last = self.last_id()
            if self._known_last is None or last == self._known_last:
                self._known_last, self._unconfirmed = last, None
                return None
            if unconfirmed is not None and last == unconfirmed[0] and self._row_is(*unconfirmed):
                self._known_last, self._next_id, self._unconfirmed = last, last + 1, None
                return unconfirmed
        except Exception:
            self._drop_writer()
            raise
        self._fenced_off(f"the change journal goes on to id {last}, past this writer's {self._known_last}")

    def _row_is(self, change_id: int, values: dict[str, Any]) -> bool:
        t = risk_changes
        with self._engine.connect() as conn:
            row = conn.execute(select(*(t.c[k] for k in _STORED)).where(t.c.id == change_id)).first()
        return row is not None and tuple(row) == tuple(values[k] for k in _STORED)

    def _fenced_off(self, why: str) -> NoReturn:
        """Another writer has the journal, or it holds what this process did not apply: this store never writes
        again, and the service must stop (``on_fenced``) and rebuild from the journal."""
        writer, self._writer = self._writer, None
        self._lost = False
        self._next_id = None
        if writer is not None:
            WriterLock.release(writer)
        if self._on_fenced is not None:
            self._on_fenced(why)
        raise WriterFenced(f"this risk service lost the writer lock of risk_changes: {why}")

    def _still_held(self) -> bool:
        """Whether the writer's session still holds the lock (a lost connection does not: its session ended)."""
        try:
            return self._writer is not None and self._fence.holds(self._writer)
        except Exception:
            return False

    def incarnation(self) -> str:
        """The database's incarnation: a new database numbers its changes from 1 again."""
        return journal_incarnation(self._engine)

    def last_id(self) -> int:
        """The id of the last change stored (0 when none)."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.max(risk_changes.c.id))).scalar() or 0)

    def history(self, limit: int = 100, *, scope: str | None = None) -> list[RiskChange]:
        """The most recent ``limit`` changes (optionally for one scope), newest first."""
        t = risk_changes
        stmt = select(t.c.id, t.c.ts_ns, t.c.actor, t.c.reason, t.c.scope, t.c.change)
        if scope is not None:
            stmt = stmt.where(t.c.scope == scope)
        stmt = stmt.order_by(t.c.id.desc()).limit(max(0, limit))
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [RiskChange(r[0], r[1], r[2], r[3], r[4], decode_payload(r[5]), r[5]) for r in rows]

    def since(self, first_id: int, *, limit: int = 1000) -> list[RiskChange]:
        """Changes with ids from ``first_id`` on, oldest first, at most ``limit``."""
        t = risk_changes
        stmt = select(t.c.id, t.c.ts_ns, t.c.actor, t.c.reason, t.c.scope, t.c.change)
        stmt = stmt.where(t.c.id >= first_id).order_by(t.c.id).limit(max(0, limit))
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [RiskChange(r[0], r[1], r[2], r[3], r[4], decode_payload(r[5]), r[5]) for r in rows]


__all__ = ["ChangeJournalUnavailable", "RiskChange", "RiskChangeStore"]
