"""The storage layer against real databases: SQLite files in tmp_path and a real PostgreSQL server.

Every test that takes the ``backend`` fixture runs once per backend; the PostgreSQL runs are marked
``postgres`` and use a database of their own on the session server (tests/conftest_postgres.py).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.exc import OperationalError

import tradingdesk
from tradingdesk.core.activity import Activity, MarketPrint, MarketQuote, OrderActivity
from tradingdesk.core.enums import Side
from tradingdesk.storage import (
    AsyncDurability,
    AuditStore,
    IndexRow,
    Journal,
    JournalClosed,
    JournalRecord,
    RiskChangeStore,
    current_revision,
    head_revision,
    make_engine,
    migrate,
)
from tradingdesk.storage.conduct_store import ConductStore
from tradingdesk.storage.db import _PG_MIGRATION_LOCK_KEY, normalize_url, prepare_schema
from tradingdesk.storage.pg_copy import copy_rows
from tradingdesk.storage.schema import journal as journal_table
from tradingdesk.storage.schema import metadata

SERVICES_DIR = Path(tradingdesk.__file__).resolve().parent.parent
TS0 = 1_700_000_000_000_000_000


@dataclass
class Backend:
    name: str
    dsn: str
    server: Any = None  # tests/postgres.py PostgresServer for the postgresql backend
    engines: list[Engine] = field(default_factory=list)

    def engine(self, **kwargs: Any) -> Engine:
        """A new engine on this backend's database (disposed at the end of the test)."""
        engine = make_engine(self.dsn, **kwargs)
        self.engines.append(engine)
        return engine


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        b = Backend("sqlite", f"sqlite:///{tmp_path}/var/desk.db")
    else:
        server = request.getfixturevalue("postgres_server")
        name = f"t_{uuid.uuid4().hex[:12]}"
        b = Backend("postgresql", server.create_database(name), server)
    try:
        yield b
    finally:
        for engine in b.engines:
            engine.dispose()


@pytest.fixture
def engine(backend: Backend) -> Engine:
    """A migrated engine."""
    engine = backend.engine()
    migrate(engine)
    return engine


def payload_for(i: int) -> dict[str, Any]:
    return {
        "qty": i * 100,
        "px": 1_234_500 + i,
        "side": "buy" if i % 2 else "sell",
        "flags": [i % 3 == 0, "ioc"],
        "nested": {"venue": "XNAS", "fills": [{"q": 1, "p": -5}], "note": "é€ \u0000 ok"},
        "big": 2**62 + i,
    }


# ---------------------------------------------------------------------------------------------- migrations


def test_migrations_create_schema_and_are_idempotent(backend: Backend) -> None:
    engine = backend.engine()
    assert current_revision(engine) is None
    assert migrate(engine) == head_revision()
    assert migrate(engine) == head_revision()  # again: nothing to do
    assert migrate(backend.dsn) == head_revision()  # by DSN, with an engine of its own

    insp = inspect(engine)
    assert {"journal", "journal_meta", "audit_log", "risk_changes", "alembic_version"} <= set(insp.get_table_names())
    assert [c["name"] for c in insp.get_columns("journal")] == ["seq", "ts_ns", "kind", "order_id", "payload"]
    assert insp.get_pk_constraint("journal")["constrained_columns"] == ["seq"]
    assert {"ix_journal_order_id"} <= {ix["name"] for ix in insp.get_indexes("journal")}
    audit_ix = {tuple(ix["column_names"]) for ix in insp.get_indexes("audit_log")}
    assert {("order_id",), ("ts_ns",), ("incarnation", "seq")} <= audit_ix
    assert {c["name"] for c in insp.get_columns("risk_changes")} == {
        "id",
        "ts_ns",
        "actor",
        "reason",
        "scope",
        "change",
    }
    # The migrations build exactly what schema.py declares.
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diffs == []

    if backend.name == "sqlite":
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0
    else:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW fsync").scalar() == "on"
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"


