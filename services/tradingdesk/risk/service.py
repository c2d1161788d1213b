"""The risk service assembled: owner of limits, trading states and the kill switch, watcher of real-time risk,
and the stream that keeps every routing gate current.

Inputs: the spec (limits and the desk's trading state at start), people (the gRPC servicer, the HTTP kill
switch, the CLI, the operator acting on ``spec.tradingState``), the routing journal (``StreamJournal``:
orders, fills, latches, decoded with the one event codec) and market data (marks). Outputs:
``StreamGateUpdates`` to every gate, ``StreamRiskEvents`` to people and monitoring, and the risk change journal
(who changed what, when and why), from which limits, states and latch releases are restored at start.

Reading order: ``state.py`` (every change, whichever door), ``servicer.py`` and ``http.py`` (the doors),
``monitor.py`` (real-time P&L, exposure, VaR and breakers), then this module (lifecycle and inputs).

One risk replica is active at a time: the one holding the change journal's writer lock (``storage/fence.py``).
Standbys refuse the RiskService calls (UNAVAILABLE, NOT_SERVING: not ready, so not behind the Kubernetes
Service) and wait for the lock; the moment the active replica's session ends, one of them restores the halts,
limits and latches from the change journal and serves.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time

import grpc

from tradingdesk.audit.access import QueuedAccessAudit
from tradingdesk.core.clock import Clock
from tradingdesk.core.enums import TradingState
from tradingdesk.core.event_codec import StreamDecoder, record_event
from tradingdesk.core.fixed import format_fixed, format_pnl, parse_fixed
from tradingdesk.core.gc_pause import collector_paused
from tradingdesk.edge.clock import desk_clock
from tradingdesk.edge.directory import ServiceDirectory
from tradingdesk.edge.standby import Standby
from tradingdesk.edge.upstream import Upstream
from tradingdesk.risk.held_back import HeldBackFile
from tradingdesk.risk.http import RiskHttpServer
from tradingdesk.risk.limits import Limits, StateEntry
from tradingdesk.risk.monitor import LOSS_METRICS, Finding, RealTimeRisk
from tradingdesk.risk.scope import DESK_SCOPE, ScopeKey, scope_label
from tradingdesk.risk.servicer import RiskServicer
from tradingdesk.risk.snapshots import Covered, JournalChanged, RiskSnapshots
from tradingdesk.risk.state import RiskState
from tradingdesk.risk.wire import scope_proto
from tradingdesk.spec.domain import data_dir, dsn_for, instruments_of, schema_for
from tradingdesk.spec.model import TradingDesk
from tradingdesk.storage.codec import decode_payload
from tradingdesk.storage.db import make_engine, prepare_schema
from tradingdesk.storage.fence import WriterFenced, exit_fenced
from tradingdesk.storage.risk_store import SESSION_CHECK_S, RiskChangeStore
from tradingdesk.telemetry import tracer
from tradingdesk.telemetry.journal_trace import record_spans
from tradingdesk.v1 import market_data_pb2, market_data_pb2_grpc, orders_pb2, orders_pb2_grpc, risk_pb2, risk_pb2_grpc

log = logging.getLogger(__name__)

EVALUATE_EVERY_S = 0.1
FINDING_KINDS = {
    "breach": risk_pb2.RISK_EVENT_KIND_BREACH,
    "warning": risk_pb2.RISK_EVENT_KIND_WARNING,
    "recovered": risk_pb2.RISK_EVENT_KIND_RECOVERED,
}
COUNT_METRICS = frozenset({"consecutive_losses", "venue_errors", "slippage"})  # shown as counts, not amounts


class RiskService:
    name = "risk"
    service_names = ("tradingdesk.v1.RiskService",)
    gated_names = service_names  # reported by ``standby``: SERVING only on the active replica

    def __init__(
        self,
        desk: TradingDesk,
        *,
        clock: Clock | None = None,
        dsn: str | None = None,
        directory: ServiceDirectory | None = None,
        environ: dict[str, str] | None = None,
    ) -> None:
        self.desk = desk
        self.environ = dict(os.environ if environ is None else environ)
        self.clock = clock or desk_clock(desk, self.environ, service=self.name)
        self.tracer = tracer("tradingdesk.risk")  # None while traces are off
        self.directory = directory or ServiceDirectory.for_desk(desk, self.environ)
        self.instruments = instruments_of(desk)
        self.db = make_engine(dsn or dsn_for(desk, "risk"), schema=schema_for(desk, "risk"))
        self.store = RiskChangeStore(
            self.db, on_fenced=lambda why: exit_fenced(self.name, f"the change journal is not this process's: {why}")
        )
        self.rt = RealTimeRisk(
            Limits.from_spec(desk.spec.risk),
            sectors={s: i.sector for s, i in self.instruments.items()},
            lot_sizes={s: i.lot_size for s, i in self.instruments.items()},
        )
        self.state = RiskState(
            desk,
            clock=self.clock,
            store=self.store,
            monitor=self.rt,
            accounts={a.name: frozenset(a.strategies) for a in desk.spec.accounts},
            held_back_file=HeldBackFile.in_directory(data_dir(desk, self.environ)),
        )
        self.servicer = RiskServicer(self.state, self.rt, self.instruments)
        self.journal_incarnation = ""
        """The routing journal the real-time monitor was built from."""
        self.snapshots = RiskSnapshots(self.db, rt=self.rt, spec=desk.spec.risk.snapshots)
        self._covered: Covered | None = None
        """The journal record the loaded snapshot covers, until routing's journal shows it again."""
        self._saving: asyncio.Task | None = None
        self.access_audit = QueuedAccessAudit(self.state.record_access, name="risk")
        """Access decisions about calls to risk (``audit.access``), into the risk change journal."""
        self.upstreams: list[Upstream] = []
        self._tasks: list[asyncio.Task] = []
        self.http: RiskHttpServer | None = None
        self.standby = Standby(self.service_names[0], "standby: another risk replica is active; retry")
        self.interceptors = (self.standby,)
        self._stopping = threading.Event()

    # -- lifecycle --------------------------------------------------------------------------------------------------
    async def start(self, server: grpc.aio.Server) -> None:
        problems = self.desk.spec.risk.cross_check(set(self.instruments), self.state.accounts)
        if problems:
            raise ValueError("invalid spec.risk: " + "; ".join(problems))
        await asyncio.to_thread(prepare_schema, self.db)
        risk_pb2_grpc.add_RiskServiceServicer_to_server(self.servicer, server)
        try:
            await asyncio.to_thread(self.store.hold, wait=False)
        except WriterFenced:
            log.info("risk: standby; another replica writes the change journal")
            self._tasks.append(asyncio.create_task(self._stand_by(), name="risk-standby"))
            return
        await self._lead()  # nobody else writes: active from the start

    async def _stand_by(self) -> None:
        try:
            await asyncio.to_thread(self.store.hold, stop=self._stopping)
        except WriterFenced:
            return  # stopping
        log.warning("risk: the active replica is gone; taking over")
        await self._lead()

    async def _lead(self) -> None:
        """This replica holds the writer lock: journal the halts a crashed predecessor held back during a database
        outage, restore halts, limits and latches, then serve."""
        await asyncio.to_thread(self.state.journal_left_behind)
        await asyncio.to_thread(self.state.restore)
        with collector_paused():  # the snapshot's objects are all long-lived: collecting finds nothing to free
            loaded = await asyncio.to_thread(self.snapshots.load)
        if loaded is not None:
            self.journal_incarnation, self._covered = loaded
        self.upstreams = [
            Upstream("journal", self.directory.address("routing"), self._consume_journal),
            Upstream("market-data", self.directory.address("feeds"), self._consume_market_data),
        ]
        for up in self.upstreams:
            up.start()
        self._tasks.append(asyncio.create_task(self._tick(), name="risk-evaluate"))
        self._tasks.append(asyncio.create_task(self._watch_session(), name="risk-writer-session"))
        self.access_audit.start()
        port = self.desk.spec.risk.http_port
        if port:
            self.http = RiskHttpServer(self.state, self._http_host(), port, self.environ)
            if self.http.access is not None:  # the HTTP kill switch's denied and privileged calls: audited too
                self.http.access.access_log.forward(self.access_audit.record_access, asyncio.get_running_loop())
            await self.http.start()
        await self.standby.activate()
        log.info("risk: active")

    async def _watch_session(self) -> None:
        """Find a lost writer session while nothing is written: after a database restart or outage the lock is
        taken back within ``SESSION_CHECK_S`` of the database answering, and if another replica took over
        meanwhile this one is fenced off then (``exit_fenced``), not at its next change. Halts applied while the
        database did not answer are journaled as soon as it does."""
        while True:
            await asyncio.sleep(SESSION_CHECK_S)
            try:
                if self.state.held_back:
                    await asyncio.to_thread(self.state.write_held_back)
                await asyncio.to_thread(self.store.check_session)
            except WriterFenced:
                return  # on_fenced has ended the process
            except Exception as exc:  # the database does not answer yet: the next check tries again
                log.debug("risk: the change journal's writer session is not back yet: %s", exc)

    def bind_health(self, servicer) -> None:
        self.standby.bind_health(servicer)

    def _http_host(self) -> str:
        bind = self.environ.get("TD_BIND")
        if bind:
            return bind.rsplit(":", 1)[0] or "0.0.0.0"
        return self.desk.spec.services.risk.host

    async def drain(self) -> None:
        """End the gate and event streams at shutdown; gates reconnect to the next risk instance by themselves."""
        self.state.end_streams()

    async def stop(self) -> None:
        self._stopping.set()
        if self.http is not None:
            await self.http.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for up in self.upstreams:
            await up.stop()
        await self.access_audit.stop()
        self.store.release()
        self.db.dispose()

    @property
    def limits(self) -> Limits:
        return self.state.limits

    def state_of(self, scope: ScopeKey) -> StateEntry:
        return self.state.state_of(scope)

    # -- real-time inputs -------------------------------------------------------------------------------------------
    async def _consume_journal(self, channel: grpc.aio.Channel) -> None:
        """Follow the routing journal. Its first message names the journal (incarnation) and how far it goes: a
        different journal (routing on a fresh database), or the same one behind what was read (restored from a
        backup), is read again from its first event, after forgetting what the old one said; an event is never
        skipped because an older journal already used its seq."""
        stub = orders_pb2_grpc.OrderServiceStub(channel)
        rt = self.rt
        covered = self._covered  # read from the record the snapshot covers, to see it is the same record
        from_seq = covered.seq if covered is not None and covered.seq == rt.last_seq else rt.last_seq + 1
        stream = stub.StreamJournal(orders_pb2.StreamJournalRequest(from_seq=from_seq))
        header = await anext(aiter(stream))
        if rt.last_seq and (header.incarnation != self.journal_incarnation or header.durable_seq < rt.last_seq):
            stream.cancel()
            self._read_journal_again(header.incarnation, header.durable_seq)
            stream = stub.StreamJournal(orders_pb2.StreamJournalRequest(from_seq=1))
            header = await anext(aiter(stream))
        self.journal_incarnation = header.incarnation
        decoder = StreamDecoder()
        async for batch in stream:
            now = self.clock.now_ns()
            started_ns = time.time_ns()
            for ev in batch.events:
                if self._covered is not None:
                    self._check_covered(ev)
                if ev.seq <= rt.last_seq:
                    continue
                event = decoder.decode(ev.kind, ev.order_id, ev.ts_ns, decode_payload(ev.payload_json))
                rt.on_event(ev.seq, event, now)
            if rt.pending:
                await self.evaluate()
            if batch.events and self.snapshots.due() and (self._saving is None or self._saving.done()):
                last = batch.events[-1]
                if last.seq == rt.last_seq:
                    self._save_snapshot(record_ts_ns=last.ts_ns, record_kind=last.kind)
            if self.tracer is not None:
                traced = ((ev.traceparent, {"tradingdesk.journal.seq": ev.seq, "tradingdesk.journal.kind": ev.kind})
                          for ev in batch.events if ev.traceparent)  # fmt: skip
                record_spans(self.tracer, "real-time risk", traced, start_ns=started_ns, end_ns=time.time_ns())

    def _check_covered(self, ev: orders_pb2.JournalEvent) -> None:
        """The first record routing sends after a snapshot was loaded must be the one it covers."""
        covered, self._covered = self._covered, None
        assert covered is not None
        if (ev.seq, ev.ts_ns, ev.kind) == (covered.seq, covered.ts_ns, covered.kind):
            return
        why = (
            f"the routing journal's record {ev.seq} ({ev.kind}) is not the record {covered.seq} ({covered.kind}) the "
            "risk snapshot covers: real-time risk is rebuilt from the journal's first event"
        )
        log.error("risk: %s", why)
        self.state.emit(risk_pb2.RISK_EVENT_KIND_WARNING, DESK_SCOPE, why, metric="journal")
        self.rt.forget_journal()
        self.snapshots.last_seq = 0
        raise JournalChanged(why)  # the upstream reconnects and reads from seq 1

    def _save_snapshot(self, *, record_ts_ns: int, record_kind: str) -> None:
        """Pickle the monitor now (on the loop, between two batches), write it off the loop."""
        seq, body, snap = self.snapshots.capture(
            incarnation=self.journal_incarnation, record_ts_ns=record_ts_ns, record_kind=record_kind
        )

        async def save() -> None:
            try:
                await asyncio.to_thread(self.snapshots.save, seq, body, snap)
            except Exception:  # a failed snapshot costs a longer restart, never a control
                log.exception("risk: snapshot at journal seq %d failed; the journal still holds everything", seq)

        self._saving = asyncio.create_task(save(), name="risk-snapshot")

    def _read_journal_again(self, incarnation: str, durable_seq: int) -> None:
        """Say loudly that the journal changed under us, then start over from its first event."""
        rt = self.rt
        if incarnation != self.journal_incarnation:
            why = (
                f"the routing journal is a new one (incarnation {incarnation}, was {self.journal_incarnation}): "
                f"real-time risk is rebuilt from its first event"
            )
        else:
            why = (
                f"the routing journal went back from seq {rt.last_seq} to {durable_seq} (restored?): "
                "real-time risk is rebuilt from its first event"
            )
        log.error("risk: %s", why)
        self.state.emit(risk_pb2.RISK_EVENT_KIND_WARNING, DESK_SCOPE, why, metric="journal")
        rt.forget_journal()
        self._covered = None
        self.snapshots.last_seq = 0

    def apply_journal(self, records, now_ns: int | None = None) -> None:
        """Apply journal records directly (tests and tools that replay a journal without a routing service)."""
        now = self.clock.now_ns() if now_ns is None else now_ns
        for rec in records:
            self.rt.on_event(rec.seq, record_event(rec), now)

    async def _consume_market_data(self, channel: grpc.aio.Channel) -> None:
        """Marks: last trades, and a quote's last price until a trade arrives (stale quotes are no marks)."""
        stub = market_data_pb2_grpc.MarketDataServiceStub(channel)
        rt = self.rt
        async for batch in stub.SubscribeBatches(market_data_pb2.SubscribeRequest()):
            for event in batch.events:
                which = event.WhichOneof("event")
                if which == "trade":
                    rt.on_mark(event.trade.symbol, parse_fixed(event.trade.price))
                elif which == "quote":
                    q = event.quote
                    if q.last_price and not q.stale and q.symbol not in rt.marks:
                        rt.on_mark(q.symbol, parse_fixed(q.last_price))

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(EVALUATE_EVERY_S)
            try:
                self.rt.sample(self.clock.now_ns())
                await self.evaluate()
            except Exception:
                log.exception("risk evaluation failed")

    async def evaluate(self) -> list[Finding]:
        """Judge the limits now: publish breaches, warnings and recoveries; halt what a breach halts."""
        state = self.state
        findings = self.rt.evaluate(self.clock.now_ns())
        for f in findings:
            scope = f.scope
            if f.metric == "repeated_execution":
                state.emit(
                    risk_pb2.RISK_EVENT_KIND_LATCH,
                    scope,
                    f"{scope_label(scope)} latched off: {f.message}",
                    metric=f.metric,
                )
                latch = risk_pb2.LatchInfo(
                    scope=scope_proto(scope),
                    control=f.metric,
                    reason=f.message,
                    changed_ns=self.rt.latches.get(scope, (0, ""))[0],
                )
                state.broadcast(risk_pb2.GateUpdate(latches=[latch]))
                continue
            value = f.value if isinstance(f.value, int) else round(f.value)
            counted = f.metric in COUNT_METRICS
            state.emit(
                FINDING_KINDS[f.kind],
                scope,
                f.message,
                metric=f.metric,
                value=_event_amount(f.metric, value),
                limit=str(f.limit) if counted else format_fixed(f.limit),
            )
            if f.halt and state.state_of(scope).state != TradingState.HALTED:
                await state.halt_for_breach(scope, f.metric, f.message)
        return findings


def _event_amount(metric: str, value: int) -> str:
    """A finding's value on a RiskEvent: counts as they are, losses rounded like P&L, amounts exact."""
    if metric in COUNT_METRICS:
        return str(value)
    return format_pnl(value) if metric in LOSS_METRICS else format_fixed(value)
