"""The writer fence on a real PostgreSQL: one journal writer at a time, a standby that takes over the moment the
leader's session ends, a writer that lost its session never appending again, and the database refusing a
session without the lock."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DatabaseError

from tests.desk_runner import wait_for
from tradingdesk.storage.db import make_engine, migrate
from tradingdesk.storage.fence import FENCED_SQLSTATE, WriterFenced, WriterLock
from tradingdesk.storage.journal import Journal, JournalFenced
from tradingdesk.storage.risk_store import RiskChangeStore

pytestmark = pytest.mark.postgres
SCHEMA = "fence_desk_routing"


@pytest.fixture
def engine(postgres_server) -> Iterator[Engine]:
    dsn = postgres_server.create_database(f"f_{uuid.uuid4().hex[:10]}")
    engine = make_engine(dsn, schema=SCHEMA)
    migrate(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def kill_sessions_holding_the_lock(engine: Engine) -> int:
    """What the database does when a leader's process or host dies: its session ends, and its locks with it."""
    with engine.connect() as conn:
        pids = conn.execute(text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted")).scalars().all()
        for pid in pids:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        conn.commit()
    return len(pids)


async def take_the_lock_once_free(engine: Engine):
    """The journal's writer lock on a new session, once a cut session's backend has exited and let it go."""

    def attempt():
        try:
            return WriterLock(engine, "journal").try_acquire()
        except WriterFenced:
            return None

    return await wait_for(lambda: asyncio.to_thread(attempt), timeout=10, what="the writer lock free")


def journal_rows(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT seq, order_id FROM journal ORDER BY seq")).all()]


def test_a_second_writer_is_refused_and_the_database_refuses_a_session_without_the_lock(engine: Engine) -> None:
    leader = Journal(engine).start()
    try:
        with pytest.raises(JournalFenced, match="another session holds the writer lock of journal"):
            Journal(engine)
        with engine.begin() as conn, pytest.raises(DatabaseError) as err:
            conn.execute(text("INSERT INTO journal VALUES (1, 1, 'new', 'o-1', '{}')"))
        assert err.value.orig.sqlstate == FENCED_SQLSTATE
        assert "another session holds the writer lock of fence_desk_routing.journal" in str(err.value.orig)
        seq = leader.append("new", "o-1", {"q": 1}, 1)
        assert leader.flush(10) and seq == 1
    finally:
        leader.close()
    assert journal_rows(engine) == [(1, "o-1")]


async def test_a_standby_takes_over_when_the_leader_dies_and_the_old_leader_never_appends_again(engine) -> None:
    fenced: list[str] = []
    leader = Journal(engine, on_fenced=lambda: fenced.append("leader")).start()
    for i in range(1, 4):
        leader.append("new", f"o-{i}", {"i": i}, i)
    assert leader.flush(10)
    standby = asyncio.create_task(asyncio.to_thread(Journal, engine, wait_for_lock=True))
    await wait_for(lambda: _waiting_for_lock(engine), timeout=10)
    assert not standby.done()  # queued behind the leader's session

    assert kill_sessions_holding_the_lock(engine) == 1  # the leader's process died
    successor = (await asyncio.wait_for(standby, 10)).start()
    try:
        assert successor.last_seq() == 3  # continues where the leader stopped: no gap, no reuse
        successor.append("new", "o-4", {"i": 4}, 4)
        assert successor.flush(10)
        # the old leader's process did not die after all (a partition): its next commit is refused for good
        leader.append("new", "o-stale", {"i": 99}, 99)
        await wait_for(lambda: fenced == ["leader"], timeout=20)
        assert leader.fenced and not leader.healthy
        with pytest.raises(JournalFenced, match="fenced off"):
            leader.append("new", "o-stale-2", {}, 100)
    finally:
        leader.close(timeout=1)
        successor.close()
    assert journal_rows(engine) == [(1, "o-1"), (2, "o-2"), (3, "o-3"), (4, "o-4")]


def _waiting_for_lock(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).scalar()
        )


def _waiting_on_one_session_for(conninfo: str, seconds: float) -> bool:
    """A session has been waiting for an advisory lock, on one server process, for ``seconds`` or more. Asked on
    a connection of its own: one the engine's pool handed back would be the next one a poll of the wait takes."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return bool(
            conn.execute(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND NOT l.granted"
                " AND a.backend_start < clock_timestamp() - make_interval(secs => %s)",
                (seconds,),
            ).fetchone()[0]
        )


async def test_a_standby_waits_for_the_lock_on_one_session_and_stops_when_told(engine: Engine, postgres_server) -> None:
    """A standby waits all day. Before, each one-second poll of its wait ended its session (a server process, made
    by a fork and an authentication when the pool had no idle one); a session older than two polls never waited."""
    conninfo = postgres_server.conninfo(engine.url.database)
    holder = WriterLock(engine, "journal").try_acquire()
    stop = threading.Event()
    waiter = asyncio.create_task(asyncio.to_thread(WriterLock(engine, "journal").acquire, stop))
    try:
        await wait_for(lambda: _waiting_on_one_session_for(conninfo, 2.5), timeout=20, what="one session waiting")
        WriterLock.release(holder)  # the leader's session ends: the waiting session takes the lock
        taken = await asyncio.wait_for(waiter, 10)
        assert WriterLock(engine, "journal").holds(taken)
        WriterLock.release(taken)

        holder = WriterLock(engine, "journal").try_acquire()
        waiter = asyncio.create_task(asyncio.to_thread(WriterLock(engine, "journal").acquire, stop))
        await wait_for(lambda: _waiting_for_lock(engine), timeout=10, what="a new wait")
        stop.set()  # the service stops while it waits: it leaves the queue within a poll
        with pytest.raises(WriterFenced, match="stopped while waiting"):
            await asyncio.wait_for(waiter, 10)
        assert not _waiting_for_lock(engine)
    finally:
        stop.set()
        WriterLock.release(holder)
        await asyncio.gather(waiter, return_exceptions=True)


async def test_a_writer_that_lost_its_session_continues_only_if_nobody_wrote_meanwhile(engine: Engine) -> None:
    writer = Journal(engine, session_check_s=3600).start()  # about the write path: no idle session check
    try:
        writer.append("new", "o-1", {}, 1)
        assert writer.flush(10)
        kill_sessions_holding_the_lock(engine)  # a network blip: nobody else took the journal
        writer.append("new", "o-2", {}, 2)
        assert writer.flush(20) and not writer.fenced  # it took the lock again and went on

        kill_sessions_holding_the_lock(engine)
        intruder = await take_the_lock_once_free(engine)  # another writer slips in and appends
        intruder.execute(text("INSERT INTO journal VALUES (3, 3, 'new', 'o-intruder', '{}')"))
        intruder.commit()
        WriterLock.release(intruder)
        writer.append("new", "o-3", {}, 3)
        await wait_for(lambda: writer.fenced, timeout=20)  # seq 3 is not its own: fenced, never appends again
    finally:
        writer.close(timeout=1)
    assert journal_rows(engine) == [(1, "o-1"), (2, "o-2"), (3, "o-intruder")]


async def test_a_lock_another_session_holds_for_a_moment_does_not_fence_the_writer(engine: Engine) -> None:
    """In a database outage, a standby's queued wait can be granted between the writer's session being cut and
    its own: the writer retries instead of giving up the journal at once (``fence_confirm_s``)."""
    writer = Journal(engine, fence_confirm_s=30, session_check_s=3600).start()
    try:
        writer.append("new", "o-1", {}, 1)
        assert writer.flush(10)
        kill_sessions_holding_the_lock(engine)
        standby = await take_the_lock_once_free(engine)  # granted the lock the writer's session left
        writer.append("new", "o-2", {}, 2)
        await wait_for(lambda: isinstance(writer.last_error, WriterFenced), timeout=20, what="the writer refused")
        WriterLock.release(standby)  # its session is cut too, before it wrote anything
        assert await asyncio.to_thread(writer.flush, 20) and not writer.fenced
    finally:
        writer.close(timeout=1)
    assert journal_rows(engine) == [(1, "o-1"), (2, "o-2")]


async def test_an_idle_writer_finds_out_it_lost_its_session(engine: Engine) -> None:
    """Without writing: it takes the lock back when nobody else took it, and is fenced off when a standby did (so it
    gives up the service's address to the standby without waiting for an order to fail)."""
    fenced: list[str] = []
    writer = Journal(engine, on_fenced=lambda: fenced.append("writer"), session_check_s=0.1).start()
    try:
        writer.append("new", "o-1", {}, 1)
        assert writer.flush(10)
        cut = _lock_holders(engine)
        assert kill_sessions_holding_the_lock(engine) == 1  # a blip: nobody waits for the lock
        # the cut session lists its lock until its backend has exited: wait for a new session holding it
        await wait_for(
            lambda: len(now := _lock_holders(engine)) == 1 and not now & cut,
            timeout=20,
            what="the idle writer holding the lock again",
        )
        assert not writer.fenced

        standby = asyncio.create_task(asyncio.to_thread(Journal, engine, wait_for_lock=True))
        await wait_for(lambda: _waiting_for_lock(engine), timeout=10)
        assert kill_sessions_holding_the_lock(engine) == 1
        successor = await asyncio.wait_for(standby, 10)
        await wait_for(lambda: fenced == ["writer"], timeout=20, what="the idle writer fenced off")
        successor.close()
    finally:
        writer.close(timeout=1)
    assert journal_rows(engine) == [(1, "o-1")]


def _lock_holders(engine: Engine) -> set[int]:
    """The pids of the sessions holding an advisory lock."""
    with engine.connect() as conn:
        return set(conn.execute(text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted")).scalars())


def test_one_risk_service_writes_the_change_journal_at_a_time(engine: Engine, postgres_server) -> None:
    fenced: list[bool] = []
    first, second = RiskChangeStore(engine), RiskChangeStore(engine)
    lost = RiskChangeStore(engine, on_fenced=lambda why: fenced.append(True))
    try:
        first.hold()
        assert first.record(1, "sre", "halt", "desk", {"type": "trading_state"}) == 1
        with pytest.raises(WriterFenced, match="another session holds the writer lock of risk_changes"):
            second.hold(wait=False)
        first.release()
        lost.hold(wait=False)
        with psycopg.connect(postgres_server.conninfo(engine.url.database), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            )  # its session ends: the lock is gone with it
        second.hold(wait=False)
        with pytest.raises(WriterFenced, match="lost the writer lock"):
            lost.record(2, "sre", "resume", "desk", {"type": "trading_state"})
        assert fenced == [True]
        assert second.record(3, "sre", "resume", "desk", {"type": "trading_state"}) == 2
    finally:
        for store in (first, second, lost):
            store.release()


def test_a_risk_writer_whose_session_ended_takes_the_lock_back_if_nobody_wrote(engine: Engine) -> None:
    fenced: list[bool] = []
    store = RiskChangeStore(engine, on_fenced=lambda why: fenced.append(True))
    other = RiskChangeStore(engine)
    try:
        store.hold(wait=False)
        assert store.record(1, "sre", "halt", "desk", {"type": "trading_state"}) == 1
        kill_sessions_holding_the_lock(engine)
        assert store.record(2, "sre", "resume", "desk", {"type": "trading_state"}) == 2  # found at the write
        with pytest.raises(WriterFenced, match="another session holds the writer lock of risk_changes"):
            other.hold(wait=False)
        kill_sessions_holding_the_lock(engine)
        store.check_session()  # found while idle
        with pytest.raises(WriterFenced, match="another session holds the writer lock of risk_changes"):
            other.hold(wait=False)
        assert store.record(3, "sre", "halt", "desk", {"type": "trading_state"}) == 3
        assert fenced == []
        assert [c.id for c in store.since(1)] == [1, 2, 3]
    finally:
        store.release()
        other.release()


def test_a_risk_writer_whose_session_ended_is_fenced_off_if_another_wrote_meanwhile(engine: Engine) -> None:
    fenced: list[bool] = []
    store = RiskChangeStore(engine, on_fenced=lambda why: fenced.append(True))
    other = RiskChangeStore(engine)
    try:
        store.hold(wait=False)
        assert store.record(1, "sre", "halt", "desk", {"type": "trading_state"}) == 1
        kill_sessions_holding_the_lock(engine)
        other.hold()  # a standby's queued wait, granted once the cut session's backend has gone
        assert other.record(2, "standby", "resume", "desk", {"type": "trading_state"}) == 2
        other.release()  # and gone again: the lock is free, but the journal went on without this writer
        with pytest.raises(WriterFenced, match="the change journal goes on to id 2, past this writer"):
            store.check_session()
        assert fenced == [True]
        assert [(c.id, c.actor) for c in store.since(1)] == [(1, "sre"), (2, "standby")]
    finally:
        store.release()
        other.release()