def test_a_schema_check_at_head_runs_no_migration(backend: Backend) -> None:
    """``prepare_schema`` on a database at head (every restart's case) returns without Alembic's upgrade: it is
    not even held up by a migration lock another session holds (old code would wait for it), and a database
    behind head is still migrated."""
    engine = backend.engine()
    assert prepare_schema(engine, {}) == head_revision()  # a new database: migrated
    with engine.connect() as holder:
        if backend.name == "sqlite":
            holder.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock a migration takes first
        else:
            holder.execute(select(func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK_KEY)))
        assert prepare_schema(backend.engine(busy_timeout_ms=200), {}) == head_revision()
        holder.rollback()


def test_concurrent_migrate_on_fresh_database(backend: Backend) -> None:
    """Every service calls migrate() at start, possibly at the same moment."""
    results: list[Any] = []

    def run() -> None:
        try:
            results.append(migrate(backend.dsn))
        except Exception as exc:  # collected and asserted below
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [head_revision()] * 4


def test_make_engine_dsns(tmp_path: Path) -> None:
    assert normalize_url("postgres://u:p@h:5/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    engine = make_engine(f"sqlite:///{tmp_path}/a/b/c/desk.db")
    try:
        migrate(engine)
        assert (tmp_path / "a/b/c/desk.db").is_file()
    finally:
        engine.dispose()
    memory = make_engine("sqlite://")  # private in-memory database, shared by the writer thread
    try:
        migrate(memory)
        with Journal(memory) as j:
            j.append("new", "O-1", {"a": 1}, TS0)
        assert [r.payload for r in Journal(memory).replay()] == [{"a": 1}]
    finally:
        memory.dispose()


# ---------------------------------------------------------------------------------------------- journal


def test_journal_append_and_replay(backend: Backend, engine: Engine) -> None:
    j = Journal(engine, replay_chunk=7).start()
    try:
        assert j.last_seq() == 0 and j.durable_seq == 0
        kinds = ["new" if i % 2 else "fill" for i in range(50)]
        seqs = [j.append(kinds[i], f"O-{i % 5}", payload_for(i), TS0 + i) for i in range(50)]
        assert seqs == list(range(1, 51))
        # A bad record raises and uses up no seq.
        with pytest.raises(ValueError):
            j.append("x" * 65, "O-1", {}, TS0)
        with pytest.raises(ValueError):
            j.append("new", "O-1", {"px": float("nan")}, TS0)
        with pytest.raises(TypeError):
            j.append("new", "O-1", {"px": object()}, TS0)
        with pytest.raises(TypeError):
            j.append("new", "O-1", {}, 1.5)  # type: ignore[arg-type]
        assert j.append("ack", "O-9", {}, TS0 + 99) == 51
        assert j.flush(10)
        assert j.durable_seq == 51 == j.last_seq()

        got = list(j.replay())
        assert [r.seq for r in got] == list(range(1, 52))
        for i, rec in enumerate(got[:50]):
            assert rec == JournalRecord(i + 1, TS0 + i, kinds[i], f"O-{i % 5}", payload_for(i))
        assert got[50] == JournalRecord(51, TS0 + 99, "ack", "O-9", {})
        assert [r.seq for r in j.replay(20)] == list(range(20, 52))
        assert [r.seq for r in j.replay(10, 15)] == list(range(10, 16))
        assert list(j.replay(52)) == []
        with pytest.raises(AttributeError):
            got[0].seq = 7  # type: ignore[misc]  # frozen
    finally:
        j.close()
    with engine.connect() as conn:  # stored as compact JSON text
        text = conn.execute(select(journal_table.c.payload).where(journal_table.c.seq == 51)).scalar()
    assert text == "{}"


def test_journal_text_that_databases_reject_cannot_poison_a_batch(backend: Backend, engine: Engine) -> None:
    """Anything that would fail at the database fails in append() instead (a failing batch would block the
    journal): NUL and lone surrogates in the text columns. Payload text is always safe (ASCII JSON)."""
    with Journal(engine) as j:
        with pytest.raises(ValueError):
            j.append("new", "O-\x00", {}, TS0)
        with pytest.raises(ValueError):
            j.append("new", "O-\ud800", {}, TS0)
        with pytest.raises(TypeError):
            j.append("new", "O-1", {}, 2**63)
        odd = {"nul": "a\x00b", "surrogate": "\ud800", "emoji": "\U0001f4c8", "tab": "\t\\n"}
        assert j.append("new", "O-é€", odd, TS0) == 1
        assert j.append("fill", "O-2", {"k": "\\.\n"}, -1) == 2
        assert j.flush(10)
    got = list(Journal(backend.engine()).replay())
    assert got == [
        JournalRecord(1, TS0, "new", "O-é€", odd),
        JournalRecord(2, -1, "fill", "O-2", {"k": "\\.\n"}),
    ]


def test_group_commit_batches_a_burst(backend: Backend, engine: Engine, capsys: Any) -> None:
    n_threads, per_thread = 4, 1250
    total = n_threads * per_thread
    batches: list[tuple[int, list[int]]] = []
    j = Journal(engine)
    j.add_commit_listener(lambda upto, recs: batches.append((upto, [r.seq for r in recs])))
    j.start()
    mine: list[list[int]] = [[] for _ in range(n_threads)]
    barrier = threading.Barrier(n_threads + 1)
    append_time = [0.0] * n_threads

    def worker(k: int) -> None:
        barrier.wait()
        t0 = time.perf_counter()
        out = mine[k]
        for i in range(per_thread):
            out.append(j.append("new", f"O-{k}-{i}", {"k": k, "i": i, "qty": 100, "px": 1_000_000}, TS0 + i))
        append_time[k] = time.perf_counter() - t0

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    assert j.flush(30)
    elapsed = time.perf_counter() - t0
    j.close()

    # Every record committed exactly once, in order, in batches of more than one record.
    flat = [s for _, seqs in batches for s in seqs]
    assert flat == list(range(1, total + 1))
    assert all(upto == seqs[-1] for upto, seqs in batches)
    assert max(len(seqs) for _, seqs in batches) > 1
    assert len(batches) < total / 5
    for seqs in mine:  # each thread saw its own seqs strictly increasing
        assert all(a < b for a, b in itertools.pairwise(seqs))
    assert sorted(s for seqs in mine for s in seqs) == list(range(1, total + 1))
    replayed = [r.seq for r in Journal(backend.engine()).replay()]
    assert replayed == list(range(1, total + 1))  # strictly increasing, no gaps
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(journal_table)).scalar() == total

    calls_per_s = total / max(sum(append_time) / n_threads, 1e-9)
    with capsys.disabled():
        print(
            f"\n[storage] {backend.name}: {total} appends from {n_threads} threads durable in {elapsed:.3f}s "
            f"= {total / elapsed:,.0f} durable appends/s; {len(batches)} commits "
            f"(avg {total / len(batches):.0f}, max {max(len(s) for _, s in batches)} records/commit); "
            f"append() call rate {calls_per_s:,.0f}/s"
        )


