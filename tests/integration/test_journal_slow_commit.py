"""A journal commit that waits on the database is logged with its size and time. Routing's commits run on the
journal's writer thread on PostgreSQL, off the event loop, so the loop watch no longer sees such a wait, while
every acknowledgement behind the commit waits as long: in a simulated day, half of the probe orders that timed
out fell in no window anything else logged."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from tests.waiting import wait_until
from tradingdesk.storage import journal as journal_module
from tradingdesk.storage.db import make_engine, migrate
from tradingdesk.storage.journal import Journal

pytestmark = pytest.mark.postgres
SCHEMA = "slow_desk_routing"

WRITER_WAITING_S = text(
    "SELECT coalesce(max(extract(epoch FROM now() - a.state_change)), 0) FROM pg_locks l "
    "JOIN pg_class c ON c.oid = l.relation JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE c.relname = 'journal' AND NOT l.granted"
)


@pytest.fixture
def engine(postgres_server) -> Iterator[Engine]:
    engine = make_engine(postgres_server.create_database(f"s_{uuid.uuid4().hex[:10]}"), schema=SCHEMA)
    migrate(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def slow_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "took" in r.getMessage() and r.levelno == logging.WARNING]


def test_a_commit_that_waits_on_the_database_is_logged(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=journal_module.__name__)
    journal = Journal(engine).start()
    try:
        journal.append("fast", "O-1", {"n": 1}, 1)
        assert journal.flush(timeout=30)
        assert slow_lines(caplog) == []  # a commit that did not wait says nothing

        with engine.connect() as blocker, engine.connect() as watcher:
            blocker.execute(text(f"LOCK TABLE {SCHEMA}.journal IN EXCLUSIVE MODE"))  # held until the rollback

            def writer_waited() -> bool:
                waited = watcher.execute(WRITER_WAITING_S).scalar()
                watcher.rollback()
                return float(waited or 0) >= journal_module.SLOW_COMMIT_S * 1.2

            journal.append("slow", "O-2", {"n": 2}, 2)
            journal.append("slow", "O-3", {"n": 3}, 3)
            wait_until(writer_waited, 30, what="the writer waiting on the table lock longer than a slow commit")
            blocker.rollback()
        assert journal.flush(timeout=30)
    finally:
        journal.close()
    (line,) = slow_lines(caplog)
    assert line.startswith("journal: a commit of 2 records (seq 2..3) took ") and line.endswith(" ms in the database")
    took_ms = float(line.split(" took ")[1].split(" ms")[0])
    assert took_ms >= journal_module.SLOW_COMMIT_S * 1e3
