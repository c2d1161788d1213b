"""The compliance service: records every source journal into the tamper-evident audit log, and serves it; and
watches the desk's market conduct (``conduct.py``: surveillance, whose alerts it records in the same log,
execution quality and the CAT export, served by ``conduct_rpcs.py``).

Each event of a source becomes one record of an RFC 9162 Merkle log (``compliance/trail.py``), sealed in
signed segments into the audit bucket. The sources (``compliance/sources.py``) are routing's order journal and
the risk service's change journal; compliance also records its own events, the operator's actions on the desk
(``RecordOperatorAction``) and the access decisions of services without a journal (``RecordAccess``).

Records carry their source's incarnation, and each source is read on its own, so two histories are never merged:

- A source with a new incarnation (a fresh database) is recorded from its seq 1, after a
  ``journal_incarnation`` record naming the source and the incarnation before.
- The same incarnation, but behind what was recorded (restored from an old backup), with a different event
  at the last recorded seq (a fork), or skipping a seq: compliance refuses that source. Its health
  (``tradingdesk.v1.ComplianceService``, which monitoring probes and alerts on) goes NOT_SERVING, the reason is
  logged at ERROR, served by ``GetCheckpoint.refusing`` and written into the log itself (a ``source_refused``
  record, once per reason); nothing is dropped or skipped. It checks again on every reconnect, so a source that
  catches up with the same history is recorded again by itself. The other sources go on being recorded.
- An incarnation recorded before and superseded since (an old volume attached again) is refused the same way.

It resumes each source from the last seq in its log, re-reading that one event to check it is the same history.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import deque
from dataclasses import dataclass, field
from functools import partial

import grpc
from grpc_health.v1 import health_pb2

from tradingdesk.audit.access import QueuedAccessAudit
from tradingdesk.audit.bucket import bucket_for_desk
from tradingdesk.audit.keys import load_signer
from tradingdesk.audit.merkle import ProofError, consistency_proof, inclusion_proof, leaf_hash, root_hash
from tradingdesk.audit.record import (
    KIND_ACCESS,
    KIND_INCARNATION,
    KIND_OPERATOR_ACTION,
    KIND_SEAL,
    KIND_SOURCE_REFUSED,
    SOURCE_JOURNAL,
    Entry,
    RecordError,
    decode_record,
)
from tradingdesk.audit.record import (
    SOURCES as RECORD_SOURCES,
)
from tradingdesk.compliance.conduct import ConductWatch
from tradingdesk.compliance.conduct_rpcs import ConductRpcs
from tradingdesk.compliance.metrics import ComplianceMetrics
from tradingdesk.compliance.service_events import (
    compliance_item,
    own_refusal_item,
    request_fields,
    service_event_items,
)
from tradingdesk.compliance.sources import SOURCES, Source, first_message
from tradingdesk.compliance.trail import AuditTrail, Indexed, SealFailed, checkpoint_of
from tradingdesk.core.clock import Clock
from tradingdesk.core.event_codec import encode_access
from tradingdesk.core.events import AccessDecision
from tradingdesk.core.reject import Reject, invalid, not_found, refused
from tradingdesk.edge.clock import desk_clock
from tradingdesk.edge.directory import ServiceDirectory
from tradingdesk.edge.door import door_of
from tradingdesk.edge.refusals import bounded
from tradingdesk.edge.status import abort
from tradingdesk.edge.upstream import Upstream
from tradingdesk.markets.calendar_source import desk_calendars
from tradingdesk.security import channels
from tradingdesk.spec.domain import data_dir, dsn_for, schema_for
from tradingdesk.spec.model import TradingDesk
from tradingdesk.storage.audit_store import AuditStore, JournalPosition
from tradingdesk.storage.conduct_store import ConductStore
from tradingdesk.storage.db import make_engine, prepare_schema
from tradingdesk.telemetry import tracer
from tradingdesk.telemetry.journal_trace import record_spans
from tradingdesk.v1 import compliance_pb2, compliance_pb2_grpc

log = logging.getLogger(__name__)
MAX_QUERY = 10_000
MAX_SEQ = 2**63 - 1
BATCH = 2_000
REFUSAL_RECHECK_S = 5.0
SEAL_DEFAULT_TIMEOUT_S = 30.0
TEXT_MAX = 1_000
NAME_MAX = 253
MAX_ACCESS_BATCH = 10_000
OPERATOR_ACTIONS = frozenset({"apply", "change", "resume", "repair", "delete"})
_SPEC_HASH = re.compile(r"[0-9a-f]{0,64}")


class SourceRefused(Exception):
    """A source is not a continuation of what was recorded: stop recording it, loudly."""


@dataclass
class SourceState:
    """How far one source is recorded, and whether compliance refuses it."""

    source: Source
    position: JournalPosition | None = None
    incarnations: list[str] = field(default_factory=list)
    refusing: str = ""
    reported: str = ""
    """The refusal last written into the log (one ``source_refused`` record per reason)."""
    upstream: Upstream | None = None

    @property
    def name(self) -> str:
        return self.source.name


def _access_item(service: str, decision: AccessDecision) -> Indexed:
    """An ``access`` record of compliance's own, for a decision ``service`` made."""
    return compliance_item(KIND_ACCESS, {"service": service, **encode_access(decision)}, decision.ts_ns)