def test_close_flushes_and_restart_continues_numbering(backend: Backend, engine: Engine) -> None:
    j = Journal(engine, batch_max=100).start()
    for i in range(1000):
        j.append("new", f"O-{i}", {"i": i}, TS0 + i)
    assert j.close() is True  # no flush() first: close writes everything
    assert j.close() is True  # idempotent
    assert j.durable_seq == 1000
    assert j.stats.largest_batch <= 100
    with pytest.raises(JournalClosed):
        j.append("new", "O-x", {}, TS0)

    # A restart: new engine, new journal on the same database continues the numbering.
    j2 = Journal(backend.engine())
    assert j2.last_seq() == 1000 and j2.durable_seq == 1000
    j2.start()
    assert j2.append("new", "O-after", {"restart": True}, TS0 + 5000) == 1001
    j2.close()

    # Appends made before start() are written by close() too.
    j3 = Journal(backend.engine())
    assert j3.append("ack", "O-after", {}, TS0 + 6000) == 1002
    assert j3.close() is True

    records = list(Journal(backend.engine()).replay())
    assert [r.seq for r in records] == list(range(1, 1003))
    assert records[1000].payload == {"restart": True}
    assert records[999].payload == {"i": 999}


CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from tradingdesk.storage import Journal, make_engine
    engine = make_engine(sys.argv[1])
    j = Journal(engine).start()
    for i in range(300):
        j.append("new", f"O-{i}", {"i": i, "pad": "x" * 50}, 1_700_000_000_000_000_000 + i)
    assert j.flush(30)
    print(j.durable_seq, flush=True)
    for i in range(300, 5000):  # more appends in flight when the process dies
        j.append("new", f"O-{i}", {"i": i, "pad": "x" * 50}, 1_700_000_000_000_000_000 + i)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_durable_means_readable_after_the_process_dies(backend: Backend, engine: Engine) -> None:
    """A record reported durable is there for a fresh engine even if the writer process is killed."""
    env = {**os.environ, "PYTHONPATH": str(SERVICES_DIR)}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, backend.dsn], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    durable = int(proc.stdout.split()[0])
    assert durable == 300

    fresh = backend.engine()
    records = list(Journal(fresh).replay())
    seqs = [r.seq for r in records]
    assert len(seqs) >= durable
    assert seqs == list(range(1, len(seqs) + 1))  # whatever survived is a gap-free prefix
    assert all(r.payload["i"] == r.seq - 1 for r in records)


