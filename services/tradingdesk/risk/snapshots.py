"""Snapshots of real-time risk's state built from the routing journal, so a restart reads only what follows.

Without them the risk service reads routing's whole journal on every start (positions, open orders, P&L and the
breakers of every scope come from it), which grows with the day. The active replica takes a snapshot every
``spec.risk.snapshots.everyRecords`` journal records or ``everySeconds`` seconds, whichever comes first; a
replica that takes over loads the newest one and asks routing for the journal after its seq.

A snapshot is pickled on the event loop between two journal batches (the consistent copy: nothing changes the
state while it is pickled), then written off the loop into ``journal_snapshots`` of the risk service's own
schema, with the same checks as routing's (``storage/snapshots.py``): format, the code and configuration that
built the state, the routing journal's incarnation, and a SHA-256 over all of it and the body. The journal
record it covers (seq, time, kind) is checked once more against routing itself when the stream resumes: the
journal is read from that record, and a record that is not the one the snapshot covers (a journal restored from
a backup under the same incarnation) throws the snapshot away and reads the journal from its first event. A
snapshot that fails any check is skipped; the journal stays the truth.

Return samples (VaR) are not in it: they come from market data, which the service subscribes to afresh.
"""

from __future__ import annotations

import logging
import pickle
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, select

from tradingdesk.risk.monitor import OpenOrder, RealTimeRisk
from tradingdesk.spec.model import SnapshotSpec
from tradingdesk.storage.schema import journal_snapshots
from tradingdesk.storage.snapshots import (
    PICKLE_PROTOCOL,
    code_digest,
    load_restricted,
    row_problem,
    row_values,
    state_key,
)

log = logging.getLogger(__name__)

FORMAT = 1
"""The layout of a risk snapshot's body (pickle protocol 5 of a ``MonitorSnapshot``)."""
KEEP = 2
STATE_CODE = ("tradingdesk.core", "tradingdesk.risk.monitor", "tradingdesk.risk.snapshots", "tradingdesk.risk.scope")
"""The code whose classes a snapshot holds, or which builds them from journal events."""
JOURNAL_STATE = ("books", "open", "open_notional", "venue_errors", "latches", "_warned", "_breached", "marks")
"""What ``RealTimeRisk`` learns from the journal (``forget_journal`` resets these but ``marks``, and ``last_seq``),
and the marks: a fill marks its symbol while market data has not, and open orders take their arrival mark from
them. Market data moves the marks on once it is read again."""


@dataclass(slots=True)
class MonitorSnapshot:
    seq: int
    """The routing journal seq the state covers (records 1..seq applied)."""
    record_ts_ns: int
    record_kind: str
    incarnation: str
    """The routing journal it was read from."""
    state: dict[str, Any]
    """``JOURNAL_STATE`` attributes of the monitor, by name."""


@dataclass(frozen=True, slots=True)
class Covered:
    """The journal record a loaded snapshot covers, to be found again when routing's journal is read."""

    seq: int
    ts_ns: int
    kind: str


class JournalChanged(Exception):
    """Routing's journal is not the one a loaded snapshot was built from: read it again from its first event."""


def config_key(rt: RealTimeRisk) -> str:
    """The configuration the state depends on: sectors and lot sizes of the instruments."""
    return repr((sorted(rt.sectors.items()), sorted(rt.lot_sizes.items())))


