"""The journal's outage spool on a real PostgreSQL (a cluster of the test's own, taken away as the simulation's
``database_down`` does): records appended while the database cannot write are durable in the local spool, reported
durable only once fsynced there, and reach the table in seq order, before anything newer, once it can; a spool a
killed writer left behind is written before the next writer reads the table; a spool that disagrees with the table
is refused loudly, never merged."""

from __future__ import annotations

import json
import logging
import threading
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from tests.desk_runner import wait_until
from tradingdesk.simulate.database import SimulationDatabase
from tradingdesk.storage.db import make_engine, migrate
from tradingdesk.storage.fence import WRITER_LOCK_CLASS
from tradingdesk.storage.journal import Journal, JournalFenced
from tradingdesk.storage.spool import OutageSpool, SpoolCorrupt, SpoolOwned

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def database() -> Iterator[SimulationDatabase]:
    db = SimulationDatabase().start()
    yield db
    db.destroy()


@pytest.fixture
def engine(database: SimulationDatabase) -> Iterator[Engine]:
    engine = make_engine(database.dsn, schema=f"spool_{uuid.uuid4().hex[:8]}")
    migrate(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def rows(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT seq, order_id FROM journal ORDER BY seq")).all()]


def append(journal: Journal, *order_ids: str) -> list[int]:
    return [journal.append("new", oid, {"id": oid}, 1_000 + i) for i, oid in enumerate(order_ids)]


def test_through_an_outage_records_are_durable_in_the_spool_and_reach_the_table_in_order(
    database: SimulationDatabase, engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="tradingdesk.storage.journal")
    spool = OutageSpool(tmp_path / "spool")
    journal = Journal(engine, spool=spool, retry_initial_s=0.02, retry_max_s=0.2).start()
    try:
        append(journal, "a1", "a2")
        assert journal.flush(10) and not journal.spooling
        database.down()
        try:
            assert append(journal, "b1", "b2", "b3") == [3, 4, 5]
            assert journal.flush(30), "records were not made durable in the spool while the database was down"
            assert journal.spooling and not journal.healthy and journal.accepting
            assert [r[0] for r in spool.read()] == [3, 4, 5]
            append(journal, "b4")
            assert journal.flush(30) and journal.durable_seq == 6
            # the writer goes on trying the database, and says so with why it fails and what the spool holds
            wait_until(
                lambda: (
                    "the database still cannot write" in caplog.text and "4 records in the outage spool" in caplog.text
                ),
                timeout=30,
                what="a failed retry logged with the spool's 4 records",
            )
        finally:
            database.up()
        wait_until(lambda: not journal.spooling, timeout=30, what="the spool written to the database")
        assert journal.healthy and not spool.path.exists()
        append(journal, "c1")
        assert journal.flush(10)
    finally:
        journal.close(10)
    assert rows(engine) == [(1, "a1"), (2, "a2"), (3, "b1"), (4, "b2"), (5, "b3"), (6, "b4"), (7, "c1")]
    assert journal.stats.spooled == 4


def test_a_spool_left_by_a_killed_writer_is_written_before_the_next_writer_reads(
    database: SimulationDatabase, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "spool"
    first = Journal(engine, spool=OutageSpool(path), retry_initial_s=0.02, retry_max_s=0.2).start()
    append(first, "a1")
    assert first.flush(10)
    database.down()
    try:
        append(first, "b1", "b2")
        assert first.flush(30) and first.spooling
        assert first.close(5)  # what a SIGKILL leaves: records durable in the spool only
    finally:
        database.up()
    assert rows(engine) == [(1, "a1")]
    # the next process comes up as routing does: standing by, then the writer once it has the lock
    successor = Journal(engine, standby=True, spool=OutageSpool(path))
    assert successor.try_take_over() and successor.last_seq() == 3
    assert rows(engine) == [(1, "a1"), (2, "b1"), (3, "b2")] and not path.exists()
    successor.start()
    try:
        assert append(successor, "c1") == [4] and successor.flush(10)
    finally:
        successor.close(10)


def test_a_spool_that_disagrees_with_the_table_is_refused_and_a_torn_line_ignored(
    engine: Engine, tmp_path: Path
) -> None:
    journal = Journal(engine).start()
    append(journal, "a1", "a2")
    assert journal.flush(10)
    journal.close(10)
    spool = OutageSpool(tmp_path / "spool")
    # seq 2 spooled with another record than the table's (a commit whose answer was lost looks the same as the
    # table's; this one does not): another writer's history, never merged
    spool.append([(2, 5, "new", "x2", '{"id":"x2"}'), (3, 6, "new", "x3", '{"id":"x3"}')])
    with open(spool.path, "a", encoding="utf-8") as f:  # a crash in the middle of the next batch
        text_ = json.dumps([4, 7, "new", "x4", '{"id":"x4"}'])
        f.write(f"{zlib.crc32(text_.encode()):08x} {text_[:-5]}")
    assert [r[0] for r in OutageSpool(spool.path).read()] == [2, 3]
    with pytest.raises(JournalFenced, match="other records from seq 2 on than the 2 in the outage spool"):
        Journal(engine, spool=OutageSpool(spool.path))
    assert rows(engine) == [(1, "a1"), (2, "a2")] and spool.path.exists()

    # a spool repeating what the table has (the answer of its last commit was lost) adds the rest only
    again = OutageSpool(tmp_path / "again")
    again.append([(2, 1_001, "new", "a2", '{"id":"a2"}'), (3, 9, "new", "a3", '{"id":"a3"}')])
    writer = Journal(engine, spool=again)
    try:
        assert writer.last_seq() == 3 and rows(engine)[-1] == (3, "a3") and not again.path.exists()
    finally:
        writer.close(10)


def test_records_out_of_seq_order_are_not_a_spool(tmp_path: Path) -> None:
    spool = OutageSpool(tmp_path / "spool")
    spool.append([(5, 1, "new", "a", "{}")])
    spool.append([(7, 1, "new", "b", "{}")])
    with pytest.raises(SpoolCorrupt, match="seq 7 follows 5"):
        OutageSpool(spool.path).read()


def holds_writer_lock(engine: Engine) -> bool:
    """Whether some session holds a writer lock (``storage/fence.py``) of the engine's database."""
    with engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND classid = :c ::int4::oid)"
                ),
                {"c": WRITER_LOCK_CLASS},
            ).scalar()
        )