def test_writer_retries_while_database_unavailable(backend: Backend, engine: Engine) -> None:
    """Writes fail (SQLite: another connection holds the write lock; PostgreSQL: the server crashed and is
    down). Appends keep queuing, durable_seq stays honest, nothing is lost or duplicated afterwards."""
    wengine = backend.engine(busy_timeout_ms=50) if backend.name == "sqlite" else backend.engine()
    j = Journal(wengine, retry_initial_s=0.02, retry_max_s=0.2).start()
    try:
        for i in range(100):
            j.append("new", f"O-{i}", {"i": i}, TS0 + i)
        assert j.flush(10)
        assert j.durable_seq == 100 and j.healthy

        blocker = None
        if backend.name == "sqlite":
            blocker = backend.engine().raw_connection()
            blocker.execute("BEGIN EXCLUSIVE")
        else:
            backend.server.crash()
        try:
            for i in range(100, 250):
                j.append("new", f"O-{i}", {"i": i}, TS0 + i)
            assert not j.flush(0.3)
            assert j.durable_seq == 100  # nothing claimed durable while the database is unavailable
            assert not j.healthy and j.last_error is not None
            assert j.backlog == 150 and j.stats.write_failures >= 1
        finally:
            if blocker is not None:
                blocker.rollback()
                blocker.close()
            else:
                backend.server.restart()
        assert j.flush(30)
        assert j.healthy and j.durable_seq == 250
    finally:
        j.close()
    records = list(Journal(backend.engine()).replay())
    assert [r.seq for r in records] == list(range(1, 251))
    assert [r.payload["i"] for r in records] == list(range(250))


def test_lost_commit_ack_is_not_written_twice(backend: Backend, engine: Engine) -> None:
    """The commit reached the database but the writer saw an error (the connection died before the
    acknowledgement). The retry must notice the batch is there instead of inserting it again."""
    j = Journal(engine, retry_initial_s=0.01)
    real_insert = j._insert_rows
    failures = []

    def insert_then_lose_ack(conn: Any, rows: list[tuple[Any, ...]]) -> None:
        real_insert(conn, rows)  # committed for real
        if not failures:
            failures.append(rows[0][0])
            raise ConnectionError("connection lost after COMMIT was sent")

    j._insert_rows = insert_then_lose_ack  # type: ignore[method-assign]
    batches: list[list[int]] = []
    j.add_commit_listener(lambda upto, recs: batches.append([r.seq for r in recs]))
    for i in range(20):
        j.append("new", f"O-{i}", {"i": i}, TS0 + i)
    j.start()
    assert j.flush(10)
    j.append("new", "O-20", {"i": 20}, TS0 + 20)
    assert j.close()
    assert failures == [1] and j.stats.write_failures == 1
    assert [s for b in batches for s in b] == list(range(1, 22))  # listeners saw each record once
    assert [r.seq for r in Journal(backend.engine()).replay()] == list(range(1, 22))


