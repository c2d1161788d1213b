"""OrderService over gRPC: parse, hand to the engine, wait for durability, answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import grpc

from tradingdesk.oms.engine import Ack, OrderEngine
from tradingdesk.oms.errors import RequestError, invalid
from tradingdesk.oms.reports import execution_report, order_message, position_message
from tradingdesk.oms.requests import RequestParser
from tradingdesk.routing.publisher import RecordPublisher
from tradingdesk.storage.journal import Journal, JournalRecord
from tradingdesk.storage.journal_async import AsyncDurability
from tradingdesk.v1 import orders_pb2, orders_pb2_grpc

MAX_LIST = 10_000
REPLAY_CHUNK = 1_000


def _ack_message(ack: Ack) -> orders_pb2.OrderAck:
    o = ack.order
    return orders_pb2.OrderAck(
        order_id=o.order_id,
        client_order_id=o.client_order_id,
        status=int(ack.status),
        duplicate=ack.duplicate,
        journal_seq=ack.seq,
    )


async def _abort(context: grpc.aio.ServicerContext, err: RequestError) -> None:
    if err.reject_code:
        context.set_trailing_metadata((("td-reject-code", err.reject_code),))
    await context.abort(err.code, err.message)


def _report(rec: JournalRecord) -> orders_pb2.ExecutionReport:
    return execution_report(rec.seq, rec.ts_ns, rec.kind, rec.order_id, rec.payload)


class OrderServicer(orders_pb2_grpc.OrderServiceServicer):
    def __init__(
        self,
        engine: OrderEngine,
        parser: RequestParser,
        journal: Journal,
        durability: AsyncDurability,
        publisher: RecordPublisher,
    ) -> None:
        self.engine = engine
        self.parser = parser
        self.journal = journal
        self.durability = durability
        self.publisher = publisher

    # -- unary ---------------------------------------------------------------------------------------------
    async def SubmitOrder(self, request, context):
        try:
            ack = self.engine.submit(self.parser.new_order(request))
        except RequestError as err:
            await _abort(context, err)
        await self.durability.wait_durable(ack.seq)
        return _ack_message(ack)

    async def CancelOrder(self, request, context):
        try:
            ack = self.engine.cancel(self.parser.order_ref(request))
        except RequestError as err:
            await _abort(context, err)
        await self.durability.wait_durable(ack.seq)
        return _ack_message(ack)

    async def ReplaceOrder(self, request, context):
        try:
            ack = self.engine.replace(self.parser.replace(request))
        except RequestError as err:
            await _abort(context, err)
        await self.durability.wait_durable(ack.seq)
        return _ack_message(ack)

    async def GetOrder(self, request, context):
        try:
            return order_message(self.engine.find(self.parser.order_ref(request)))
        except RequestError as err:
            await _abort(context, err)

    async def ListOrders(self, request, context):
        try:
            account = self.parser.account(request.account) if request.account else ""
            symbol = self.parser.instrument(request.symbol).symbol if request.symbol else ""
            if request.limit > MAX_LIST:
                raise invalid("limit", f"must be at most {MAX_LIST}")
        except RequestError as err:
            await _abort(context, err)
        orders = self.engine.list_orders(account, symbol, request.open_only, request.limit or 1000)
        return orders_pb2.ListOrdersResponse(orders=[order_message(o) for o in orders])

    async def GetPositions(self, request, context):
        try:
            account = self.parser.account(request.account) if request.account else ""
        except RequestError as err:
            await _abort(context, err)
        marks = self.engine.marks
        positions = self.engine.positions.all(account)
        return orders_pb2.GetPositionsResponse(
            positions=[position_message(p, marks.get(p.symbol, 0)) for p in positions]
        )

    # -- streams -----------------------------------------------------------------------------------------------
    async def StreamExecutions(self, request, context):
        try:
            account = self.parser.account(request.account) if request.account else ""
        except RequestError as err:
            await _abort(context, err)
        accepts = (lambda r: r.payload["account"] == account) if account else (lambda r: True)
        async for rec in self._records(request.from_seq, accepts, context):
            yield _report(rec)

    async def StreamJournal(self, request, context):
        async for rec in self._records(request.from_seq or 1, lambda r: True, context):
            yield orders_pb2.JournalEvent(
                seq=rec.seq,
                ts_ns=rec.ts_ns,
                kind=rec.kind,
                order_id=rec.order_id,
                payload_json=json.dumps(rec.payload, separators=(",", ":"), sort_keys=True),
            )

    async def _records(self, from_seq: int, accepts, context) -> AsyncIterator[JournalRecord]:
        """History from ``from_seq`` (read from the database), then live records, with no gap or repeat."""
        sub = self.publisher.subscribe(accepts)
        try:
            last = 0
            if from_seq:
                upto = self.durability.durable_seq
                async for rec in self._history(from_seq, upto):
                    if accepts(rec):
                        yield rec
                    last = rec.seq
                last = max(last, upto)
            while True:
                rec = await sub.queue.get()
                if rec is None:
                    return  # the server is shutting down; resume from the last seq seen
                if rec.seq > last:
                    last = rec.seq
                    yield rec
                if sub.overflowed and sub.queue.empty():
                    await context.abort(
                        grpc.StatusCode.RESOURCE_EXHAUSTED,
                        f"the stream fell behind; reconnect with from_seq={last + 1}",
                    )
        finally:
            self.publisher.unsubscribe(sub)

    async def _history(self, from_seq: int, upto: int) -> AsyncIterator[JournalRecord]:
        seq = from_seq
        while seq <= upto:
            end = min(upto, seq + REPLAY_CHUNK - 1)
            chunk = await asyncio.to_thread(lambda s=seq, e=end: list(self.journal.replay(s, e)))
            for rec in chunk:
                yield rec
            if not chunk:
                break
            seq = chunk[-1].seq + 1

    async def OrderSession(self, request_iterator, context):
        """Requests are handled in arrival order; acks wait for durability without blocking later requests."""
        mine: set[str] = set()
        out: asyncio.Queue[orders_pb2.SessionResponse | None] = asyncio.Queue()

        def accepts(rec: JournalRecord) -> bool:
            return rec.order_id in mine or rec.payload.get("replaces_order_id", "") in mine

        sub = self.publisher.subscribe(accepts)
        pending: set[asyncio.Task] = set()

        async def respond_when_durable(request_id: int, ack: Ack) -> None:
            await self.durability.wait_durable(ack.seq)
            out.put_nowait(orders_pb2.SessionResponse(request_id=request_id, ack=_ack_message(ack)))

        async def read_requests() -> None:
            async for req in request_iterator:
                which = req.WhichOneof("request")
                try:
                    if which == "submit":
                        ack = self.engine.submit(self.parser.new_order(req.submit))
                    elif which == "cancel":
                        ack = self.engine.cancel(self.parser.order_ref(req.cancel))
                    elif which == "replace":
                        ack = self.engine.replace(self.parser.replace(req.replace))
                    else:
                        raise invalid("request", "one of submit, cancel or replace is required")
                except RequestError as err:
                    out.put_nowait(
                        orders_pb2.SessionResponse(
                            request_id=req.request_id,
                            error=orders_pb2.SessionError(
                                code=err.code.value[0], message=err.message, reject_code=err.reject_code
                            ),
                        )
                    )
                    continue
                mine.add(ack.order.order_id)
                if ack.seq <= self.durability.durable_seq:
                    out.put_nowait(orders_pb2.SessionResponse(request_id=req.request_id, ack=_ack_message(ack)))
                else:
                    task = asyncio.create_task(respond_when_durable(req.request_id, ack))
                    pending.add(task)
                    task.add_done_callback(pending.discard)

        async def forward_executions() -> None:
            while True:
                rec = await sub.queue.get()
                if rec is None:
                    return
                if rec.kind == "replaced":
                    mine.add(rec.order_id)
                out.put_nowait(orders_pb2.SessionResponse(execution=_report(rec)))

        reader = asyncio.create_task(read_requests())
        forwarder = asyncio.create_task(forward_executions())
        reader.add_done_callback(lambda _: out.put_nowait(None))
        try:
            while True:
                msg = await out.get()
                if msg is None:
                    break
                yield msg
            # The client half-closed: answer what it sent, then end the session.
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            while not out.empty():
                nxt = out.get_nowait()
                if nxt is not None:
                    yield nxt
        finally:
            reader.cancel()
            forwarder.cancel()
            self.publisher.unsubscribe(sub)
            if reader.done() and not reader.cancelled() and reader.exception() is not None:
                raise reader.exception()
