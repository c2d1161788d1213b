"""Journal snapshots in a real database (SQLite, PostgreSQL): a restart loads the newest valid snapshot and replays
only the records after it; a corrupt, truncated, version-mismatched, foreign or missing snapshot falls back (to
the one before, or to a full replay) and never to a wrong state; a process killed while writing one leaves the
previous one loadable."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, update

from tests.integration.test_storage import SERVICES_DIR, Backend, backend  # noqa: F401 - the fixture, on both databases
from tests.unit.desk_fixtures import Desk, order
from tests.unit.test_journal_snapshots import (
    flow_in_every_state,
    from_journal,
    marked,
    recoverable_state,
    twin,
)
from tradingdesk.core.enums import Side
from tradingdesk.oms.snapshot import capture
from tradingdesk.routing.snapshots import RoutingSnapshots, _collect
from tradingdesk.spec.model import SnapshotSpec
from tradingdesk.storage import Journal, migrate
from tradingdesk.storage.incarnation import journal_incarnation
from tradingdesk.storage.journal import read_journal
from tradingdesk.storage.schema import journal_snapshots
from tradingdesk.storage.snapshots import SNAPSHOT_FORMAT, encode_state


@pytest.fixture
def db(backend: Backend) -> Engine:  # noqa: F811
    """A migrated database of each backend."""
    engine = backend.engine()
    migrate(engine)
    return engine


def copy_journal(d: Desk, db: Engine, upto: int | None = None, *, start: int = 0) -> None:
    """The desk's journal records (``start``..``upto``) into the database's journal, durably."""
    journal = Journal(db).start()
    for rec in d.journal.records[start:upto]:
        journal.append(rec.kind, rec.order_id, rec.payload, rec.ts_ns)
    assert journal.close(30)


def snapshots_of(db: Engine, d: Desk) -> RoutingSnapshots:
    return RoutingSnapshots(db, engine=d.engine, spec=SnapshotSpec(), incarnation=journal_incarnation(db), extra=dict)


def save_snapshot(db: Engine, d: Desk) -> int:
    """What the active replica does: capture at the last seq, then store it (the records are durable)."""
    seq = len(d.journal.records)
    assert snapshots_of(db, d).store.save(seq, encode_state(capture(d.engine, seq=seq)))
    return seq


def restart(db: Engine) -> tuple[Desk, int]:
    """What routing does at start: the newest valid snapshot, then the records after it. Returns the engine and
    the seq it started replaying after (0: a full replay)."""
    d = twin()
    loaded = snapshots_of(db, d).load()
    after = loaded.state.seq if loaded is not None else 0
    d.engine.rebuild(list(read_journal(db, after + 1)))
    return d, after


def live_desk_with_snapshot(db: Engine) -> tuple[Desk, int]:
    """Orders in every state, a snapshot, then more orders (journaled after the snapshot)."""
    d = flow_in_every_state()
    d.settle()
    copy_journal(d, db)
    seq = save_snapshot(db, d)
    for i in range(5):
        d.engine.submit(order(cl=f"later-{i}", side=Side.SELL, qty="2", price=f"{100.2 + i / 100:.2f}"))
    d.engine.submit(order(cl="later-fill", qty="50", price="100.25", account="ACC2"))
    d.settle()
    copy_journal(d, db, start=seq)
    return d, seq


def test_restart_from_a_snapshot_replays_only_what_follows_and_reaches_the_full_replay_state(db: Engine) -> None:
    d, seq = live_desk_with_snapshot(db)
    restarted, after = restart(db)
    assert after == seq > 0
    full = from_journal(list(read_journal(db)))
    assert recoverable_state(marked(restarted)) == recoverable_state(marked(full))
    assert len(restarted.engine.orders) == len(d.engine.orders)


def flip_byte(body: bytes) -> bytes:
    middle = len(body) // 2
    return body[:middle] + bytes([body[middle] ^ 0x40]) + body[middle + 1 :]


BAD_SNAPSHOTS: dict[str, tuple[dict[str, Callable[[bytes], object] | object], str]] = {
    "corrupt": ({"body": flip_byte}, "checksum mismatch"),
    "truncated": ({"body": lambda body: body[: len(body) // 3]}, "checksum mismatch"),
    "newer format": ({"format": SNAPSHOT_FORMAT + 1}, f"this reader knows {SNAPSHOT_FORMAT}"),
    "other code": ({"state_key": "0" * 64}, "written by other code"),
    "other journal": ({"incarnation": "another-incarnation"}, "journal incarnation"),
    "other record at its seq": ({"record_ts_ns": 1}, "not the one it covers"),
}


def spoil(db: Engine, seq: int, change: dict) -> None:
    s = journal_snapshots
    with db.begin() as conn:
        body = conn.execute(s.select().where(s.c.seq == seq)).one().body
        values = {k: (v(body) if callable(v) else v) for k, v in change.items()}
        conn.execute(update(s).where(s.c.seq == seq).values(**values))


@pytest.mark.parametrize("what", list(BAD_SNAPSHOTS))
def test_a_bad_snapshot_falls_back_to_a_full_replay_and_the_same_state(
    db: Engine, what: str, caplog: pytest.LogCaptureFixture
) -> None:
    _, seq = live_desk_with_snapshot(db)
    change, reason = BAD_SNAPSHOTS[what]
    spoil(db, seq, change)
    with caplog.at_level(logging.WARNING, logger="tradingdesk.storage.snapshots"):
        restarted, after = restart(db)
    assert after == 0
    assert f"journal snapshot at seq {seq} not used" in caplog.text and reason in caplog.text
    full = from_journal(list(read_journal(db)))
    assert recoverable_state(marked(restarted)) == recoverable_state(marked(full))


def test_a_bad_newest_snapshot_falls_back_to_the_one_before(db: Engine) -> None:
    d, first = live_desk_with_snapshot(db)
    second = save_snapshot(db, d)
    assert snapshots_of(db, d).store.seqs() == [second, first]
    spoil(db, second, {"body": flip_byte})
    restarted, after = restart(db)
    assert after == first
    full = from_journal(list(read_journal(db)))
    assert recoverable_state(marked(restarted)) == recoverable_state(marked(full))


def test_no_snapshot_is_a_full_replay(db: Engine) -> None:
    d = flow_in_every_state()
    d.settle()
    copy_journal(d, db)
    restarted, after = restart(db)
    assert after == 0
    assert recoverable_state(marked(restarted)) == recoverable_state(marked(from_journal(d.journal.records)))


def test_only_the_newest_two_snapshots_are_kept(db: Engine) -> None:
    d = flow_in_every_state()
    d.settle()
    copy_journal(d, db)
    store = snapshots_of(db, d).store
    body = b"state"
    for seq in (3, 5, 8):
        assert store.save(seq, body)
    assert store.seqs() == [8, 5]
    assert not store.save(len(d.journal.records) + 1, body)  # no such record: nothing written


KILLED_MID_WRITE = textwrap.dedent(
    """
    import os, signal, sys
    from sqlalchemy import event
    from tradingdesk.storage import make_engine
    from tradingdesk.storage.incarnation import journal_incarnation
    from tradingdesk.storage.snapshots import SnapshotStore

    db = make_engine(sys.argv[1])
    store = SnapshotStore(db, incarnation=journal_incarnation(db), key=sys.argv[2])
    body = open(sys.argv[4], "rb").read()
    # The snapshot's row is written (and the older ones deleted); the process dies before the commit.
    event.listen(db, "commit", lambda conn: os.kill(os.getpid(), signal.SIGKILL))
    print("writing", flush=True)
    store.save(int(sys.argv[3]), body)
    """
)


def test_a_process_killed_while_writing_a_snapshot_leaves_the_previous_one_loadable(db: Engine, tmp_path) -> None:
    d, first = live_desk_with_snapshot(db)
    last = len(d.journal.records)
    assert last > first
    body_file = tmp_path / "body"
    body_file.write_bytes(encode_state(capture(d.engine, seq=last)))
    key = snapshots_of(db, d).store._key
    env = {**os.environ, "PYTHONPATH": str(SERVICES_DIR)}
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            KILLED_MID_WRITE,
            db.url.render_as_string(hide_password=False),
            key,
            str(last),
            str(body_file),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert "writing" in proc.stdout
    assert snapshots_of(db, d).store.seqs() == [first]
    restarted, after = restart(db)
    assert after == first
    full = from_journal(list(read_journal(db)))
    assert recoverable_state(marked(restarted)) == recoverable_state(marked(full))


def test_a_serializing_child_that_hangs_is_killed_and_the_next_one_works(db: Engine) -> None:
    """A fork of a threaded process can leave the child waiting on a lock for ever: it is killed after the
    timeout, the snapshot fails (the journal still holds everything), and the next child serializes as usual."""
    d, _ = live_desk_with_snapshot(db)
    seq = len(d.journal.records)
    hang = threading.Event()  # never set: the child waits on it (in the child, the parent's threads are gone)

    def hanging() -> dict:
        hang.wait()
        return {}

    stuck = RoutingSnapshots(db, engine=d.engine, spec=SnapshotSpec(), incarnation="x", extra=hanging)
    pid, pipe = stuck._fork_serializer(seq)
    with pytest.raises(RuntimeError, match=rf"process {pid} took over 0.5 s: killed"):
        _collect(pid, pipe, timeout_s=0.5)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped: no zombie left

    pid, pipe = snapshots_of(db, d)._fork_serializer(seq)
    body = _collect(pid, pipe, timeout_s=60)
    assert body == encode_state(capture(d.engine, seq=seq))