async def test_wait_durable_on_asyncio_loop(backend: Backend, engine: Engine) -> None:
    loop = asyncio.get_running_loop()
    j = Journal(engine).start()
    bridge = AsyncDurability(j, loop)
    published: list[int] = []
    on_loop: list[bool] = []

    def publish(records: list[JournalRecord]) -> None:
        on_loop.append(asyncio.get_running_loop() is loop)
        published.extend(r.seq for r in records)

    unsubscribe = bridge.on_committed(publish)
    try:
        seqs = [j.append("new", f"O-{i}", {"i": i}, TS0 + i) for i in range(300)]
        # Appends from another thread while the loop waits.
        other = await asyncio.to_thread(lambda: [j.append("fill", "O-t", {"i": i}, TS0) for i in range(200)])
        order = seqs + other
        random.Random(7).shuffle(order)

        async def waiter(seq: int) -> int:
            await bridge.wait_durable(seq)
            assert j.durable_seq >= seq
            return seq

        cancelled = asyncio.ensure_future(bridge.wait_durable(10**9))  # never durable: cancelled below
        done = await asyncio.wait_for(asyncio.gather(*(waiter(s) for s in order)), 20)
        assert sorted(done) == list(range(1, 501))
        cancelled.cancel()
        assert published == list(range(1, 501))  # every record once, in seq order, only once durable
        assert all(on_loop)

        # Already durable: returns without waiting for the writer.
        t0 = time.perf_counter()
        for s in range(1, 501):
            await bridge.wait_durable(s)
        assert time.perf_counter() - t0 < 0.5
        assert bridge.durable_seq == 500

        unsubscribe()
        last = j.append("ack", "O-1", {}, TS0)
        await asyncio.wait_for(bridge.wait_durable(last), 10)
        assert published[-1] == 500  # unsubscribed
    finally:
        bridge.close()
        await asyncio.to_thread(j.close)


async def _writer_batch_then_inline_batch(engine: Engine) -> tuple[list[int], list[int], bool]:
    """The writer thread commits four records and its callback waits for the blocked loop; the loop then
    commits a fifth inline. Returns the seqs published, the seqs written, and whether the fifth went inline
    (the writer thread, sweeping every 5 ms, may take it first: then the scenario did not happen)."""
    loop = asyncio.get_running_loop()
    j = Journal(engine, inline=True).start()
    bridge = AsyncDurability(j, loop)
    published: list[int] = []
    bridge.on_committed(lambda records: published.extend(r.seq for r in records))
    try:
        seqs = [j.append("new", f"O-{i}", {"i": i}, TS0 + i) for i in range(4)]
        j.wake()
        assert j.flush(10)  # blocks the loop: the writer thread's callback for these cannot run yet
        assert published == []
        assert j._write_lock.acquire(timeout=10)  # the writer thread is done with its batch
        j._write_lock.release()
        seqs.append(j.append("new", "O-5", {"i": 5}, TS0 + 5))
        inline = j.commit_inline()
        await asyncio.wait_for(bridge.wait_durable(seqs[-1]), 10)
        await asyncio.sleep(0)  # the writer thread's callback, had it been left behind
        return published, seqs, inline
    finally:
        bridge.close()
        await asyncio.to_thread(j.close)


async def test_a_batch_committed_inline_is_delivered_after_the_writer_threads_batch_before_it(
    backend: Backend, engine: Engine
) -> None:
    """Subscribers see a journal's records in seq order even when the loop commits a batch inline while the
    writer thread's callback for the batch before it still waits for the loop (a journal stream skipped the
    earlier batch when the later one came first). Tried until the inline commit happened at least once."""
    for _ in range(20):
        published, seqs, inline = await _writer_batch_then_inline_batch(engine)
        assert published == seqs
        if inline:
            break
    assert inline, "the writer thread took the fifth record every time: the inline path was never tried"


# ---------------------------------------------------------------------------------------------- stores


def index_rows(indexes: range, incarnation: str = "inc-a", seq_offset: int = 1) -> list[IndexRow]:
    return [
        IndexRow(
            log_index=i,
            incarnation=incarnation,
            seq=i + seq_offset,
            ts_ns=TS0 + i * 1000,
            source="journal",
            kind="new" if i % 3 else "fill",
            order_id=f"O-{i % 7}",
            account="ACC-A" if i % 2 else "ACC-B",
            symbol=("AAPL", "MSFT", "TSLA")[i % 3],
            record=f'{{"v":1,"index":{i},"payload":{{"qty":"{i * 10}"}}}}',
        )
        for i in indexes
    ]