def test_a_writer_alive_through_an_outage_hands_its_spool_to_the_one_that_won_the_lock(
    database: SimulationDatabase, engine: Engine, tmp_path: Path
) -> None:
    """Race 3 of ``storage/journal.py``: the standby gets the writer lock before the live writer is back at the
    database. The writer goes on acknowledging from its spool until it finds the lock taken, and the standby copies
    the spool in only once the writer was fenced off and let go of it: every acknowledged record, in seq order."""
    path = tmp_path / "spool"
    fenced = threading.Event()
    # its next try of the database only when the test says (``_database_retry_at``), so the standby wins the lock
    first = Journal(
        engine, spool=OutageSpool(path), retry_initial_s=600, retry_max_s=600, fence_confirm_s=0, on_fenced=fenced.set
    ).start()
    append(first, "a1")
    assert first.flush(10)
    database.down()
    try:
        append(first, "b1", "b2")
        assert first.flush(30) and first.spooling
    finally:
        database.up()
    successor = Journal(engine, standby=True, spool=OutageSpool(path), spool_owner_wait_s=120)
    took_over: list[int] = []
    taking = threading.Thread(target=lambda: took_over.append(successor.take_over()))
    taking.start()
    try:
        wait_until(lambda: holds_writer_lock(engine), timeout=30, what="the successor holding the writer lock")
        assert successor.standby and not took_over  # it waits for the spool the live writer still owns
        assert append(first, "b3") == [4] and first.flush(30)  # acknowledged from the spool meanwhile
        assert [r[0] for r in OutageSpool(path).read()] == [2, 3, 4]
        first._database_retry_at = 0.0  # its next try now: it finds the lock held by another session
        first.wake()
        wait_until(fenced.is_set, timeout=30, what="the live writer fenced off")
        taking.join(60)
        assert took_over == [4] and not successor.standby
        assert rows(engine) == [(1, "a1"), (2, "b1"), (3, "b2"), (4, "b3")] and not path.exists()
        assert not list(tmp_path.glob("*.orphaned"))
        with pytest.raises(JournalFenced):
            append(first, "late")
        successor.start()
        assert append(successor, "c1") == [5] and successor.flush(10)
    finally:
        taking.join(60)
        first.close(5)
        successor.close(10)


def test_a_writer_cannot_take_a_spool_another_process_owns(engine: Engine, tmp_path: Path) -> None:
    """A writer lock with no spool is no writer: the spool's live owner keeps it, and the lock is let go of."""
    owner = OutageSpool(tmp_path / "spool")
    owner.own(within_s=0)
    try:
        with pytest.raises(SpoolOwned):
            Journal(engine, spool=OutageSpool(owner.path), spool_owner_wait_s=0)
        wait_until(lambda: not holds_writer_lock(engine), timeout=30, what="the writer lock let go of")
        standby = Journal(engine, standby=True, spool=OutageSpool(owner.path), spool_owner_wait_s=0)
        with pytest.raises(SpoolOwned):
            standby.try_take_over()
        assert standby.standby
        wait_until(lambda: not holds_writer_lock(engine), timeout=30, what="the writer lock let go of again")
    finally:
        owner.release()
    writer = Journal(engine, spool=OutageSpool(owner.path), spool_owner_wait_s=0, wait_for_lock=True)
    assert writer.close(10)


def test_a_successor_whose_lock_session_died_while_it_waited_for_the_spool_waits_for_the_database_instead(
    engine: Engine, tmp_path: Path
) -> None:
    """A lock granted from the queue in the instant a database outage cut the sessions one by one belongs to a
    session already gone (the simulated day 44: the standby waited the whole 30 s for the spool that the live writer,
    which took the lock back, rightly kept, then exited). The successor finds its session gone within a check and
    says so as a database error, which a routing standby waits out; it never reads the spool."""
    owner = OutageSpool(tmp_path / "spool")
    owner.own(within_s=0)  # the live writer's
    successor = Journal(engine, standby=True, spool=OutageSpool(owner.path), spool_owner_wait_s=120)
    outcome: list[BaseException | int] = []

    def take_over() -> None:
        try:
            outcome.append(successor.take_over())
        except BaseException as exc:
            outcome.append(exc)

    taking = threading.Thread(target=take_over)
    taking.start()
    try:
        wait_until(lambda: holds_writer_lock(engine), timeout=30, what="the successor holding the writer lock")
        with engine.connect() as conn:  # the outage's cut of the successor's session
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND classid = :c ::int4::oid"
                ),
                {"c": WRITER_LOCK_CLASS},
            )
            conn.commit()
        taking.join(30)
        assert not taking.is_alive(), "the successor still waits for the spool on a dead session"
        assert len(outcome) == 1 and isinstance(outcome[0], SQLAlchemyError), outcome
        assert successor.standby and not holds_writer_lock(engine)
    finally:
        owner.release()
        taking.join(30)
        successor.close(5)