class ComplianceService(ConductRpcs, compliance_pb2_grpc.ComplianceServiceServicer):
    name = "compliance"
    service_names = ("tradingdesk.v1.ComplianceService",)

    def __init__(
        self,
        desk: TradingDesk,
        *,
        directory: ServiceDirectory | None = None,
        dsn: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.desk = desk
        self.directory = directory or ServiceDirectory.for_desk(desk)
        # A query index derived from the log: after a machine crash it is re-indexed from the spool.
        self.db = make_engine(dsn or dsn_for(desk, "compliance"), durable=False, schema=schema_for(desk, "compliance"))
        self.store = AuditStore(self.db)
        spec = desk.spec.compliance
        home = data_dir(desk)
        self.trail = AuditTrail(
            spool_dir=home / "audit-spool",
            index=self.store,
            bucket=bucket_for_desk(desk),
            signer=partial(load_signer, desk_name=desk.name, data_dir=home),
            cadence=spec.checkpoints,
            retention_days=spec.audit_bucket.retention_days,
        )
        self.trail.on_problem = lambda _reason: self._publish_health()
        self.accounts = {a.name for a in desk.spec.accounts}
        self.symbols = {i.symbol for i in desk.spec.instruments}
        self.sources = {source.name: SourceState(source) for source in SOURCES}
        self.access_audit = QueuedAccessAudit(self._write_access, name="compliance")
        """Access decisions about calls to compliance (``audit.access``), written into the log directly."""
        journal = self.sources[SOURCE_JOURNAL]
        self.metrics = ComplianceMetrics(
            mirrored_seq=lambda: journal.position.seq if journal.position is not None else 0,
            connected=lambda: journal.upstream is not None and journal.upstream.connected,
        )
        self.tracer = tracer("tradingdesk.compliance")  # None while traces are off
        self.trail.on_seal_failure = self.metrics.seal_failed
        self._health = None
        self._health_tasks: set[asyncio.Task] = set()
        self.clock = clock or desk_clock(desk, service=self.name)
        self.conduct_store = ConductStore(self.db)
        self.timezone = "America/New_York"
        self.conduct: ConductWatch | None = None

    # ---------------------------------------------------------------- lifecycle

    async def start(self, server: grpc.aio.Server) -> None:
        await asyncio.to_thread(prepare_schema, self.db)
        await self.trail.start()
        for state in self.sources.values():
            state.position = await asyncio.to_thread(self.store.position, state.name)
            state.incarnations = await asyncio.to_thread(self.store.incarnations, state.name)
        compliance_pb2_grpc.add_ComplianceServiceServicer_to_server(self, server)
        self.access_audit.start()
        for state in self.sources.values():
            address = self.directory.address(state.source.service)
            state.upstream = Upstream(f"audit-{state.name}", address, partial(self._consume, state))
            state.upstream.start()
        calendars = await asyncio.to_thread(desk_calendars, self.desk)
        self.timezone = calendars[self.desk.spec.instruments[0].symbol].timezone
        self.conduct = ConductWatch(
            self.desk,
            store=self.conduct_store,
            clock=self.clock,
            calendars=calendars,
            directory=self.directory,
            trail=self.trail,
        )
        await self.conduct.start()

    def bind_health(self, servicer) -> None:
        """Report the audit trail's health for ``tradingdesk.v1.ComplianceService`` (what monitoring probes and
        alerts on). Only the named service flips: the process (service "") stays SERVING, so it is not
        restarted for a problem a restart cannot fix, and ``GetCheckpoint`` can still tell why."""
        self._health = servicer
        self._publish_health()

    def _publish_health(self) -> None:
        if self._health is None:
            return
        status = health_pb2.HealthCheckResponse.NOT_SERVING if self.problem else health_pb2.HealthCheckResponse.SERVING
        task = asyncio.get_running_loop().create_task(self._health.set(self.service_names[0], status))
        self._health_tasks.add(task)
        task.add_done_callback(self._health_tasks.discard)

    @property
    def problem(self) -> str:
        """Every reason compliance refuses a source or cannot seal; empty while all is well."""
        reasons = [s.refusing for s in self.sources.values() if s.refusing]
        if self.trail.problem:
            reasons.append(self.trail.problem)
        return "; ".join(reasons)

    @property
    def position(self) -> JournalPosition | None:
        """Where the order journal is recorded."""
        return self.sources[SOURCE_JOURNAL].position

    @property
    def incarnations(self) -> list[str]:
        """The order journal's incarnations in the log."""
        return self.sources[SOURCE_JOURNAL].incarnations

    def _refuse(self, state: SourceState, reason: str) -> None:
        if reason != state.refusing:
            log.error("compliance refuses the %s source: %s", state.name, reason)
            state.refusing = reason
            self._publish_health()
        raise SourceRefused(reason)

    def _accepted(self, state: SourceState) -> None:
        if state.refusing:
            log.warning("compliance records the %s source again (was: %s)", state.name, state.refusing)
            state.refusing = state.reported = ""
            self._publish_health()

    async def stop(self) -> None:
        if self.conduct is not None:
            await self.conduct.stop()
        for state in self.sources.values():
            if state.upstream is not None:
                await state.upstream.stop()
        await self.access_audit.stop()
        await self.trail.stop()
        self.db.dispose()

    # ---------------------------------------------------------------- the sources

    async def _consume(self, state: SourceState, channel: grpc.aio.Channel) -> None:
        try:
            await self._record_source(state, channel)
        except SourceRefused as refusal:
            await self._report_refusal(state, str(refusal))
            await asyncio.sleep(REFUSAL_RECHECK_S)  # then the upstream reconnects and checks again

    async def _report_refusal(self, state: SourceState, reason: str) -> None:
        """The refusal goes into the log too (once per reason): the trail shows when and why a source stopped
        being recorded, next to what was recorded of it."""
        if reason == state.reported:
            return
        pos = state.position
        payload = {
            "source": state.name,
            "reason": reason,
            "recorded_incarnation": pos.incarnation if pos else "",
            "recorded_seq": pos.seq if pos else 0,
        }
        await self._append_own(KIND_SOURCE_REFUSED, payload, incarnation=pos.incarnation if pos else "")
        state.reported = reason

    async def _record_source(self, state: SourceState, channel: grpc.aio.Channel) -> None:
        """Check the source is the history we recorded (or a new one), then record it in batches: whatever
        arrived while the last batch was being written goes into the next one."""
        source = state.source
        pos = state.position
        # Re-read the last recorded event (if any) to check the source still holds the same one there.
        from_seq = pos.seq if pos is not None and pos.seq else 1
        call = source.open(channel, from_seq)
        header = source.header(await first_message(call))
        incarnation = header.incarnation
        if not incarnation:
            self._refuse(state, f"the {source.service} service sends no incarnation: it predates incarnations")
        if pos is None or incarnation != pos.incarnation:
            if incarnation in state.incarnations:
                self._refuse(
                    state,
                    f"{state.name} incarnation {incarnation} was recorded before and superseded by "
                    f"{pos.incarnation if pos else '?'}: an old journal is back; refusing to merge two histories",
                )
            await self._start_incarnation(state, incarnation, pos)
            if from_seq != 1:
                call.cancel()
                return  # reconnect from seq 1 of the new journal
            pos = state.position
            assert pos is not None
        elif header.last_seq < pos.seq:
            self._refuse(
                state,
                f"{state.name} {incarnation} went backwards: it ends at seq {header.last_seq}, "
                f"the audit log already holds seq {pos.seq}",
            )
        queue: asyncio.Queue[list[Indexed] | None] = asyncio.Queue(8)
        writer = asyncio.create_task(self._write_batches(state, queue))
        expect = pos.seq + 1
        checked = pos.seq == 0
        try:
            async for message in call:
                items: list[Indexed] = []
                for item in source.items(message, incarnation):
                    entry = item.entry
                    if not checked:
                        await self._check_same_event(state, entry, pos)
                        checked = True
                        continue
                    if entry.seq != expect:
                        self._refuse(state, f"{state.name} {incarnation} skipped from seq {expect - 1} to {entry.seq}")
                    expect += 1
                    items.append(item)
                if items:
                    self._accepted(state)
                    await queue.put(items)
                    if writer.done():  # it failed: stop reading, the finally below raises its error
                        break
                if checked:
                    self._accepted(state)
        finally:
            await queue.put(None)
            await writer

    async def _check_same_event(self, state: SourceState, entry: Entry, pos: JournalPosition) -> None:
        raw = await asyncio.to_thread(self.store.record_at, pos.log_index)
        try:
            rec = decode_record(raw.encode()) if raw else None
        except RecordError:
            rec = None
        same = (
            rec is not None
            and (entry.seq, entry.ts_ns, entry.kind, entry.order_id) == (rec.seq, rec.ts_ns, rec.kind, rec.order_id)
            and json.loads(entry.payload_json or "{}") == rec.payload
        )
        if not same:
            self._refuse(
                state,
                f"{state.name} {pos.incarnation} forked: its event at seq {pos.seq} differs from the one recorded "
                f"(log index {pos.log_index})",
            )

    async def _start_incarnation(self, state: SourceState, incarnation: str, previous: JournalPosition | None) -> None:
        payload = {
            "source": state.name,
            "previous": previous.incarnation if previous else "",
            "previous_last_seq": previous.seq if previous else 0,
        }
        index = await self._append_own(KIND_INCARNATION, payload, incarnation=incarnation)
        state.incarnations.append(incarnation)
        state.position = JournalPosition(incarnation, 0, index)
        log.warning(
            "compliance: recording %s incarnation %s (previous %s, last seq %d)",
            state.name,
            incarnation,
            payload["previous"] or "none",
            payload["previous_last_seq"],
        )

    async def _append_own(self, kind: str, payload: dict, *, incarnation: str = "", ts_ns: int | None = None) -> int:
        """Append one of compliance's own records durably; its log index."""
        item = compliance_item(kind, payload, time.time_ns() if ts_ns is None else ts_ns, incarnation=incarnation)
        return await self.trail.append([item])

    async def _write_batches(self, state: SourceState, queue: asyncio.Queue[list[Indexed] | None]) -> None:
        """Append what the reader queued, in batches, two in flight: the next batch is encoded and written while
        the disk syncs the one before. ``position`` moves in order, and only over batches that are durable.
        On a failure (disk full) it keeps emptying the queue, so the reader never blocks on it, and raises when
        it ends; the spool then refuses further writes until a restart recovers it."""
        inflight: deque[tuple[asyncio.Task[int], list[Indexed], int]] = deque()
        failure: BaseException | None = None

        async def settle(keep: int) -> None:
            nonlocal failure
            while len(inflight) > keep:
                task, batch, started_ns = inflight.popleft()
                try:
                    index = await task
                except Exception as exc:
                    failure = failure or exc
                    continue
                if failure is None:
                    last = batch[-1].entry
                    state.position = JournalPosition(last.incarnation, last.seq, index + len(batch) - 1)
                    now_ns = time.time_ns()
                    self.metrics.batch_stored(records=len(batch), last_ts_ns=last.ts_ns, now_ns=now_ns)
                    if self.tracer is not None:
                        self._trace_recorded(batch, first_index=index, start_ns=started_ns, end_ns=now_ns)

        while True:
            if queue.empty():  # nothing to overlap with: the batch in flight is settled now, not at the next one
                await settle(keep=0)
            first = await queue.get()
            if first is None:
                break
            batch = list(first)
            ended = False
            while len(batch) < BATCH and not queue.empty():
                more = queue.get_nowait()
                if more is None:
                    ended = True
                    break
                batch.extend(more)
            if failure is None:
                inflight.append((asyncio.create_task(self.trail.append(batch)), batch, time.time_ns()))
            await settle(keep=1)
            if ended:
                break
        await settle(keep=0)
        if failure is not None:
            raise failure

    def _trace_recorded(self, batch: list[Indexed], *, first_index: int, start_ns: int, end_ns: int) -> None:
        """A span in each traced order's trace: its event is in the audit log (durable), at this log index."""
        assert self.tracer is not None
        traced = (
            (item.traceparent, {"tradingdesk.journal.seq": item.entry.seq, "tradingdesk.audit.index": first_index + n,
                                "tradingdesk.journal.kind": item.entry.kind})
            for n, item in enumerate(batch)
            if item.traceparent
        )  # fmt: skip
        record_spans(self.tracer, "audit record", traced, start_ns=start_ns, end_ns=end_ns)

    # ---------------------------------------------------------------- records handed to compliance

    async def _write_access(self, decisions: list[AccessDecision]) -> int:
        """Compliance's own access decisions (``access_audit``), durable when this returns."""
        return await self.trail.append([_access_item("compliance", d) for d in decisions])

    async def RecordOperatorAction(self, request, context):
        try:
            actor = request.actor.strip()
            if not actor or len(actor) > 128:
                raise invalid("actor", "required: who acts (at most 128 characters)")
            if request.action not in OPERATOR_ACTIONS:
                raise invalid("action", f"must be one of {', '.join(sorted(OPERATOR_ACTIONS))}")
            if request.generation < 0:
                raise invalid("generation", "must be >= 0")
            if not _SPEC_HASH.fullmatch(request.spec_hash):
                raise invalid("spec_hash", "must be a hex SHA-256 (lower case)")
            if len(request.detail) > TEXT_MAX:
                raise invalid("detail", f"at most {TEXT_MAX} characters")
            for name in ("namespace", "desk"):
                if len(getattr(request, name)) > NAME_MAX:
                    raise invalid(name, f"at most {NAME_MAX} characters")
            if request.acted_ns < 0:
                raise invalid("acted_ns", "must be >= 0")
            if len(request.action_id) > 64:
                raise invalid("action_id", "at most 64 characters")
        except Reject as reject:
            await self._refuse_request(context, reject, "RecordOperatorAction", request)
        payload = {
            "actor": actor,
            "action": request.action,
            "namespace": request.namespace,
            "desk": request.desk,
            "generation": request.generation,
            "spec_hash": request.spec_hash,
            "detail": request.detail,
            "action_id": request.action_id,
            "recorded_ns": time.time_ns(),
        }
        index = await self._append_own(KIND_OPERATOR_ACTION, payload, ts_ns=request.acted_ns or None)
        return compliance_pb2.RecordedResponse(first_index=index, records=1)

    async def RecordAccess(self, request, context):
        try:
            if not request.decisions:
                raise invalid("decisions", "at least one is required")
            if len(request.decisions) > MAX_ACCESS_BATCH:
                raise invalid("decisions", f"at most {MAX_ACCESS_BATCH} per call")
            decisions: list[tuple[str, AccessDecision]] = []
            for n, d in enumerate(request.decisions):
                where = f"decisions[{n}]"
                if not d.identity or not d.method or not d.service:
                    raise invalid(where, "identity, method and service are required")
                if d.ts_ns <= 0:
                    raise invalid(f"{where}.ts_ns", "must be > 0")
                decision = AccessDecision(
                    ts_ns=d.ts_ns,
                    identity=bounded(d.identity),
                    via=bounded(d.via),
                    method=bounded(d.method),
                    allowed=d.allowed,
                    code=bounded(d.code),
                    detail=d.detail[:TEXT_MAX],
                    privileged=d.privileged,
                    peer=bounded(d.peer),
                    request=request_fields(d.request_json, f"{where}.request_json"),
                    count=max(1, d.count),
                )
                decisions.append((bounded(d.service), decision))
        except Reject as reject:
            await self._refuse_request(context, reject, "RecordAccess", request)
        first = await self.trail.append([_access_item(service, d) for service, d in decisions])
        return compliance_pb2.RecordedResponse(first_index=first, records=len(decisions))

    async def RecordServiceEvents(self, request, context):
        try:
            items = service_event_items(request)
        except Reject as reject:
            await self._refuse_request(context, reject, "RecordServiceEvents", request)
        first = await self.trail.append(items)
        return compliance_pb2.RecordedResponse(first_index=first, records=len(items))

    async def _refuse_request(self, context, reject: Reject, method: str, request) -> None:
        """Record the refused request in the log (``refused``, service ``compliance``), then answer it."""
        item = own_refusal_item(
            method=method, door=door_of(context), reject=reject, request=request, peer=context.peer()
        )
        try:
            await self.trail.append([item])
        except Exception:
            log.exception("compliance: the refusal of %s (%s) could not be recorded", method, reject.code)
        await abort(context, reject)

    # ---------------------------------------------------------------- RPCs

    async def QueryAudit(self, request, context):
        try:
            if request.account and request.account not in self.accounts:
                raise invalid("account", f"{request.account!r} is not an account of this desk")
            if request.symbol and request.symbol not in self.symbols:
                raise invalid("symbol", f"{request.symbol!r} is not an instrument of this desk")
            if request.since_ns < 0 or request.until_ns < 0:
                raise invalid("since_ns", "times must be >= 0")
            if request.until_ns and request.since_ns > request.until_ns:
                raise invalid("until_ns", "must not be before since_ns")
            if request.limit > MAX_QUERY:
                raise invalid("limit", f"must be at most {MAX_QUERY}")
            if request.after_seq > MAX_SEQ:  # found by fuzzing: the store's seqs are signed 64-bit
                raise invalid("after_seq", f"must be at most {MAX_SEQ}")
            if request.from_index > MAX_SEQ:  # found by fuzzing too: so are the log's indexes
                raise invalid("from_index", f"must be at most {MAX_SEQ}")
            if request.incarnation and not any(request.incarnation in s.incarnations for s in self.sources.values()):
                raise not_found(f"incarnation: {request.incarnation!r} is not an incarnation of this log")
            if request.source and request.source not in RECORD_SOURCES:
                raise invalid("source", f"must be one of {', '.join(RECORD_SOURCES)}")
            if len(request.kind) > 64:
                raise invalid("kind", "at most 64 characters")
        except Reject as reject:
            await abort(context, reject)
        rows = await asyncio.to_thread(
            self.store.query,
            order_id=request.order_id or None,
            account=request.account or None,
            symbol=request.symbol or None,
            incarnation=request.incarnation or None,
            source=request.source or None,
            kind=request.kind or None,
            since_ns=request.since_ns or None,
            until_ns=request.until_ns or None,
            limit=request.limit or 1000,
            after_seq=request.after_seq,
            from_index=request.from_index,
        )
        events = []
        for r in rows:
            payload = json.loads(r.record)["payload"]
            events.append(
                compliance_pb2.AuditEvent(
                    seq=r.seq,
                    ts_ns=r.ts_ns,
                    kind=r.kind,
                    order_id=r.order_id,
                    account=r.account,
                    symbol=r.symbol,
                    payload_json=json.dumps(payload, separators=(",", ":"), sort_keys=True),
                    index=r.log_index,
                    incarnation=r.incarnation,
                    source=r.source,
                    record=r.record.encode(),
                )
            )
        pos = self.position
        return compliance_pb2.QueryAuditResponse(
            events=events, last_seq=pos.seq if pos else 0, incarnation=pos.incarnation if pos else ""
        )

    async def Seal(self, request, context):
        try:
            actor, reason = request.actor.strip(), request.reason.strip()
            if not actor or len(actor) > 128:
                raise invalid("actor", "required: who asks for the seal (at most 128 characters)")
            if not reason or len(reason) > TEXT_MAX:
                raise invalid("reason", f"required: why (at most {TEXT_MAX} characters)")
        except Reject as reject:
            await self._refuse_request(context, reject, "Seal", request)
        remaining = context.time_remaining()
        deadline = time.monotonic() + (SEAL_DEFAULT_TIMEOUT_S if remaining is None else max(0.0, remaining - 0.2))
        await self._catch_up_with_sources(deadline)
        pos = self.position
        await self._append_own(
            KIND_SEAL, {"actor": actor, "reason": reason}, incarnation=pos.incarnation if pos else ""
        )
        try:
            note = await self.trail.seal(timeout=max(0.0, deadline - time.monotonic()))
        except SealFailed as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        cp = checkpoint_of(note)
        return compliance_pb2.SealResponse(
            checkpoint=note, tree_size=cp.size, root_hash=cp.root, journal_seq=pos.seq if pos else 0
        )

    async def _catch_up_with_sources(self, deadline: float) -> None:
        """Wait (at most half the time left) until everything durable in each source now is recorded, so a seal
        right after a halt includes the halt. Each source's first stream message says how far it goes."""
        budget = max(0.0, (deadline - time.monotonic()) / 2)
        await asyncio.gather(*(self._catch_up(state, deadline, budget) for state in self.sources.values()))

    async def _catch_up(self, state: SourceState, deadline: float, budget: float) -> None:
        source = state.source
        try:
            async with channels.aio_channel(self.directory.address(source.service)) as channel:
                call = source.open(channel, 2**63 - 1, timeout=budget)
                header = source.header(await first_message(call))
                call.cancel()
        except (grpc.aio.AioRpcError, StopAsyncIteration):
            log.warning("seal: the %s source could not say how far it goes; sealing what is recorded", state.name)
            return

        def caught_up() -> bool:
            pos = state.position
            return pos is not None and pos.incarnation == header.incarnation and pos.seq >= header.last_seq

        while not caught_up() and not state.refusing and time.monotonic() < deadline - budget:
            await asyncio.sleep(0.01)
        if not caught_up():
            log.warning("seal: %s seq %d not recorded yet; sealing what is recorded", state.name, header.last_seq)

    async def GetCheckpoint(self, request, context):
        trail = self.trail
        note = trail.sealed_checkpoint
        cp = checkpoint_of(note) if note else None
        return compliance_pb2.GetCheckpointResponse(
            checkpoint=note,
            tree_size=cp.size if cp else 0,
            root_hash=cp.root if cp else b"",
            public_key=str(trail.signer.verifier()) if trail.signer else "",
            log_size=trail.size,
            pending_segments=len(trail.spool.pending()) if trail.spool else 0,
            bucket=trail.bucket.description,
            refusing=self.problem,
            last_upload_error=trail.last_upload_error,
        )

    def _sealed_size(self, requested: int, field: str) -> int:
        sealed = self.trail.sealed_size
        if requested > sealed:
            raise invalid(field, f"{requested} is beyond the sealed tree ({sealed} records)")
        size = requested or sealed
        if size == 0:
            raise refused(f"{field}: nothing is sealed yet", "NOTHING_SEALED")
        return size

    async def GetInclusionProof(self, request, context):
        try:
            size = self._sealed_size(request.tree_size, "tree_size")
            index = request.index
            if request.journal_seq > MAX_SEQ:  # found by fuzzing, like after_seq: the store's seqs are signed 64-bit
                raise invalid("journal_seq", f"must be at most {MAX_SEQ}")
            if request.journal_seq:
                incarnation = request.incarnation or (self.position.incarnation if self.position else "")
                found = await asyncio.to_thread(self.store.find, incarnation, request.journal_seq)
                if found is None:
                    raise not_found(
                        f"journal_seq: seq {request.journal_seq} of incarnation {incarnation!r} is not in the log"
                    )
                index = found
            elif request.incarnation:
                raise invalid("incarnation", "only with journal_seq")
            if index >= self.trail.size:
                raise not_found(f"index: no record {index}, the log holds {self.trail.size}")
            if index >= size:
                raise invalid("index", f"record {index} is not in the sealed tree of {size} records yet")
        except Reject as reject:
            await abort(context, reject)
        hashes = self.trail.spool.hashes
        proof, root = await asyncio.to_thread(lambda: (inclusion_proof(hashes, index, size), root_hash(hashes, size)))
        raw = (await asyncio.to_thread(self.store.record_at, index) or "").encode()
        return compliance_pb2.InclusionProof(
            index=index,
            tree_size=size,
            hashes=proof,
            root_hash=root,
            leaf_hash=leaf_hash(raw),
            record=raw,
            checkpoint=await asyncio.to_thread(self.trail.spool.checkpoint_at, size) or "",
        )

    async def GetConsistencyProof(self, request, context):
        try:
            new = self._sealed_size(request.new_size, "new_size")
            if request.old_size == 0:
                raise invalid("old_size", "must be >= 1 (every tree extends the empty one)")
            if request.old_size > new:
                raise invalid("old_size", f"{request.old_size} is larger than new_size {new}")
        except Reject as reject:
            await abort(context, reject)
        hashes, spool, old = self.trail.spool.hashes, self.trail.spool, request.old_size
        try:
            proof, old_root, new_root = await asyncio.to_thread(
                lambda: (consistency_proof(hashes, old, new), root_hash(hashes, old), root_hash(hashes, new))
            )
        except ProofError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"old_size: {exc}")
        return compliance_pb2.ConsistencyProof(
            old_size=old,
            new_size=new,
            hashes=proof,
            old_root_hash=old_root,
            new_root_hash=new_root,
            old_checkpoint=await asyncio.to_thread(spool.checkpoint_at, old) or "",
            new_checkpoint=await asyncio.to_thread(spool.checkpoint_at, new) or "",
        )