def test_audit_index_keys_on_the_log_position_and_queries(backend: Backend, engine: Engine) -> None:
    store = AuditStore(engine)
    assert store.size() == 0 and store.journal_position() is None
    assert store.insert_many([]) == 0
    assert store.insert_many(index_rows(range(30))) == 30
    assert store.insert_many(index_rows(range(20, 40))) == 10  # 20..29 already there: the same records
    assert store.size() == 40 and store.count() == 40
    # A second incarnation whose journal seqs start at 1 again: nothing of it is dropped.
    assert store.insert_many(index_rows(range(40, 50), incarnation="inc-b", seq_offset=-39)) == 10
    assert store.count() == 50
    assert store.incarnations() == ["inc-a", "inc-b"]
    assert store.find("inc-b", 1) == 40 and store.find("inc-a", 1) == 0 and store.find("inc-b", 99) is None
    pos = store.journal_position()
    assert (pos.incarnation, pos.seq, pos.log_index) == ("inc-b", 10, 49)

    def indexes(**kw: Any) -> list[int]:
        return [r.log_index for r in store.query(**kw)]

    assert indexes(limit=5) == [0, 1, 2, 3, 4]
    assert indexes(order_id="O-3") == [i for i in range(50) if i % 7 == 3]
    assert indexes(account="ACC-B", incarnation="inc-b") == [i for i in range(40, 50) if i % 2 == 0]
    assert indexes(symbol="TSLA", limit=3) == [2, 5, 8]
    assert indexes(since_ns=TS0 + 45_000) == [45, 46, 47, 48, 49]
    assert indexes(since_ns=TS0 + 10_000, until_ns=TS0 + 13_000) == [10, 11, 12]
    pages, start = [], 0
    while page := store.query(account="ACC-A", limit=6, from_index=start):
        pages.append([r.log_index for r in page])
        start = page[-1].log_index + 1
    assert [i for p in pages for i in p] == [i for i in range(50) if i % 2 == 1]
    assert store.record_at(7) == index_rows(range(7, 8))[0].record
    assert AuditStore(backend.engine()).query(from_index=49) == index_rows(range(49, 50), "inc-b", -39)
    # The log was rebuilt shorter: the index follows it.
    assert store.drop_from(45) == 5 and store.size() == 45


def test_conduct_store_round_trip(backend: Backend, engine: Engine) -> None:
    """Activity, tape and position in one commit, read back as written (on PostgreSQL each table through COPY),
    with what COPY's text format must carry through: NULL-free zeros, quotes, backslashes, tabs, non-ASCII."""
    store = ConductStore(engine)
    odd = 'O-"\\t\tx\né'
    activities = [
        (seq, OrderActivity(Activity.NEW, TS0 + seq, f"O-{seq}", "ACC-A", "AAPL", Side.BUY, 100, 1_895_000))
        for seq in range(1, 4)
    ] + [(4, OrderActivity(Activity.CANCEL, TS0 + 4, odd, "ACC-B", "MSFT", Side.SELL, 5, 0, strategy="s\\1"))]
    tape = [
        MarketQuote(TS0 + 1, "AAPL", 1_894_000, 1_896_000, 300, 200),
        MarketPrint(TS0 + 2, "AAPL", 1_895_000, 100),
        MarketQuote(TS0 + 3, "MSFT", 4_100_000, 4_101_000),
    ]
    store.record(activities=activities, tape=tape, position=("inc-a", 4))
    store.record(tape=[MarketPrint(TS0 + 5, "MSFT", 4_100_500, 7)], position=("inc-a", 4))
    again = ConductStore(backend.engine())
    assert again.activities() == activities
    assert again.tape() == [*tape, MarketPrint(TS0 + 5, "MSFT", 4_100_500, 7)]
    assert again.tape(since_ns=TS0 + 2, until_ns=TS0 + 5, symbols=["MSFT"]) == tape[2:]
    assert again.position() == ("inc-a", 4)


@pytest.mark.postgres
def test_a_copy_on_a_lost_connection_raises_as_sqlalchemy_does_and_the_pool_recovers(postgres_server) -> None:
    """What the callers' retries catch (the audit index's, the conduct watch's) is SQLAlchemy's OperationalError,
    as for an ``execute``; the broken connection is not handed out again."""
    engine = make_engine(postgres_server.create_database(f"t_{uuid.uuid4().hex[:12]}"))
    try:
        migrate(engine)
        store = ConductStore(engine)
        with pytest.raises(OperationalError), engine.begin() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
            with engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            copy_rows(conn, table="market_tape", columns=("ts_ns", "symbol", "kind"), rows=[(TS0, "AAPL", "T")])
        store.record(tape=[MarketPrint(TS0, "AAPL", 1, 1)])
        assert store.tape() == [MarketPrint(TS0, "AAPL", 1, 1)]
    finally:
        engine.dispose()


