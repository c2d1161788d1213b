"""OrderService over gRPC: parse, hand to the engine, wait for durability, answer.

Every answer about an order request waits until the journal holds what it answers: an acknowledgement its order
event, a refusal its ``RequestRefused`` record (``routing/refusals.py``), so the audit trail has every refused
request a client was told about.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence

import grpc
from opentelemetry import metrics
from sqlalchemy.exc import OperationalError

from tradingdesk.core.event_codec import ORDER_KINDS, payload_scope, record_event
from tradingdesk.core.events import ORDER_EVENTS
from tradingdesk.core.reject import JOURNAL_UNAVAILABLE, Reject, invalid, unavailable
from tradingdesk.edge.door import door_of
from tradingdesk.edge.status import abort, status_number
from tradingdesk.oms.engine import OrderEngine
from tradingdesk.oms.requests import Ack
from tradingdesk.oms.retired import NONE_RESOLVED, Resolved, RetiredOrderNeeded
from tradingdesk.routing.publisher import NEVER_CUT_OFF, RecordPublisher, accept_any
from tradingdesk.routing.refusals import METHODS, refused_request
from tradingdesk.routing.reports import execution_report, order_message, position_message
from tradingdesk.routing.requests import RequestParser
from tradingdesk.routing.retired_orders import RetiredOrders
from tradingdesk.routing.session_orders import SessionOrders
from tradingdesk.routing.takeover import Takeover
from tradingdesk.routing.venue_faults import VenueFaults
from tradingdesk.routing.venue_health import VenueHealth
from tradingdesk.storage.codec import encode_payload
from tradingdesk.storage.journal import Journal, JournalRecord
from tradingdesk.storage.journal_async import AsyncDurability
from tradingdesk.telemetry.journal_trace import OrderTraceContexts
from tradingdesk.v1 import orders_pb2, orders_pb2_grpc

log = logging.getLogger(__name__)

MAX_LIST = 10_000
JOURNAL_BATCH_MAX = 2_000
JOURNAL_LINGER_S = 0.005
REPLAY_CHUNK = 1_000
JOURNAL_UNAVAILABLE_MESSAGE = (
    "the order journal cannot write to its database; new orders and replaces are refused until it can (cancels are "
    "taken and acknowledged once durable)"
)


def _ack_message(ack: Ack, new_order_id: str = "") -> orders_pb2.OrderAck:
    o = ack.order
    return orders_pb2.OrderAck(
        order_id=o.order_id,
        client_order_id=o.client_order_id,
        status=int(ack.status),
        duplicate=ack.duplicate,
        journal_seq=ack.seq,
        new_order_id=new_order_id,
    )


def _replacement_id(engine: OrderEngine, ack: Ack, new_client_order_id: str) -> str:
    """The order id the replacement of a ReplaceOrder carries. Read right after ``engine.replace`` returns,
    before any await, so the venue cannot have answered in between.

    A resubmitted replace that already completed is acknowledged with the replacement itself; otherwise the
    replace is in flight and the engine holds the id it allocated. Empty when the replacement never came to be
    (a resubmission after the original filled or was canceled first).
    """
    order = ack.order
    if order.client_order_id == new_client_order_id:
        return order.order_id
    pending = engine.book.replacing.get(order.order_id)
    return pending.new_order_id if pending is not None and pending.new_client_order_id == new_client_order_id else ""


def _kinds_reported(exec_types: Sequence[int]) -> frozenset[str]:
    """The journal kinds whose execution reports a StreamExecutions request asked for (all when it named none)."""
    if not exec_types:
        return ORDER_KINDS
    wanted = set(exec_types)
    return frozenset(cls.kind for cls in ORDER_EVENTS if int(cls.exec_type) in wanted)


EVENT_CACHE_MAX = 8_192


def _report(rec: JournalRecord) -> orders_pb2.ExecutionReport:
    return execution_report(rec.seq, record_event(rec))


SESSION_BATCH_MAX = 2_000
SESSION_REQUESTS_MAX = 10_000
SESSION_UNREAD_MAX = 20_000
"""Responses (acknowledgements, errors, execution reports) a session may hold for its client, unread, before
routing stops reading the session's requests: a client that sends without reading is then held back by HTTP/2
flow control instead of routing holding every answer in memory. Reading resumes once half have been read."""


async def _next_batch(out: asyncio.Queue) -> tuple[list, bool]:
    """Wait for one response, then take whatever else is ready; True once the end marker (None) is seen."""
    first = await out.get()
    if first is None:
        return [], True
    batch = [first]
    while len(batch) < SESSION_BATCH_MAX and not out.empty():
        item = out.get_nowait()
        if item is None:
            return batch, True
        batch.append(item)
    return batch, False


def _drain(out: asyncio.Queue) -> list:
    items = []
    while not out.empty():
        items.append(out.get_nowait())
    return items


class OrderServicer(orders_pb2_grpc.OrderServiceServicer):
    def __init__(
        self,
        engine: OrderEngine,
        parser: RequestParser,
        journal: Journal,
        durability: AsyncDurability,
        publisher: RecordPublisher,
        *,
        venue_faults: VenueFaults,
        venue_health: VenueHealth,
        commit_soon: Callable[[], None] = lambda: None,
        incarnation: str = "",
        traces: OrderTraceContexts | None = None,
        on_venue_back: Callable[[str], None] = lambda venue: None,
        retired: RetiredOrders | None = None,
        takeover: Takeover | None = None,
    ) -> None:
        self.engine = engine
        self.takeover = takeover
        """When this replica took the journal over as a standby (GetRoutingStatus ``took_over_ns``)."""
        self.retired = retired
        """Reads orders the engine retired from memory back from the journal (``oms/retired.py``)."""
        self.on_venue_back = on_venue_back
        """Called with a venue's name once a change that reconnects it (it was away) is durable."""
        self.venue_faults = venue_faults
        self.venue_health = venue_health
        """Each venue's connection and reject and timeout counts, and the journal's health (GetRoutingStatus)."""
        """Subscribed to the engine's fan-out by the service before recovery, so replayed faults apply too."""
        self.traces = traces
        self.incarnation = incarnation
        self.parser = parser
        self.journal = journal
        self.durability = durability
        self.publisher = publisher
        self.commit_soon = commit_soon
        self._events: dict[int, orders_pb2.JournalEvent] = {}  # seq -> wire message, shared by subscribers
        self._session_reads_paused = metrics.get_meter("tradingdesk.routing").create_counter(
            "tradingdesk_session_reads_paused",
            description="Times routing stopped reading an OrderSession's requests because its client left "
            f"{SESSION_UNREAD_MAX} responses unread.",
        )

    # -- refusals ------------------------------------------------------------------------------------------
    def _require_journal(self) -> None:
        """Refuse a new order or a replace while the journal cannot commit (its database is down or unreachable).

        Nothing is acknowledged before it is durable, so an order taken now would wait, unacknowledged, for the
        database, while it is already live at its venue: a client that gives up and resubmits elsewhere could
        trade twice. Refusing at once with UNAVAILABLE (retry later) keeps the desk's exposure to what it can
        record. Cancels are still taken (they only reduce risk) and acknowledged once the database is back.
        ``healthy`` turns false at the first failed commit and true again at the next one that succeeds. With
        ``spec.routing.outageSpool`` the journal stays ``accepting`` through an outage: records are made durable
        in its local spool meanwhile, so orders are taken and acknowledged as usual.
        """
        if not self.journal.accepting:
            raise unavailable(JOURNAL_UNAVAILABLE_MESSAGE, JOURNAL_UNAVAILABLE)

    def _journal_refusal(self, method: str, door: str, reject: Reject, request) -> int | None:
        """Journal a refused request; its seq, or None if the journal would not take it (logged).

        A refusal because the journal cannot write is not journaled: it could not be made durable before the
        answer, and queuing one per refused request would grow the backlog the refusal exists to bound. Routing
        logs the outage and ``tradingdesk_journal_healthy`` shows it.
        """
        if reject.code == JOURNAL_UNAVAILABLE:
            return None
        event = refused_request(
            method=method,
            door=door,
            reject=reject,
            request=request,
            parser=self.parser,
            now_ns=self.engine.clock.now_ns(),
        )
        try:
            return self.engine.record(event)
        except Exception:
            log.exception("routing: the refusal of %s (%s) could not be journaled", method, reject.code)
            return None

    async def _refuse(self, context, reject: Reject, method: str, request) -> None:
        """Answer a refused unary request once its refusal is durable in the journal."""
        seq = self._journal_refusal(method, "unary", reject, request)
        if seq is not None:
            self.commit_soon()
            await self.durability.wait_durable(seq)
        await abort(context, reject)

    # -- orders retired from memory ------------------------------------------------------------------------
    def _retired(self) -> RetiredOrders:
        if self.retired is None:
            raise RuntimeError("the engine retires finished orders but this servicer cannot read them back")
        return self.retired

    # Each unary request calls the engine directly first: the order path builds no closure or coroutine for the
    # rare request about an order retired from memory, which reads it back from the journal (off the event loop)
    # and calls again.

    # -- unary ---------------------------------------------------------------------------------------------
    async def SubmitOrder(self, request, context):
        try:
            order = self.parser.new_order(request)
            self._require_journal()
            try:
                ack = self.engine.submit(order, retired=NONE_RESOLVED)
            except RetiredOrderNeeded as need:
                ack = await self._retired().answer(lambda retired: self.engine.submit(order, retired=retired), need)
        except Reject as reject:
            await self._refuse(context, reject, "SubmitOrder", request)
        self.commit_soon()
        await self.durability.wait_durable(ack.seq)
        return _ack_message(ack)

    async def CancelOrder(self, request, context):
        try:
            ref = self.parser.order_ref(request)
            try:
                ack = self.engine.cancel(ref, retired=NONE_RESOLVED)
            except RetiredOrderNeeded as need:
                ack = await self._retired().answer(lambda retired: self.engine.cancel(ref, retired=retired), need)
        except Reject as reject:
            await self._refuse(context, reject, "CancelOrder", request)
        self.commit_soon()
        await self.durability.wait_durable(ack.seq)
        return _ack_message(ack)

    async def ReplaceOrder(self, request, context):
        try:
            replace = self.parser.replace(request)
            self._require_journal()
            try:
                ack = self.engine.replace(replace, retired=NONE_RESOLVED)
            except RetiredOrderNeeded as need:
                ack = await self._retired().answer(lambda retired: self.engine.replace(replace, retired=retired), need)
        except Reject as reject:
            await self._refuse(context, reject, "ReplaceOrder", request)
        new_order_id = _replacement_id(self.engine, ack, request.new_client_order_id)
        self.commit_soon()
        await self.durability.wait_durable(ack.seq)
        return _ack_message(ack, new_order_id)

    async def SetVenueFault(self, request, context):
        """Answered once the change (or its refusal) is durable in the journal."""
        try:
            event = self.venue_faults.event(request, door=door_of(context), now_ns=self.engine.clock.now_ns())
        except Reject as reject:
            await self._refuse(context, reject, "SetVenueFault", request)
        venue = self.engine.venues[request.venue]
        was_away = not getattr(venue, "connected", True)
        seq = self.engine.record(event)
        self.commit_soon()
        await self.durability.wait_durable(seq)
        if was_away and getattr(venue, "connected", True):
            self.on_venue_back(request.venue)
        return self.venue_faults.message()

    async def GetRoutingStatus(self, request, context):
        status = self.venue_health.message()
        if self.takeover is not None:
            status.took_over_ns = self.takeover.at_ns
        return status

    async def GetOrder(self, request, context):
        try:
            ref = self.parser.order_ref(request)
            try:
                order = self.engine.find(ref, retired=NONE_RESOLVED)
            except RetiredOrderNeeded as need:
                order = await self._retired().answer(lambda retired: self.engine.find(ref, retired=retired), need)
            return order_message(order)
        except Reject as reject:
            await abort(context, reject)

    async def ListOrders(self, request, context):
        try:
            account = self.parser.account(request.account) if request.account else ""
            symbol = self.parser.instrument(request.symbol).symbol if request.symbol else ""
            if request.limit > MAX_LIST:
                raise invalid("limit", f"must be at most {MAX_LIST}")
        except Reject as reject:
            await abort(context, reject)
        orders = self.engine.list_orders(account, symbol, open_only=request.open_only, limit=request.limit or 1000)
        return orders_pb2.ListOrdersResponse(orders=[order_message(o) for o in orders])

    async def GetPositions(self, request, context):
        try:
            account = self.parser.account(request.account) if request.account else ""
        except Reject as reject:
            await abort(context, reject)
        marks = self.engine.marks
        positions = self.engine.positions.all(account)
        return orders_pb2.GetPositionsResponse(
            positions=[position_message(p, marks.get(p.symbol, 0)) for p in positions]
        )

    # -- streams -----------------------------------------------------------------------------------------------
    async def StreamExecutions(self, request, context):
        try:
            account = self.parser.account(request.account) if request.account else ""
        except Reject as reject:
            await abort(context, reject)
        kinds = _kinds_reported(request.exec_types)
        if account:

            def accepts(rec: JournalRecord) -> bool:
                return rec.kind in kinds and record_event(rec).terms.account == account

        elif kinds is ORDER_KINDS:
            accepts = accept_any
        else:  # filtered before any report is built: a fills-only reader costs only fills

            def accepts(rec: JournalRecord) -> bool:
                return rec.kind in kinds

        async for burst in self._bursts(request.from_seq, accepts, context):
            for rec in burst:
                if rec.kind in ORDER_KINDS:  # incidents and latches are records, not executions
                    yield _report(rec)

    async def StreamJournal(self, request, context):
        incarnation = self.incarnation
        # First, at once: which journal this is and how far it goes, so a consumer can tell whether it is
        # the history it recorded before (and not behind it) without waiting for an event.
        yield orders_pb2.JournalEvents(incarnation=incarnation, durable_seq=self.durability.durable_seq)
        event = self._journal_event
        async for burst in self._bursts(request.from_seq or 1, accept_any, context, linger_s=JOURNAL_LINGER_S):
            for start in range(0, len(burst), JOURNAL_BATCH_MAX):
                events = [event(rec) for rec in burst[start : start + JOURNAL_BATCH_MAX]]
                yield orders_pb2.JournalEvents(events=events, incarnation=incarnation)

    def _journal_event(self, rec: JournalRecord) -> orders_pb2.JournalEvent:
        """One wire message per record, built once for every StreamJournal subscriber (compliance, risk)."""
        event = self._events.get(rec.seq)
        if event is None:
            account, symbol = payload_scope(rec.payload)
            event = orders_pb2.JournalEvent(
                seq=rec.seq,
                ts_ns=rec.ts_ns,
                kind=rec.kind,
                order_id=rec.order_id,
                payload_json=rec.payload_json or encode_payload(rec.payload),
                account=account,
                symbol=symbol,
                traceparent=self.traces.of(rec.order_id) if self.traces is not None else "",
            )
            if len(self._events) >= EVENT_CACHE_MAX:
                del self._events[next(iter(self._events))]
            self._events[rec.seq] = event
        return event

    async def _bursts(
        self, from_seq: int, accepts, context, *, linger_s: float = 0.0
    ) -> AsyncIterator[list[JournalRecord]]:
        """History from ``from_seq`` (read from the database), then live records, with no gap or repeat, a burst
        at a time: a history chunk, or every record ready at once, for the caller to send in one message."""
        sub = self.publisher.subscribe(accepts)
        try:
            last = 0
            if from_seq:
                upto = self.durability.durable_seq
                try:
                    async for chunk in self._history(from_seq, upto):
                        last = chunk[-1].seq
                        burst = [rec for rec in chunk if accepts(rec)]
                        if burst:
                            yield burst
                except OperationalError:  # the history lives in the database: down or unreachable now
                    resume = last + 1 if last else from_seq
                    await context.abort(
                        grpc.StatusCode.UNAVAILABLE,
                        f"the journal's database cannot be read now; reconnect with from_seq={resume}",
                    )
                last = max(last, upto)
            while True:
                batch = await sub.next_batch()
                burst: list[JournalRecord] = []
                lingered = False
                while batch is not None:
                    if batch and batch[-1].seq > last:  # live batches come in seq order, each in seq order
                        burst.extend(batch if batch[0].seq > last else [rec for rec in batch if rec.seq > last])
                        last = batch[-1].seq
                    if sub.queue.empty():
                        if not linger_s or lingered or not burst:
                            break
                        # Downstream consumers take records in batches: waiting a moment (once a burst) for more
                        # costs them a few milliseconds and saves a wake-up (and a commit) per order on a busy desk.
                        await asyncio.sleep(linger_s)
                        lingered = True
                        if sub.queue.empty():
                            break
                    batch = sub.next_batch_nowait()
                if burst:
                    yield burst
                if batch is None:
                    return  # the server is shutting down; resume from the last seq seen
                if sub.overflowed:
                    await context.abort(
                        grpc.StatusCode.RESOURCE_EXHAUSTED,
                        f"the stream fell behind; reconnect with from_seq={last + 1}",
                    )
        finally:
            self.publisher.unsubscribe(sub)

    async def _history(self, from_seq: int, upto: int) -> AsyncIterator[list[JournalRecord]]:
        """Committed records ``from_seq..upto`` from the database. Records durable only in the outage spool are
        not there yet: ``OperationalError`` then, as when the database cannot be read, never a gap."""
        seq = from_seq
        while seq <= upto:
            end = min(upto, seq + REPLAY_CHUNK - 1)
            chunk = await asyncio.to_thread(lambda s=seq, e=end: list(self.journal.replay(s, e)))
            if not chunk:  # durable, so in the table unless it waits in the outage spool
                raise OperationalError("journal history", None, Exception(f"seq {seq} is not in the database yet"))
            yield chunk
            seq = chunk[-1].seq + 1

    async def OrderSession(self, request_iterator, context):
        """Requests are handled in arrival order. Acks wait for durability without holding up later requests:
        they queue in seq order and each committed journal batch releases the ones it made durable."""
        mine = SessionOrders()
        out: asyncio.Queue[orders_pb2.SessionResponse | None] = asyncio.Queue()
        waiting: deque[tuple[int, orders_pb2.SessionResponse]] = deque()
        all_released = asyncio.Event()
        all_released.set()
        reading = asyncio.Event()  # cleared while the client leaves SESSION_UNREAD_MAX responses unread
        reading.set()

        def unread() -> int:
            return out.qsize() + len(waiting)

        def release(_records: list[JournalRecord]) -> None:
            durable = self.durability.durable_seq
            while waiting and waiting[0][0] <= durable:
                out.put_nowait(waiting.popleft()[1])
            if not waiting:
                all_released.set()

        # The forwarder moves the session's reports to ``out`` as soon as it runs; cut off, the session would stop
        # receiving them without a word (it has no from_seq to resume from). A busy loop can deliver many committed
        # batches before it runs (a mass cancel of a session's orders), so this queue is never cut off.
        sub = self.publisher.subscribe(mine.accepts, NEVER_CUT_OFF)
        unsubscribe_release = self.durability.on_committed(release)

        async def read_requests() -> None:
            async for batch in request_iterator:
                if len(batch.requests) > SESSION_REQUESTS_MAX:
                    await context.abort(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        f"requests: at most {SESSION_REQUESTS_MAX} per message, got {len(batch.requests)}",
                    )
                for req in batch.requests:
                    try:
                        handle(req)
                    except RetiredOrderNeeded as need:
                        await handle_retired(req, need)
                self.journal.wake()  # let the writer fsync while the loop reads on: bursts share commits
                if unread() >= SESSION_UNREAD_MAX:
                    reading.clear()
                    self._session_reads_paused.add(1)
                    await reading.wait()

        def handle(req: orders_pb2.SessionRequest, retired: Resolved = NONE_RESOLVED) -> None:
            """Answers ``req`` (queued in request order), or raises ``RetiredOrderNeeded`` having changed nothing."""
            which = req.WhichOneof("request")
            new_order_id = ""
            try:
                if which == "submit":
                    order = self.parser.new_order(req.submit)
                    self._require_journal()
                    ack = self.engine.submit(order, retired=retired)
                elif which == "cancel":
                    ack = self.engine.cancel(self.parser.order_ref(req.cancel), retired=retired)
                elif which == "replace":
                    replace = self.parser.replace(req.replace)
                    self._require_journal()
                    ack = self.engine.replace(replace, retired=retired)
                    new_order_id = _replacement_id(self.engine, ack, req.replace.new_client_order_id)
                else:
                    raise invalid("request", "one of submit, cancel or replace is required")
            except Reject as reject:
                refuse(req, reject)
                return
            mine.sent(ack.order, duplicate=ack.duplicate)
            response = orders_pb2.SessionResponse(request_id=req.request_id, ack=_ack_message(ack, new_order_id))
            if ack.seq <= self.durability.durable_seq and not waiting:
                out.put_nowait(response)
            else:
                waiting.append((ack.seq, response))
                all_released.clear()

        def refuse(req: orders_pb2.SessionRequest, reject: Reject) -> None:
            which = req.WhichOneof("request")
            error = orders_pb2.SessionError(code=status_number(reject), message=reject.message, reject_code=reject.code)
            response = orders_pb2.SessionResponse(request_id=req.request_id, error=error)
            method = METHODS.get(which or "", "OrderSession")
            seq = self._journal_refusal(method, "session", reject, getattr(req, which) if which else req)
            if seq is None:  # not journaled (logged): answer in request order all the same
                seq = waiting[-1][0] if waiting else self.durability.durable_seq
            if seq <= self.durability.durable_seq and not waiting:
                out.put_nowait(response)
            else:
                waiting.append((seq, response))  # answered once durable, in request order
                all_released.clear()

        async def handle_retired(req: orders_pb2.SessionRequest, need: RetiredOrderNeeded) -> None:
            """A request about an order retired from memory: read it back, then answer; later requests wait."""
            try:
                await self._retired().answer(lambda resolved: handle(req, resolved), need)
            except Reject as reject:
                refuse(req, reject)

        async def forward_executions() -> None:
            while True:
                batch = await sub.next_batch()
                if batch is None:
                    return
                for rec in batch:
                    out.put_nowait(orders_pb2.SessionResponse(execution=_report(rec)))
                    mine.forwarded(rec)

        reader = asyncio.create_task(read_requests())
        forwarder = asyncio.create_task(forward_executions())
        reader.add_done_callback(lambda _: out.put_nowait(None))
        try:
            ended = False
            while not ended:
                batch, ended = await _next_batch(out)
                if batch:
                    yield orders_pb2.SessionResponses(responses=batch)
                if not reading.is_set() and unread() <= SESSION_UNREAD_MAX // 2:
                    reading.set()
            # The client half-closed: answer what it sent, then end the session.
            await all_released.wait()
            rest = [m for m in _drain(out) if m is not None]
            if rest:
                yield orders_pb2.SessionResponses(responses=rest)
        finally:
            reader.cancel()
            forwarder.cancel()
            unsubscribe_release()
            self.publisher.unsubscribe(sub)
            if reader.done() and not reader.cancelled() and reader.exception() is not None:
                raise reader.exception()