class RiskSnapshots:
    """``load`` before reading the journal, ``maybe_take`` after each batch applied (active replica only)."""

    def __init__(self, db: Engine, *, rt: RealTimeRisk, spec: SnapshotSpec) -> None:
        self.db = db
        self.rt = rt
        self.spec = spec
        self.key = state_key(config_key(rt), code=code_digest(STATE_CODE))
        self.last_seq = 0
        self.last_pause_ms = 0.0
        """How long the last snapshot held the event loop (pickling)."""
        self._last_ns = time.monotonic_ns()

    @property
    def enabled(self) -> bool:
        return bool(self.spec.every_records or self.spec.every_seconds)

    # -- loading -----------------------------------------------------------------------------------------------
    def load(self) -> tuple[str, Covered] | None:
        """Put the newest valid snapshot into the (fresh) monitor: its journal incarnation and the record it
        covers, or None (read the journal from its first event)."""
        s = journal_snapshots
        with self.db.connect() as conn:
            seqs = list(conn.execute(select(s.c.seq).order_by(s.c.seq.desc())).scalars())
        for seq in seqs:
            try:
                snap = self._read(seq)
            except Exception as exc:  # whatever is wrong with it, the journal is read instead
                log.warning("risk snapshot at seq %d not used: %s: %s", seq, type(exc).__name__, exc)
                continue
            if snap is None:
                continue
            for name in JOURNAL_STATE:
                setattr(self.rt, name, snap.state[name])
            self.rt.open = {order_id: OpenOrder(*row) for order_id, row in snap.state["open"].items()}
            self.rt.last_seq = self.last_seq = snap.seq
            log.info("risk: state loaded from the snapshot at journal seq %d", snap.seq)
            return snap.incarnation, Covered(snap.seq, snap.record_ts_ns, snap.record_kind)
        return None

    def _read(self, seq: int) -> MonitorSnapshot | None:
        s = journal_snapshots
        with self.db.connect() as conn:
            row = conn.execute(select(s).where(s.c.seq == seq)).first()
        if row is None:
            return None
        problem = row_problem(row, fmt=FORMAT, key=self.key)
        if problem:
            log.warning("risk snapshot at seq %d not used: %s", seq, problem)
            return None
        snap = load_restricted(row.body, expected=MonitorSnapshot, code=STATE_CODE)
        if snap.seq != seq or set(snap.state) != set(JOURNAL_STATE):
            log.warning("risk snapshot at seq %d not used: its body does not hold the state at that seq", seq)
            return None
        return snap

    # -- taking ------------------------------------------------------------------------------------------------
    def due(self) -> bool:
        written = self.rt.last_seq - self.last_seq
        if written <= 0 or not self.enabled:
            return False
        if self.spec.every_records and written >= self.spec.every_records:
            return True
        return bool(self.spec.every_seconds) and (time.monotonic_ns() - self._last_ns) / 1e9 >= self.spec.every_seconds

    def capture(self, *, incarnation: str, record_ts_ns: int, record_kind: str) -> tuple[int, bytes, MonitorSnapshot]:
        """The monitor's state pickled now, on the thread that owns it: (seq, body, snapshot header)."""
        started = time.perf_counter()
        rt = self.rt
        snap = MonitorSnapshot(
            seq=rt.last_seq,
            record_ts_ns=record_ts_ns,
            record_kind=record_kind,
            incarnation=incarnation,
            state={name: getattr(rt, name) for name in JOURNAL_STATE},
        )
        # Open orders as plain tuples: pickling 100,000 slotted objects takes four times as long.
        snap.state["open"] = {
            order_id: (o.scopes, o.symbol, o.sign, o.leaves, o.price, o.arrival_mark) for order_id, o in rt.open.items()
        }
        body = pickle.dumps(snap, protocol=PICKLE_PROTOCOL)
        self.last_pause_ms = (time.perf_counter() - started) * 1e3
        self.last_seq, self._last_ns = snap.seq, time.monotonic_ns()
        return snap.seq, body, snap

    def save(self, seq: int, body: bytes, snap: MonitorSnapshot) -> None:
        """Write one snapshot and keep only the newest ``KEEP`` (off the event loop)."""
        s = journal_snapshots
        with self.db.begin() as conn:
            conn.execute(delete(s).where(s.c.seq >= seq))  # a journal read again from 1 reaches old seqs again
            conn.execute(
                s.insert().values(
                    row_values(
                        seq=seq,
                        incarnation=snap.incarnation,
                        ts_ns=snap.record_ts_ns,
                        kind=snap.record_kind,
                        fmt=FORMAT,
                        key=self.key,
                        body=body,
                    )
                )
            )
            kept = conn.execute(select(s.c.seq).order_by(s.c.seq.desc()).limit(KEEP)).scalars().all()
            conn.execute(delete(s).where(s.c.seq < kept[-1]))
        log.info(
            "risk: snapshot at journal seq %d (%d open orders, %.1f MB, %.0f ms on the loop)",
            seq,
            len(snap.state["open"]),
            len(body) / 1e6,
            self.last_pause_ms,
        )