def test_risk_change_store_round_trip(backend: Backend, engine: Engine) -> None:
    store = RiskChangeStore(engine)
    a = store.record(TS0, "alice", "morning limits", "desk", {"max_order_qty": 10_000})
    b = store.record(TS0 + 1, "bob", "kill switch", "account:ACC-A", {"trading_state": "HALTED"})
    c = store.record(TS0 + 2, "carol", "resume", "account:ACC-A", {"trading_state": "ACTIVE", "x": [1, 2]})
    assert a < b < c
    history = RiskChangeStore(backend.engine()).history(10)
    assert [h.id for h in history] == [c, b, a]  # newest first
    assert history[0].actor == "carol" and history[0].reason == "resume"
    assert history[0].change == {"trading_state": "ACTIVE", "x": [1, 2]}
    assert history[2].scope == "desk" and history[2].ts_ns == TS0
    assert [h.id for h in store.history(2)] == [c, b]
    states = [h.change["trading_state"] for h in store.history(10, scope="account:ACC-A")]
    assert states == ["ACTIVE", "HALTED"]


def test_retired_orders_read_back_from_the_journal_as_they_were_in_memory(
    backend: Backend, engine: Engine, tmp_path: Path
) -> None:
    """``routing.retired_orders``: every order of a flow (resting, cancelled, filled, replaced and its
    replacement) rebuilt from the journal by its id or by the seq that created it, equal to the live order."""
    from tests.unit.desk_fixtures import D, make_desk, order
    from tradingdesk.core.reject import Reject
    from tradingdesk.oms.requests import OrderRef, ReplaceRequest
    from tradingdesk.oms.retired import RetiredOrderNeeded
    from tradingdesk.routing.retired_orders import RetiredOrders

    d = make_desk(finished_orders_kept=100)  # retiring, but none of these five yet
    d.trade("AAPL", "100.00", "10")
    d.quote("AAPL", "99.99", "300", "100.01", "300")
    e = d.engine
    e.submit(order(cl="rests", qty="10", price="99.00"))
    e.submit(order(cl="fills", qty="10", price="100.05"))
    gone = e.submit(order(cl="gone", qty="10", price="99.10")).order.order_id
    moved = e.submit(order(cl="moved", qty="10", price="99.20")).order.order_id
    d.settle()
    e.cancel(OrderRef("ACC", gone, ""))
    e.replace(ReplaceRequest(ref=OrderRef("ACC", moved, ""), new_client_order_id="moved-2", qty=D("20"), price=None))
    d.settle()
    journal = Journal(engine).start()
    for rec in d.journal.records:
        journal.append(rec.kind, rec.order_id, rec.payload, rec.ts_ns)
    assert journal.close(60)

    reader = RetiredOrders(backend.engine())
    assert len(e.orders) == 5
    for order_id, live in e.orders.items():
        by_id = reader.read(("order_id", order_id))
        by_seq = reader.read(("seq", e.created_seq[order_id]))
        assert by_id is not None and by_seq == by_id
        assert by_id.order == live and by_id.created_seq == e.created_seq[order_id]
        assert by_id.requested_venue == e.book.requested_venue.get(order_id)  # None for the replacement
    assert e.orders[moved].status.name == "REPLACED" and e.orders[moved].replaced_by_order_id
    assert reader.read(("order_id", "O-none-000001")) is None and reader.read(("seq", 10**9)) is None

    if backend.name == "sqlite":  # a journal that cannot be read: the request is refused, UNAVAILABLE
        broken = RetiredOrders(make_engine(f"sqlite:///{tmp_path}/missing/none.db"))

        async def ask() -> None:
            def call(resolved):
                return e.find(OrderRef("ACC", "O-none-000001", ""), retired=resolved)

            with pytest.raises(RetiredOrderNeeded) as need:
                call({})
            await broken.answer(call, need.value)

        with pytest.raises(Reject) as refused:
            asyncio.run(ask())
        assert refused.value.code == "JOURNAL_UNAVAILABLE"
