"""One writer per table, fenced by PostgreSQL itself.

The right to append to a table (routing's journal, risk's change journal) is a session-level advisory lock,
``(WRITER_LOCK_CLASS, hashtext('<schema>.<table>'))``, held by the writer's own connection for as long as it
writes. The database enforces it: migration 0003 puts a trigger on those tables that refuses any INSERT or COPY
from every session but the lock's holder while it is held (SQLSTATE ``TD001``). So:

- two replicas can never both append: the second cannot get the lock while the first's session lives, and its
  inserts are refused;
- a replica that lost its session (crash, network partition, a pool that silently reconnected) can never
  append while another replica holds the lock; it takes the lock back only if nobody holds it, and the journal
  then checks that nobody appended in between (see ``Journal``);
- a standby takes over the moment the leader's session ends: ``acquire`` waits in the lock's queue.

How fast the database notices a dead leader: at once when its process dies (the kernel closes the socket); on
a lost host, within the server-side keepalive and user timeouts the writer's session sets (about 10 s).
SQLite needs no fence: each service has a file of its own, never shared by replicas.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from typing import NoReturn

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from .db import is_postgresql

log = logging.getLogger(__name__)

#: The advisory-lock namespace of writer fences ("td" 0x7464, fence 1; an int4); migration 0003 uses it too.
WRITER_LOCK_CLASS = 0x7464_0001
#: What the fence trigger raises for a session without the lock.
FENCED_SQLSTATE = "TD001"
#: A dead leader's session ends this soon on a lost host (server-side TCP settings of the writer's session).
_SESSION_SETTINGS = (
    "SET tcp_keepalives_idle = 5",
    "SET tcp_keepalives_interval = 2",
    "SET tcp_keepalives_count = 3",
    "SET tcp_user_timeout = 10000",
)
_ACQUIRE_POLL_S = 1.0
FENCED_EXIT_CODE = 75


class WriterFenced(RuntimeError):
    """Another session holds the writer lock, or this one lost it: this process may not append."""


class WriterLock:
    """The writer lock of one table in the engine's schema. Connections it returns hold the lock; give them back
    with ``release`` (which closes the session, so the lock goes with it, never back into a pool)."""

    def __init__(self, engine: Engine, table: str) -> None:
        self.engine = engine
        self.table = table
        self.enforced = is_postgresql(engine)

    def try_acquire(self) -> Connection:
        """A connection holding the lock; ``WriterFenced`` when another session holds it."""
        conn = self.engine.connect()
        if not self.enforced:
            return conn
        try:
            key = self._key(conn)
            held = conn.exec_driver_sql(
                "SELECT pg_try_advisory_lock(%(c)s, %(k)s)", {"c": WRITER_LOCK_CLASS, "k": key}
            ).scalar()
            conn.commit()
        except BaseException:
            self.release(conn)
            raise
        if not held:
            self.release(conn)
            raise WriterFenced(f"another session holds the writer lock of {self.table}")
        self._keep_session_short(conn)
        return conn

    def acquire(self, stop: threading.Event | None = None, on_wait: Callable[[], None] | None = None) -> Connection:
        """Wait for the lock (in its queue: the moment the holder's session ends, it is ours) and return the
        connection holding it. ``on_wait`` is called once if it has to wait. ``stop`` ends the wait with
        ``WriterFenced``, checked every ``_ACQUIRE_POLL_S``.

        One session waits the whole time, leaving the lock's queue and joining it again each poll: a standby
        waits all day, and a session of its own for each poll was a new server process every second (a fork
        and an authentication on the database's host, for nothing)."""
        if not self.enforced:
            return self.engine.connect()
        conn = self.engine.connect()
        try:
            key = self._key(conn)
            waited = False
            while True:
                if stop is not None and stop.is_set():
                    raise WriterFenced(f"stopped while waiting for the writer lock of {self.table}")
                if self._lock_within(conn, key, _ACQUIRE_POLL_S):
                    break
                if not waited and on_wait is not None:
                    on_wait()
                waited = True
            self._keep_session_short(conn)
        except BaseException:
            self.release(conn)
            raise
        return conn

    def acquire_within(self, seconds: float) -> Connection:
        """The lock if it is free within ``seconds`` (granted the moment it is: a session just cut holds it until
        its backend has exited, a few milliseconds on); ``WriterFenced`` if another session still holds it then."""
        conn = self.engine.connect()
        if not self.enforced:
            return conn
        try:
            if not self._lock_within(conn, self._key(conn), seconds):
                raise WriterFenced(f"another session holds the writer lock of {self.table}")
            self._keep_session_short(conn)
        except BaseException:
            self.release(conn)
            raise
        return conn

    @staticmethod
    def _lock_within(conn: Connection, key: int, seconds: float) -> bool:
        """Take the lock on ``conn``'s session, waiting in its queue up to ``seconds``; False if it is still held
        then (the session is left usable for another try)."""
        try:
            conn.exec_driver_sql(f"SET lock_timeout = '{max(1, round(seconds * 1000))}ms'")
            conn.exec_driver_sql("SELECT pg_advisory_lock(%(c)s, %(k)s)", {"c": WRITER_LOCK_CLASS, "k": key})
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != "55P03":  # not lock_timeout: the session or server failed
                raise
            conn.rollback()
            return False
        conn.exec_driver_sql("RESET lock_timeout")
        conn.commit()
        return True

    def holds(self, conn: Connection) -> bool:
        """Whether this connection's session holds the lock now (a scan of pg_locks: for error paths only)."""
        if not self.enforced:
            return True
        held = conn.exec_driver_sql(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted"
            " AND objsubid = 2 AND classid = %(c)s::int4::oid AND objid = %(k)s::int4::oid)",
            {"c": WRITER_LOCK_CLASS, "k": self._key(conn)},
        ).scalar()
        conn.commit()
        return bool(held)

    @staticmethod
    def release(conn: Connection) -> None:
        """Close the session (the lock, if held, ends with it)."""
        with contextlib.suppress(Exception):
            conn.invalidate()
        with contextlib.suppress(Exception):
            conn.close()

    def _key(self, conn: Connection) -> int:
        return int(
            conn.exec_driver_sql("SELECT hashtext(current_schema() || '.' || %(t)s)", {"t": self.table}).scalar()
        )

    @staticmethod
    def _keep_session_short(conn: Connection) -> None:
        for statement in _SESSION_SETTINGS:
            conn.exec_driver_sql(statement)
        conn.commit()


def exit_fenced(service: str, reason: str) -> NoReturn:
    """A service whose writer was fenced off (another replica writes now) stops at once, without draining: its
    in-memory state may be stale, and nothing it did not commit was ever acknowledged. Its pod restarts and
    waits for the lock again."""
    log.critical("%s: fenced off, exiting: %s", service, reason)
    logging.shutdown()
    os._exit(FENCED_EXIT_CODE)


def is_fence_error(exc: BaseException) -> bool:
    """The database refused a write because another session holds the writer lock."""
    orig = getattr(exc, "orig", None) if isinstance(exc, DBAPIError) else exc
    return getattr(orig, "sqlstate", None) == FENCED_SQLSTATE


__all__ = ["FENCED_SQLSTATE", "WRITER_LOCK_CLASS", "WriterFenced", "WriterLock", "exit_fenced", "is_fence_error"]
