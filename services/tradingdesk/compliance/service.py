"""The compliance service: records the routing journal into the tamper-evident audit log, and serves it.

Every journal event becomes one record of an RFC 9162 Merkle log (``compliance/trail.py``), sealed in signed
segments into the audit bucket. Records carry the journal's incarnation, so two histories are never merged:

- A journal with a new incarnation (a fresh database) is recorded from its seq 1, after a
  ``journal_incarnation`` record naming the one before.
- The same incarnation, but behind what was recorded (restored from an old backup), or with a different event
  at the last recorded seq (a fork): compliance refuses. Its health (``tradingdesk.v1.ComplianceService``, which
  monitoring probes and alerts on) goes NOT_SERVING, the reason is logged at
  ERROR and served by ``GetCheckpoint.refusing``; nothing is dropped or skipped. It checks again on every
  reconnect, so a journal that catches up with the same history is recorded again by itself.
- An incarnation recorded before and superseded since (an old volume attached again) is refused the same way.

It resumes from the last journal seq in its log, re-reading that one event to check it is the same history.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from functools import partial

import grpc
from grpc_health.v1 import health_pb2

from tradingdesk.audit.bucket import bucket_for_desk
from tradingdesk.audit.keys import load_signer
from tradingdesk.audit.merkle import ProofError, consistency_proof, inclusion_proof, leaf_hash, root_hash
from tradingdesk.audit.record import (
    KIND_INCARNATION,
    KIND_SEAL,
    SOURCE_COMPLIANCE,
    SOURCE_JOURNAL,
    Entry,
    RecordError,
    canonical_payload,
    decode_record,
    encode_payload,
)
from tradingdesk.compliance.trail import AuditTrail, Indexed, SealFailed, checkpoint_of
from tradingdesk.core.reject import Reject, invalid, not_found, refused
from tradingdesk.edge.directory import ServiceDirectory
from tradingdesk.edge.status import abort
from tradingdesk.edge.upstream import Upstream
from tradingdesk.spec.domain import data_dir, dsn_for, schema_for
from tradingdesk.spec.model import TradingDesk
from tradingdesk.storage.audit_store import AuditStore, JournalPosition
from tradingdesk.storage.db import make_engine, prepare_schema
from tradingdesk.v1 import compliance_pb2, compliance_pb2_grpc, orders_pb2, orders_pb2_grpc

log = logging.getLogger(__name__)
MAX_QUERY = 10_000
BATCH = 2_000
REFUSAL_RECHECK_S = 5.0
SEAL_DEFAULT_TIMEOUT_S = 30.0
TEXT_MAX = 1_000


class JournalRefused(Exception):
    """The journal is not a continuation of what was recorded: stop recording, loudly."""


class ComplianceService(compliance_pb2_grpc.ComplianceServiceServicer):
    name = "compliance"
    service_names = ("tradingdesk.v1.ComplianceService",)

    def __init__(self, desk: TradingDesk, *, directory: ServiceDirectory | None = None, dsn: str | None = None) -> None:
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
        self.position: JournalPosition | None = None
        self.incarnations: list[str] = []
        self.refusing = ""
        self.upstream: Upstream | None = None
        self._health = None
        self._health_tasks: set[asyncio.Task] = set()

    # ---------------------------------------------------------------- lifecycle

    async def start(self, server: grpc.aio.Server) -> None:
        await asyncio.to_thread(prepare_schema, self.db)
        await self.trail.start()
        self.position = await asyncio.to_thread(self.store.journal_position)
        self.incarnations = await asyncio.to_thread(self.store.incarnations)
        compliance_pb2_grpc.add_ComplianceServiceServicer_to_server(self, server)
        self.upstream = Upstream("journal", self.directory.address("routing"), self._consume_journal)
        self.upstream.start()

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
        return self.refusing or self.trail.problem

    def _refuse(self, reason: str) -> None:
        if reason != self.refusing:
            log.error("compliance refuses the journal: %s", reason)
            self.refusing = reason
            self._publish_health()
        raise JournalRefused(reason)

    def _accepted(self) -> None:
        if self.refusing:
            log.warning("compliance records the journal again (was: %s)", self.refusing)
            self.refusing = ""
            self._publish_health()

    async def stop(self) -> None:
        if self.upstream is not None:
            await self.upstream.stop()
        await self.trail.stop()
        self.db.dispose()

    # ---------------------------------------------------------------- the journal

    async def _consume_journal(self, channel: grpc.aio.Channel) -> None:
        try:
            await self._record_journal(channel)
        except JournalRefused:
            await asyncio.sleep(REFUSAL_RECHECK_S)  # then the upstream reconnects and checks again

    async def _record_journal(self, channel: grpc.aio.Channel) -> None:
        """Check the journal is the history we recorded (or a new one), then record it in batches: whatever
        arrived while the last batch was being written goes into the next one."""
        stub = orders_pb2_grpc.OrderServiceStub(channel)
        pos = self.position
        # Re-read the last recorded event (if any) to check the journal still holds the same one there.
        from_seq = pos.seq if pos is not None and pos.seq else 1
        stream = stub.StreamJournal(orders_pb2.StreamJournalRequest(from_seq=from_seq))
        header = await anext(aiter(stream))
        incarnation = header.incarnation
        if not incarnation:
            self._refuse("the routing service sends no journal incarnation: it predates incarnations")
        if pos is None or incarnation != pos.incarnation:
            if incarnation in self.incarnations:
                self._refuse(
                    f"journal incarnation {incarnation} was recorded before and superseded by "
                    f"{pos.incarnation if pos else '?'}: an old journal is back; refusing to merge two histories"
                )
            await self._start_incarnation(incarnation, pos)
            if from_seq != 1:
                stream.cancel()
                return  # reconnect from seq 1 of the new journal
            pos = self.position
            assert pos is not None
        elif header.durable_seq < pos.seq:
            self._refuse(
                f"journal {incarnation} went backwards: it ends at seq {header.durable_seq}, "
                f"the audit log already holds seq {pos.seq}"
            )
        queue: asyncio.Queue[list[Indexed] | None] = asyncio.Queue(8)
        writer = asyncio.create_task(self._write_batches(queue))
        expect = pos.seq + 1
        checked = pos.seq == 0
        try:
            async for batch in stream:
                items: list[Indexed] = []
                for ev in batch.events:
                    if not checked:
                        await self._check_same_event(ev, pos)
                        checked = True
                        continue
                    if ev.seq != expect:
                        self._refuse(f"journal {incarnation} skipped from seq {expect - 1} to {ev.seq}")
                    expect += 1
                    items.append(self._journal_item(incarnation, ev))
                if items:
                    self._accepted()
                    await queue.put(items)
                    if writer.done():  # it failed: stop reading, the finally below raises its error
                        break
                if checked:
                    self._accepted()
        finally:
            await queue.put(None)
            await writer

    async def _check_same_event(self, ev: orders_pb2.JournalEvent, pos: JournalPosition) -> None:
        raw = await asyncio.to_thread(self.store.record_at, pos.log_index)
        try:
            rec = decode_record(raw.encode()) if raw else None
        except RecordError:
            rec = None
        same = (
            rec is not None
            and ev.seq == rec.seq
            and (ev.ts_ns, ev.kind, ev.order_id) == (rec.ts_ns, rec.kind, rec.order_id)
            and json.loads(ev.payload_json or "{}") == rec.payload
        )
        if not same:
            self._refuse(
                f"journal {pos.incarnation} forked: its event at seq {pos.seq} differs from the one recorded "
                f"(log index {pos.log_index})"
            )

    def _journal_item(self, incarnation: str, ev: orders_pb2.JournalEvent) -> Indexed:
        entry = Entry(
            ts_ns=ev.ts_ns,
            source=SOURCE_JOURNAL,
            incarnation=incarnation,
            seq=ev.seq,
            kind=ev.kind,
            order_id=ev.order_id,
            payload_json=canonical_payload(ev.payload_json),
        )
        return Indexed(entry, ev.account, ev.symbol)

    async def _start_incarnation(self, incarnation: str, previous: JournalPosition | None) -> None:
        payload = {
            "previous": previous.incarnation if previous else "",
            "previous_last_seq": previous.seq if previous else 0,
        }
        entry = Entry(
            ts_ns=time.time_ns(),
            source=SOURCE_COMPLIANCE,
            incarnation=incarnation,
            seq=0,
            kind=KIND_INCARNATION,
            order_id="",
            payload_json=encode_payload(payload),
        )
        index = await self.trail.append([Indexed(entry)])
        self.incarnations.append(incarnation)
        self.position = JournalPosition(incarnation, 0, index)
        log.warning(
            "compliance: recording journal incarnation %s (previous %s, last seq %d)",
            incarnation,
            payload["previous"] or "none",
            payload["previous_last_seq"],
        )

    async def _write_batches(self, queue: asyncio.Queue[list[Indexed] | None]) -> None:
        """Append what the reader queued, in batches, two in flight: the next batch is encoded and written while
        the disk syncs the one before. ``position`` moves in order, and only over batches that are durable.
        On a failure (disk full) it keeps emptying the queue, so the reader never blocks on it, and raises when
        it ends; the spool then refuses further writes until a restart recovers it."""
        inflight: deque[tuple[asyncio.Task[int], list[Indexed]]] = deque()
        failure: BaseException | None = None

        async def settle(keep: int) -> None:
            nonlocal failure
            while len(inflight) > keep:
                task, batch = inflight.popleft()
                try:
                    index = await task
                except Exception as exc:
                    failure = failure or exc
                    continue
                if failure is None:
                    last = batch[-1].entry
                    self.position = JournalPosition(last.incarnation, last.seq, index + len(batch) - 1)

        while True:
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
                inflight.append((asyncio.create_task(self.trail.append(batch)), batch))
            await settle(keep=1)
            if ended:
                break
        await settle(keep=0)
        if failure is not None:
            raise failure

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
            if request.incarnation and request.incarnation not in self.incarnations:
                raise not_found(f"incarnation: {request.incarnation!r} is not a journal incarnation of this log")
        except Reject as reject:
            await abort(context, reject)
        rows = await asyncio.to_thread(
            self.store.query,
            order_id=request.order_id or None,
            account=request.account or None,
            symbol=request.symbol or None,
            incarnation=request.incarnation or None,
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
            await abort(context, reject)
        remaining = context.time_remaining()
        deadline = time.monotonic() + (SEAL_DEFAULT_TIMEOUT_S if remaining is None else max(0.0, remaining - 0.2))
        await self._catch_up_with_journal(deadline)
        pos = self.position
        entry = Entry(
            ts_ns=time.time_ns(),
            source=SOURCE_COMPLIANCE,
            incarnation=pos.incarnation if pos else "",
            seq=0,
            kind=KIND_SEAL,
            order_id="",
            payload_json=encode_payload({"actor": actor, "reason": reason}),
        )
        await self.trail.append([Indexed(entry)])
        try:
            note = await self.trail.seal(timeout=max(0.0, deadline - time.monotonic()))
        except SealFailed as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        cp = checkpoint_of(note)
        return compliance_pb2.SealResponse(
            checkpoint=note, tree_size=cp.size, root_hash=cp.root, journal_seq=pos.seq if pos else 0
        )

    async def _catch_up_with_journal(self, deadline: float) -> None:
        """Wait (at most half the time left) until everything durable in the journal now is recorded, so a seal
        right after a halt includes the halt. The journal's first stream message says how far it goes."""
        budget = max(0.0, (deadline - time.monotonic()) / 2)
        try:
            async with grpc.aio.insecure_channel(self.directory.address("routing")) as channel:
                stream = orders_pb2_grpc.OrderServiceStub(channel).StreamJournal(
                    orders_pb2.StreamJournalRequest(from_seq=2**63 - 1), timeout=budget
                )
                header = await anext(aiter(stream))
                stream.cancel()
        except (grpc.aio.AioRpcError, StopAsyncIteration):
            log.warning("seal: the journal could not say how far it goes; sealing what is recorded")
            return

        def caught_up() -> bool:
            pos = self.position
            return pos is not None and pos.incarnation == header.incarnation and pos.seq >= header.durable_seq

        while not caught_up() and time.monotonic() < deadline - budget:
            await asyncio.sleep(0.01)
        if not caught_up():
            log.warning("seal: journal seq %d not recorded yet; sealing what is recorded", header.durable_seq)

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
