"""The simulation's own PostgreSQL takes the desk's database away and gives it back (``SimulationDatabase``): with
``how="refuse"``, the default of a ``database_down`` fault, the server keeps running while the desk's sessions are
cut and new ones refused, and the simulation's control session keeps working; the desk's storage sees that as it
sees a crash: its journal waits, claims nothing durable, and writes everything once the database is back."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.exc import OperationalError

from tests.waiting import wait_until
from tradingdesk.simulate.database import SimulationDatabase
from tradingdesk.storage import Journal, make_engine, migrate

pytestmark = [pytest.mark.postgres]
TS0 = 1_700_000_000_000_000_000
REFUSED = 'database "tradingdesk" is not currently accepting connections'


@pytest.fixture
def database() -> Iterator[SimulationDatabase]:
    """A cluster of the test's own: taking the session's shared server away would pull it from under other tests."""
    db = SimulationDatabase().start()
    yield db
    db.destroy()


def control(database: SimulationDatabase, query: str) -> tuple:
    """One row of ``query`` in a new superuser session on ``postgres``, the simulation's control session."""
    with psycopg.connect(database.conninfo("postgres"), autocommit=True) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return tuple(row)


def test_down_cuts_and_refuses_the_desks_sessions_not_the_control_session(database: SimulationDatabase) -> None:
    desk = make_engine(database.dsn, schema="routing")  # as a service of the desk connects (TD_DSN)
    started = control(database, "SELECT pg_postmaster_start_time()")
    try:
        with desk.connect() as session:
            assert session.exec_driver_sql("SELECT 1").scalar() == 1
            assert database.desk_sessions() >= 1
            database.down()
            with pytest.raises(OperationalError) as cut:
                session.exec_driver_sql("SELECT 1")
            assert "terminating connection due to administrator command" in str(cut.value), cut.value
        wait_until(lambda: database.desk_sessions() == 0, what="the desk's sessions ended")
        with pytest.raises(OperationalError) as refused:
            desk.connect()
        assert REFUSED in str(refused.value)
        # the server ran on: the simulation still reads and controls it, and it did not restart
        assert control(database, "SELECT datallowconn FROM pg_database WHERE datname = 'tradingdesk'") == (False,)
        assert control(database, "SELECT pg_postmaster_start_time()") == started

        database.up()
        with desk.connect() as session:
            assert session.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        desk.dispose()


@pytest.mark.parametrize("how", ["refuse", "crash"])
def test_the_journal_waits_out_the_outage_and_loses_nothing(database: SimulationDatabase, how: str) -> None:
    """Either way the database goes, routing's journal fails its writes (not healthy: what routing refuses new
    orders on, UNAVAILABLE), reports nothing durable meanwhile, and commits every record once it is back."""
    engine = make_engine(database.dsn, schema="routing")
    migrate(engine)
    journal = Journal(engine, retry_initial_s=0.02, retry_max_s=0.2).start()
    try:
        for i in range(50):
            journal.append("new", f"O-{i}", {"i": i}, TS0 + i)
        assert journal.flush(10) and journal.healthy
        database.down(how=how)
        for i in range(50, 120):
            journal.append("new", f"O-{i}", {"i": i}, TS0 + i)
        wait_until(lambda: not journal.healthy, timeout=30, what="the journal's writes failing")
        if how == "refuse":  # its reconnects are refused with the reason, as a missing server's would be
            wait_until(lambda: REFUSED in str(journal.last_error), timeout=30, what="a reconnect refused")
        assert journal.durable_seq == 50 and journal.backlog == 70
        database.up()
        assert journal.flush(30)
        assert journal.healthy and journal.durable_seq == 120
    finally:
        journal.close()
    records = list(Journal(engine).replay())
    assert [r.payload["i"] for r in records] == list(range(120))
    engine.dispose()
