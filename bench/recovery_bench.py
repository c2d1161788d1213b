"""``recovery_<N>_events_s``: routing's restart with a journal of N events, from a journal snapshot plus the
records after it, against a full replay of the same journal (the baseline), in the same run.

The journal is real order flow from the order engine (orders resting, most of them cancelled, some filled: four
to five events an order; at most ``OPEN_KEPT`` left open, the oldest cancelled beyond), written to routing's
SQLite journal as it is generated. The snapshot sits ``TAIL`` records before the end
(twice the default ``spec.routing.snapshots.everyRecords``, 25,000: a restart further from its last snapshot than
any restart of a desk with the defaults),
taken by a routing service that recovered the journal up to there. Each figure is the time ``RoutingService.start``
takes on that database, in this process: schema check, snapshot load, replay, the journal writer taking over;
after it the service serves as soon as the risk service's first picture of limits arrives, which does not depend
on the journal. Both runs must recover the same orders and positions, or the benchmark fails.

``snapshot_pause_ms``: how long taking that snapshot held routing's event loop (a fork), against serializing the
same state on the loop (the baseline), same run.

``TD_BENCH_RECOVERY_EVENTS`` sets N (default 200,000, a quick run; the figure is named after it, e.g.
``recovery_10m_events_s`` for 10,000,000).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections import deque
from pathlib import Path

import grpc

from bench.report import figure
from tests.desk_runner import write_desk
from tests.unit.desk_fixtures import default_limits, make_desk, order
from tradingdesk.core.enums import Side
from tradingdesk.core.reject import Reject
from tradingdesk.oms.requests import OrderRef
from tradingdesk.oms.snapshot import capture
from tradingdesk.routing.service import RoutingService
from tradingdesk.spec.load import load_desk
from tradingdesk.storage import Journal, make_engine, migrate
from tradingdesk.storage.journal import JournalRecord
from tradingdesk.storage.schema import journal_snapshots
from tradingdesk.storage.snapshots import encode_state

EVENTS = int(os.environ.get("TD_BENCH_RECOVERY_EVENTS", "200000"))
TAIL = 50_000
OPEN_KEPT = 50_000
"""Resting orders the flow leaves open at most (its oldest are cancelled beyond): a busy desk's book, under
``spec.routing.maxOpenOrders`` (100,000), which would otherwise refuse every resting order after a few million
records."""
FINISHED_KEPT = 100_000
"""The generating engine's ``finished_orders_kept`` (routing's default)."""
WRITE_CHUNK = 100_000
"""Records handed to the journal before waiting for them to commit: a journal refuses more than 500,000 waiting
(``JournalFull``), which a slow disk or a loaded machine reached when the whole million went in at once."""


def figure_name(events: int) -> str:
    size = f"{events // 1_000_000}m" if events % 1_000_000 == 0 else f"{events // 1000}k"
    return f"recovery_{size}_events_s"


class SplitJournal:
    """The generating engine's journal: records up to ``head`` go straight into routing's journal (a chunk at a
    time, never more waiting than its bound), the rest are kept for the benchmark to write later. Nothing holds
    the whole flow: ten million records would not fit in memory as objects."""

    def __init__(self, dsn: str, *, head: int) -> None:
        self.journal = Journal(make_engine(dsn)).start()
        self.head = head
        self.seq = 0
        self.tail: list[JournalRecord] = []

    def append(self, kind: str, order_id: str, payload: dict, ts_ns: int, event: object = None) -> int:
        self.seq += 1
        if self.seq <= self.head:
            assert self.journal.append(kind, order_id, payload, ts_ns) == self.seq
            if self.seq % WRITE_CHUNK == 0:
                assert self.journal.flush(600)
        else:
            self.tail.append(JournalRecord(self.seq, ts_ns, kind, order_id, payload))
        return self.seq

    def close(self) -> None:
        assert self.journal.close(600)


def order_flow(journal: SplitJournal, events: int) -> None:
    """At least ``events`` journal records of real order flow, from the order engine with simulated venues (which
    retires finished orders as routing does, so it too runs in bounded memory)."""
    d = make_desk(
        default_limits(max_submits_per_second=0, reference_max_age_ms=10**9, max_order_notional=10**20),
        journal=journal,  # type: ignore[arg-type]  (its append is all the engine uses)
        venues=("xnys", "xnas", "bats"),
        finished_orders_kept=FINISHED_KEPT,
    )
    d.trade("AAPL", "189.50", "10")
    d.quote("AAPL", "189.49", "1000000", "189.51", "1000000")
    n = 0
    left_open: deque[tuple[str, str]] = deque()
    while journal.seq < events:
        batch = []
        for _ in range(200):
            n += 1
            account = ("ACC-EQ-1", "ACC-EQ-2")[n % 2]
            crossing = n % 10 == 0
            req = order(
                cl=f"b{n}",
                account=account,
                side=Side.BUY,
                qty="1",
                price="189.55" if crossing else f"{189.00 - (n % 50) / 100:.2f}",
            )
            with contextlib.suppress(Reject):  # a refusal journals nothing
                batch.append((account, d.engine.submit(req).order.order_id, crossing))
        d.settle()
        for i, (account, order_id, crossing) in enumerate(batch):
            if crossing:
                continue
            if i % 10:  # nine in ten resting orders cancelled, the rest stay open a while
                d.engine.cancel(OrderRef(account, order_id, ""))
            else:
                left_open.append((account, order_id))
        while len(left_open) > OPEN_KEPT:  # the oldest go, as a day's orders do: open orders do not pile up
            d.engine.cancel(OrderRef(*left_open.popleft(), ""))
        d.settle()


def write_journal(dsn: str, records: list) -> None:
    journal = Journal(make_engine(dsn)).start()
    for start in range(0, len(records), WRITE_CHUNK):  # never more waiting than the journal's bound
        for rec in records[start : start + WRITE_CHUNK]:
            journal.append(rec.kind, rec.order_id, rec.payload, rec.ts_ns)
        assert journal.flush(600)
    assert journal.close(600)


async def start_routing(desk, dsn: str) -> tuple[float, RoutingService]:
    service = RoutingService(desk, dsn=dsn)
    server = grpc.aio.server()
    began = time.perf_counter()
    await service.start(server)
    return time.perf_counter() - began, service


async def measure(tmp: Path, events: int) -> tuple[float, float, float, float]:
    def tune(doc: dict) -> None:
        doc["spec"]["risk"].update(maxSubmitsPerSecond=1_000_000)
        # the benchmark takes its one snapshot itself: the service's own (every 25,000 records by default) would race it
        doc["spec"]["routing"]["snapshots"] = {"everyRecords": 0, "everySeconds": 0}

    desk = load_desk(write_desk(tmp, tune))
    dsn = f"sqlite:///{tmp}/routing.db"
    migrate(make_engine(dsn))
    head = events - min(TAIL, events // 2)
    flow = SplitJournal(dsn, head=head)
    order_flow(flow, events)
    flow.close()
    tail = flow.tail[: events - head]
    _, first = await start_routing(desk, dsn)  # recovers up to the snapshot's seq, then takes one there
    assert first.snapshots is not None and first.journal is not None and first.durability is not None
    assert await first.snapshots.take(first.journal, first.durability) == head
    pause_ms = first.snapshots.last_pause_ms
    began = time.perf_counter()
    encode_state(capture(first.engine, seq=head))
    serialize_ms = (time.perf_counter() - began) * 1e3
    await first.stop()
    write_journal(dsn, tail)

    from_snapshot_s, restarted = await start_routing(desk, dsn)
    await restarted.stop()
    with make_engine(dsn).begin() as conn:
        conn.execute(journal_snapshots.delete())
    full_replay_s, replayed = await start_routing(desk, dsn)
    await replayed.stop()
    a, b = restarted.engine, replayed.engine
    assert a is not None and b is not None
    # at least the records written: the service journals its own too (DAY orders of a past session expired)
    assert restarted.applied_seq == replayed.applied_seq >= events, (restarted.applied_seq, replayed.applied_seq)
    assert (len(a.orders), a.open_count, a.positions.all()) == (len(b.orders), b.open_count, b.positions.all())
    return from_snapshot_s, full_replay_s, pause_ms, serialize_ms


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        from_snapshot_s, full_replay_s, pause_ms, serialize_ms = asyncio.run(measure(Path(tmp), EVENTS))
    return [
        figure(figure_name(EVENTS), from_snapshot_s, "s", full_replay_s),
        figure("snapshot_pause_ms", pause_ms, "ms", serialize_ms),
    ]


if __name__ == "__main__":
    run()
