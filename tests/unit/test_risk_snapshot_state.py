"""Real-time risk's snapshots: a monitor loaded from a snapshot, with the journal after it applied, holds what a
monitor that read the whole journal holds; a snapshot that fails a check (corrupt body, other configuration,
other format) is not loaded, and the journal is read from its first event instead."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from tests.unit.desk_fixtures import D, ListJournal, default_limits, make_desk, order
from tradingdesk.core.enums import Side
from tradingdesk.core.event_codec import record_event
from tradingdesk.risk.monitor import RealTimeRisk
from tradingdesk.risk.snapshots import JOURNAL_STATE, RiskSnapshots
from tradingdesk.spec.model import SnapshotSpec
from tradingdesk.storage.db import make_engine, prepare_schema
from tradingdesk.storage.journal import JournalRecord
from tradingdesk.storage.schema import journal_snapshots

SECTORS = {"AAPL": "tech", "MSFT": "tech"}
LOTS = {"AAPL": 1, "MSFT": 1}


def journal() -> list[JournalRecord]:
    """Orders resting, filled (positions and P&L in two accounts' scopes), cancelled."""
    d = make_desk(default_limits(max_submits_per_second=0, max_gross_exposure=D("100000000")), journal=ListJournal())
    for symbol, mid in (("AAPL", 100), ("MSFT", 400)):
        d.trade(symbol, f"{mid}.00", "10")
        d.quote(symbol, f"{mid - 0.01:.2f}", "300", f"{mid + 0.01:.2f}", "300")
    for i in range(6):
        d.engine.submit(order(cl=f"rest-{i}", qty="10", price="99.00"))
        d.engine.submit(order(cl=f"buy-{i}", qty="20", price="100.01"))
        d.engine.submit(order(cl=f"sell-{i}", side=Side.SELL, qty="5", price="399.99", symbol="MSFT"))
        d.settle()
    return list(d.journal.records)


def monitor() -> RealTimeRisk:
    return RealTimeRisk(default_limits(), sectors=SECTORS, lot_sizes=LOTS)


def applied(rt: RealTimeRisk, records: list[JournalRecord]) -> RealTimeRisk:
    for rec in records:
        rt.on_event(rec.seq, record_event(rec), rec.ts_ns)
    return rt


@pytest.fixture
def db(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'risk.db'}")
    prepare_schema(engine)
    return engine


def state(rt: RealTimeRisk) -> dict:
    return {name: getattr(rt, name) for name in (*JOURNAL_STATE, "last_seq")}


def take(db: Engine, rt: RealTimeRisk, records: list[JournalRecord]) -> None:
    snaps = RiskSnapshots(db, rt=rt, spec=SnapshotSpec(every_records=1, every_seconds=0))
    assert snaps.due()
    last = records[-1]
    seq, body, snap = snaps.capture(incarnation="j1", record_ts_ns=last.ts_ns, record_kind=last.kind)
    snaps.save(seq, body, snap)


def test_loaded_and_replayed_after_is_a_full_replay(db: Engine) -> None:
    records = journal()
    assert len(records) > 40
    cut = len(records) // 2
    take(db, applied(monitor(), records[:cut]), records[:cut])

    restarted = monitor()
    loaded = RiskSnapshots(db, rt=restarted, spec=SnapshotSpec()).load()
    assert loaded is not None
    incarnation, covered = loaded
    assert incarnation == "j1" and covered.seq == records[cut - 1].seq and covered.kind == records[cut - 1].kind
    assert restarted.last_seq == covered.seq
    applied(restarted, records[cut:])  # what routing's journal sends after the covered record
    whole = applied(monitor(), records)
    assert state(restarted) == state(whole)
    assert restarted.open and any(book.positions for book in restarted.books.values()), "a state worth comparing"


@pytest.mark.parametrize(
    ("column", "value", "why"),
    [
        ("body", b"\x80\x05not a pickle", "checksum mismatch"),
        ("state_key", "0" * 64, "another configuration"),
        ("format", 99, "format 99"),
    ],
)
def test_a_snapshot_that_fails_a_check_is_not_loaded(
    db: Engine, caplog: pytest.LogCaptureFixture, column: str, value: object, why: str
) -> None:
    records = journal()
    take(db, applied(monitor(), records), records)
    with db.begin() as conn:
        conn.execute(update(journal_snapshots).values({column: value}))
    fresh = monitor()
    with caplog.at_level(logging.WARNING):
        assert RiskSnapshots(db, rt=fresh, spec=SnapshotSpec()).load() is None
    assert why in caplog.text
    assert fresh.last_seq == 0 and not fresh.open, "nothing of it was loaded: the journal is read from seq 1"


def test_another_configuration_does_not_read_it(db: Engine) -> None:
    records = journal()
    take(db, applied(monitor(), records), records)
    other = RealTimeRisk(default_limits(), sectors={**SECTORS, "MSFT": "software"}, lot_sizes=LOTS)
    assert RiskSnapshots(db, rt=other, spec=SnapshotSpec()).load() is None


def test_only_the_newest_two_are_kept(db: Engine) -> None:
    records = journal()
    rt = monitor()
    for end in (10, 20, 30, 40):
        applied(rt, records[end - 10 : end])
        take(db, rt, records[:end])
    with db.connect() as conn:
        seqs = sorted(conn.execute(journal_snapshots.select().with_only_columns(journal_snapshots.c.seq)).scalars())
    assert seqs == [records[29].seq, records[39].seq]
