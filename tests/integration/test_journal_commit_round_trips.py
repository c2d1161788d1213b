"""On PostgreSQL each journal commit is one ``COPY`` that is its own transaction: no ``BEGIN`` and no ``COMMIT``
of its own. Each round trip to the server costs the journal's writer thread a wait for the interpreter's lock
while routing's event loop keeps it busy, and in a simulated run the journal's session spent more of a commit
waiting for its client between ``BEGIN``, ``COPY`` and ``COMMIT`` than in the WAL's fsync. The server's own
statement log shows what the journal's session sent."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from tradingdesk.storage.db import make_engine, migrate
from tradingdesk.storage.journal import Journal, read_journal

pytestmark = pytest.mark.postgres
SCHEMA = "rt_desk_routing"
WRITER_PID = text(
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
    "(SELECT oid FROM pg_database WHERE datname = current_database())"
)


@pytest.fixture
def database(postgres_server) -> Iterator[Engine]:
    name = f"rt_{uuid.uuid4().hex[:10]}"
    engine = make_engine(postgres_server.create_database(name), schema=SCHEMA)
    migrate(engine)
    with engine.connect() as conn:  # sessions opened from now on log every statement they are sent
        conn.execute(text(f"ALTER DATABASE {name} SET log_statement = 'all'"))
        conn.commit()
    engine.dispose()
    try:
        yield engine
    finally:
        engine.dispose()


def test_a_commit_is_one_copy_with_no_transaction_of_its_own(postgres_server, database: Engine) -> None:
    engine = database
    journal = Journal(engine).start()
    try:
        with engine.connect() as conn:
            pid = conn.execute(WRITER_PID).scalar_one()  # the journal's session holds the writer lock
        for n in range(1, 4):
            journal.append("order.accepted", f"O-{n}", {"n": n}, n)
            assert journal.flush(timeout=30)
        records = list(read_journal(engine))
    finally:
        journal.close()
    assert [r.order_id for r in records] == ["O-1", "O-2", "O-3"]  # each committed: read by another session

    sent = re.findall(rf"\[{pid}\] LOG:  statement: (\S+)", postgres_server.log_file.read_text())
    first = sent.index("COPY")
    assert sent[first:] == ["COPY"] * 3, sent  # before the first: the session's setup (search path and the like)
    assert sent[first - 1] != "BEGIN", sent
