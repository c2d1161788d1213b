"""The compliance service: mirrors the routing journal into its own audit store, gap-free.

It resumes from the last seq it stored, so a restart of either side neither loses nor repeats an event.
"""

from __future__ import annotations

import asyncio
import json
import logging

import grpc

from tradingdesk.core.reject import Reject, invalid
from tradingdesk.edge.directory import ServiceDirectory
from tradingdesk.edge.status import abort
from tradingdesk.edge.upstream import Upstream
from tradingdesk.spec.domain import dsn_for
from tradingdesk.spec.model import TradingDesk
from tradingdesk.storage.audit_store import AuditRecord, AuditStore
from tradingdesk.storage.db import make_engine, migrate
from tradingdesk.v1 import compliance_pb2, compliance_pb2_grpc, orders_pb2, orders_pb2_grpc

log = logging.getLogger(__name__)
MAX_QUERY = 10_000
BATCH = 2_000


class ComplianceService(compliance_pb2_grpc.ComplianceServiceServicer):
    name = "compliance"
    service_names = ("tradingdesk.v1.ComplianceService",)

    def __init__(self, desk: TradingDesk, *, directory: ServiceDirectory | None = None, dsn: str | None = None) -> None:
        self.desk = desk
        self.directory = directory or ServiceDirectory.for_desk(desk)
        # A mirror of the routing journal: after a machine crash it re-reads what it lost from routing.
        self.db = make_engine(dsn or dsn_for(desk, "compliance"), durable=False)
        self.store = AuditStore(self.db)
        self.accounts = {a.name for a in desk.spec.accounts}
        self.symbols = {i.symbol for i in desk.spec.instruments}
        self.last_seq = 0
        self.upstream: Upstream | None = None

    async def start(self, server: grpc.aio.Server) -> None:
        await asyncio.to_thread(migrate, self.db)
        self.last_seq = await asyncio.to_thread(self.store.last_seq)
        compliance_pb2_grpc.add_ComplianceServiceServicer_to_server(self, server)
        self.upstream = Upstream("journal", self.directory.address("routing"), self._consume_journal)
        self.upstream.start()

    async def _consume_journal(self, channel: grpc.aio.Channel) -> None:
        """Read the journal stream and store it in batches: whatever arrived while the last batch was being
        written goes into the next one, so a burst costs few transactions and a lone event is stored at once."""
        stub = orders_pb2_grpc.OrderServiceStub(channel)
        stream = stub.StreamJournal(orders_pb2.StreamJournalRequest(from_seq=self.last_seq + 1))
        queue: asyncio.Queue[AuditRecord | None] = asyncio.Queue(BATCH * 4)
        writer = asyncio.create_task(self._write_batches(queue))
        try:
            async for batch in stream:
                for ev in batch.events:
                    await queue.put(
                        AuditRecord(
                            ev.seq, ev.ts_ns, ev.kind, ev.order_id, ev.account, ev.symbol, None, ev.payload_json
                        )
                    )
        finally:
            await queue.put(None)
            await writer

    async def _write_batches(self, queue: asyncio.Queue[AuditRecord | None]) -> None:
        while True:
            first = await queue.get()
            if first is None:
                return
            batch = [first]
            ended = False
            while len(batch) < BATCH and not queue.empty():
                item = queue.get_nowait()
                if item is None:
                    ended = True
                    break
                batch.append(item)
            await self._store(batch)
            if ended:
                return

    async def _store(self, batch: list[AuditRecord]) -> None:
        await asyncio.to_thread(self.store.insert_many, batch)
        self.last_seq = max(self.last_seq, batch[-1].seq)

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
        except Reject as reject:
            await abort(context, reject)
        records = await asyncio.to_thread(
            self.store.query,
            order_id=request.order_id or None,
            account=request.account or None,
            symbol=request.symbol or None,
            since_ns=request.since_ns or None,
            until_ns=request.until_ns or None,
            limit=request.limit or 1000,
            after_seq=request.after_seq,
        )
        return compliance_pb2.QueryAuditResponse(
            events=[
                compliance_pb2.AuditEvent(
                    seq=r.seq,
                    ts_ns=r.ts_ns,
                    kind=r.kind,
                    order_id=r.order_id,
                    account=r.account,
                    symbol=r.symbol,
                    payload_json=json.dumps(r.payload, separators=(",", ":"), sort_keys=True),
                )
                for r in records
            ],
            last_seq=self.last_seq,
        )

    async def stop(self) -> None:
        if self.upstream is not None:
            await self.upstream.stop()
        self.db.dispose()
