"""The feeds service: runs the desk's feeds, keeps the market state and serves MarketDataService.

Data path, per message: line -> its ``FeedHandler`` (line checks, A/B arbitration in order, outlier filter)
-> ``MarketState`` (the preferred live feed wins the symbol) -> one protobuf message, built and encoded once
only if someone subscribed to the symbol, pushed by reference into each subscriber's bounded buffer. Nothing
on that path awaits, so a slow subscriber can never slow the lines, the state or other subscribers. The
streams send the shared bytes as they are (``Subscribe``) or framed together (``SubscribeBatches``): encoding
a message per subscriber cost more than the rest of the fan-out.

Nothing is sent when nothing arrives: there is no synthetic heartbeat towards subscribers, so when every
line of every feed is down, consumers' reference prices age and orders are refused as stale. The service
then also reports ``NOT_SERVING`` for ``tradingdesk.v1.MarketDataService`` on gRPC health (when the runtime
gave it the health servicer, see ``bind_health``) and ``serving=false`` in ``GetFeedStatus``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable

import grpc
from grpc.aio import ServicerContext
from grpc_health.v1 import health, health_pb2

from tradingdesk.audit.access import QueuedAccessAudit, to_compliance
from tradingdesk.audit.batching import BatchRefused
from tradingdesk.audit.service_events import CALL_TIMEOUT_S, ServiceEvents, line_enabled_event, refusal_event
from tradingdesk.core.clock import Clock, WallClock
from tradingdesk.core.reject import Reject, RejectKind, invalid, not_found, unavailable
from tradingdesk.edge.clock import desk_clock, replay_join_ns
from tradingdesk.edge.clock_skew import skewable
from tradingdesk.edge.directory import ServiceDirectory
from tradingdesk.edge.door import door_of
from tradingdesk.edge.status import abort
from tradingdesk.feeds import messages, status
from tradingdesk.feeds.arbitration import LineArbitrator
from tradingdesk.feeds.events import QUOTE, STATUS, FeedMessage
from tradingdesk.feeds.fanout import Fanout, Subscriber, SubscriberStats
from tradingdesk.feeds.feed import FeedHandler
from tradingdesk.feeds.metrics import FeedMetrics
from tradingdesk.feeds.monitor import DOWN, Switch
from tradingdesk.feeds.sources import line_adapters, shared_passes
from tradingdesk.feeds.state import FeedInfo, MarketState
from tradingdesk.spec.domain import data_dir, instruments_of
from tradingdesk.spec.model import SYMBOL_PATTERN, FeedSpec, TradingDesk
from tradingdesk.v1 import market_data_pb2 as pb
from tradingdesk.v1 import market_data_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)
WALK_MARKS_DIR = "replay-walk-marks"
"""Under the desk's data directory: where a synthetic replay leaves its walk marks for a restarted feeds process."""

_SYMBOL = re.compile(SYMBOL_PATTERN)
DEFAULT_SUBSCRIBER_BOUND = 4_096
MAX_BATCH = 512
SERVICE_NAME = "tradingdesk.v1.MarketDataService"
SWITCH_QUEUE_BOUND = 1_000
REASON_MAX = 200
ACTOR_MAX = 128

LineFault = Callable[[str, str, int], bool]
"""``(feed, line, seq) -> True`` to lose that message on that line (fault injection)."""


PREENCODED = frozenset({"Subscribe", "SubscribeBatches"})
"""Methods whose responses the service encodes itself (once per event, for every subscriber)."""


def add_to_server(servicer: MarketDataService, server: grpc.aio.Server) -> None:
    """Register MarketDataService as the generated code would, except that the PREENCODED streams send their
    responses as the bytes they are given (no serializer) instead of encoding a message per subscriber."""
    service = pb.DESCRIPTOR.services_by_name["MarketDataService"]
    handlers = {}
    for method in service.methods:
        request = getattr(pb, method.input_type.name)
        response = getattr(pb, method.output_type.name)
        make = grpc.unary_stream_rpc_method_handler if method.server_streaming else grpc.unary_unary_rpc_method_handler
        handlers[method.name] = make(
            getattr(servicer, method.name),
            request_deserializer=request.FromString,
            response_serializer=None if method.name in PREENCODED else response.SerializeToString,
        )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))
    server.add_registered_method_handlers(service.full_name, handlers)


def _record_timeout(context: ServicerContext) -> float:
    """How long compliance may take to record a line change: the call's own deadline, at most ``CALL_TIMEOUT_S``,
    less a margin to answer in."""
    remaining = context.time_remaining()
    return CALL_TIMEOUT_S if remaining is None else max(0.05, min(CALL_TIMEOUT_S, remaining - 0.1))


def _why(exc: Exception) -> str:
    """What compliance answered (or why it could not be reached), for the refusal's message."""
    if isinstance(exc, BatchRefused):
        return str(exc)
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"compliance answered {exc.code().name}: {exc.details()}"
    return f"{type(exc).__name__}: {exc}"


def feed_ranks(feeds: Iterable[FeedSpec]) -> dict[str, FeedInfo]:
    """Each feed's precedence: by ``priority``, then by order in the spec (so ranks are unique)."""
    ordered = sorted(enumerate(feeds), key=lambda pair: (pair[1].priority, pair[0]))
    return {f.name: FeedInfo(f.name, n, f.stale_after_ms * 1_000_000) for n, (_, f) in enumerate(ordered)}


class MarketDataService(pb_grpc.MarketDataServiceServicer):
    """``DeskService`` "feeds": market data for the desk's instruments from all of its feeds."""

    name = "feeds"
    service_names = (SERVICE_NAME,)

    def __init__(
        self,
        desk: TradingDesk,
        clock: Clock | None = None,
        *,
        subscriber_bound: int = DEFAULT_SUBSCRIBER_BOUND,
        line_fault: LineFault | None = None,
    ) -> None:
        self.desk = desk
        self.clock = clock or skewable(WallClock(), self.name)
        """Real time: line monitoring, staleness, receive timestamps."""
        self.desk_clock = desk_clock(desk, service=self.name) if clock is None else None
        """The desk's clock, for the vendor time of replayed sessions (None: ``clock`` is used)."""
        self.subscriber_bound = subscriber_bound
        self.instruments = list(instruments_of(desk).values())
        symbols = [i.symbol for i in self.instruments]
        self.state = MarketState(symbols)
        self.fanout = Fanout(symbols)
        self.feeds = feed_ranks(desk.spec.feeds)
        self.handlers: dict[str, FeedHandler] = {}
        self.published = 0
        """Messages accepted by the state and offered to subscribers."""
        self._line_fault = line_fault
        self._stopped = False
        self._health: health.aio.HealthServicer | None = None
        self._serving: bool | None = None
        self._health_tasks: set[asyncio.Task[None]] = set()
        self._switch_listeners: set[asyncio.Queue[pb.FeedLineSwitch | None]] = set()
        compliance = ServiceDirectory.for_desk(desk).address("compliance")
        self.access_audit = QueuedAccessAudit(to_compliance(compliance, service="feeds"), name="feeds")
        """Access decisions about calls to feeds (``audit.access``): feeds has no journal, compliance records them."""
        self.audit_events = ServiceEvents(compliance, service="feeds")
        """Lines taken out of service or put back, and refused SetLineEnabled requests, for the audit trail."""
        self._line_changes = asyncio.Lock()
        """Held while a line change is recorded and made (and by ``stop``): one at a time, in the trail's order."""

    @property
    def arbitrators(self) -> dict[str, LineArbitrator]:
        return {name: h.arbitrator for name, h in self.handlers.items()}

    # lifecycle -----------------------------------------------------------------------------------------

    async def start(self, server: grpc.aio.Server) -> None:
        add_to_server(self, server)
        # Vendor timestamps of replayed data follow the desk's clock (the replay clock: the session's open). A feeds
        # process started after the desk's replay began (restarted by the supervisor) joins the replay where the
        # desk's clock is: playing the data again from its start would send the session's busy opening at once,
        # hours late, and hold routing's loop for many seconds re-seeding its simulated venues.
        # Started before the replay's origin (the desk still warming up), it waits for the origin: its first event
        # comes with the desk's clock at the open, never ahead of it.
        resume_ns = replay_join_ns(self.desk_clock) if self.desk_clock is not None else 0
        start_ns = (self.desk_clock or self.clock).now_ns() - max(resume_ns, 0)
        if resume_ns > 0:
            log.info("feeds: joining the desk's replay %.1f s of replay time in", resume_ns / 1e9)
        elif resume_ns < 0:
            log.info("feeds: the replay begins in %.1f s of replay time; the replay feeds wait", -resume_ns / 1e9)
        symbols = self.state.symbols
        passes = shared_passes(self.desk.spec.feeds, self.instruments, marks_dir=data_dir(self.desk) / WALK_MARKS_DIR)
        for spec in self.desk.spec.feeds:
            heartbeat_ns = spec.failover_after_ms * 1_000_000 // 4
            adapters = line_adapters(
                spec,
                self.instruments,
                start_ns,
                heartbeat_ns=heartbeat_ns,
                drop=self._fault_of(spec.name),
                resume_ns=resume_ns if spec.kind == "replay" else 0,
                shared_pass=passes.get(spec.name),
            )
            self.handlers[spec.name] = FeedHandler(
                spec,
                self.feeds[spec.name],
                adapters,
                clock=self.clock,
                symbols=symbols,
                publish=self._publish,
                publish_snapshot=self._publish_snapshot,
                on_health=self._feed_health_changed,
                on_switch=self._line_switched,
            )
        for spec in self.desk.spec.feeds:
            handler = self.handlers[spec.name]
            if resume_ns > 0 and spec.kind == "replay":
                handler.arbitrator.join()  # its lines skip what the desk's clock has passed: no gap after 1
            handler.start()
        self.access_audit.start()
        self.audit_events.start()
        FeedMetrics(self)

    def bind_health(self, servicer: health.aio.HealthServicer) -> None:
        """Report data health on gRPC health for ``tradingdesk.v1.MarketDataService`` from now on.

        The runtime calls this with its ``grpc_health`` servicer once the server is up. Only the named service
        flips: the process itself (service "") stays SERVING, so operators can still reach GetFeedStatus.
        """
        self._health = servicer
        self._serving = None
        self._feed_health_changed(None)

    async def drain(self) -> None:
        """Before the server stops: end every stream now rather than holding the shutdown grace period."""
        await self.stop()

    async def stop(self) -> None:
        """Stop the lines and end every subscription stream (clients see the stream complete)."""
        async with self._line_changes:  # a line change being recorded is made before the lines stop
            self._stopped = True
        self._health = None
        await asyncio.gather(*(h.stop() for h in self.handlers.values()))
        self.fanout.close_all()
        for queue in tuple(self._switch_listeners):
            self._end_switch_stream(queue)
        await self.access_audit.stop()
        await self.audit_events.stop()

    def _fault_of(self, feed: str) -> Callable[[str, int], bool] | None:
        fault = self._line_fault
        return None if fault is None else (lambda line, seq: fault(feed, line, seq))

    def _desk_now(self) -> int:
        """The desk's clock (the replay's in a replayed desk; ``clock`` when the service was given one)."""
        return (self.desk_clock or self.clock).now_ns()

    # health ----------------------------------------------------------------------------------------------

    @property
    def serving(self) -> bool:
        """Whether any feed has a live line (market data is flowing)."""
        return any(h.health != DOWN for h in self.handlers.values())

    def _feed_health_changed(self, _handler: FeedHandler | None) -> None:
        serving = self.serving
        if serving == self._serving or self._health is None:
            return
        self._serving = serving
        if not serving:
            log.error("feeds: no feed has a live line; market data is down")
        code = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        task = asyncio.get_running_loop().create_task(self._health.set(SERVICE_NAME, code))
        self._health_tasks.add(task)
        task.add_done_callback(self._health_tasks.discard)

    # data path -----------------------------------------------------------------------------------------

    def _publish(self, feed: FeedInfo, msg: FeedMessage, now: int) -> None:
        sym = self.state.apply(feed, msg, now)
        if sym is None:
            return
        # the data's own time on the desk's clock, carried to every subscriber: one that reads it late (a loaded
        # routing seconds behind) must age a reference from here, not from its own receipt
        desk_now = self._desk_now()
        if sym.updated_ns == now:  # not a late copy of a print (published, but the symbol's state keeps its time)
            sym.desk_updated_ns = desk_now
        self.published += 1
        event = msg.event
        subscribers = self.fanout.by_symbol[event.symbol]
        if not subscribers:
            return
        kind = event.kind
        if kind == QUOTE:
            out = messages.live_quote_event(sym, feed.name).SerializeToString()
            for s in subscribers:
                s.push_quote(event.symbol, out)
        elif kind == STATUS:
            out = messages.status_event(msg, feed.name).SerializeToString()
            for s in subscribers:
                s.push_status(event.symbol, out)
        else:
            out = messages.trade_event(msg, feed.name, desk_time_ns=desk_now).SerializeToString()
            for s in subscribers:
                s.push_trade(out)

    def _publish_snapshot(self, feed: FeedInfo, quotes: list[FeedMessage], now: int) -> None:
        """Restate symbols after a loss: each quote or status replaces the state's only if it is newer."""
        for msg in quotes:
            symbol = msg.event.symbol
            sym = self.state.apply(feed, msg, now)
            if sym is None:
                continue  # unknown symbol, another feed wins it, or the state already has newer
            sym.desk_updated_ns = self._desk_now()
            if msg.event.kind == STATUS:
                status = messages.status_event(msg, feed.name, snapshot=True).SerializeToString()
                for s in self.fanout.by_symbol[symbol]:
                    s.push_status(symbol, status)
                continue
            view = self.state.view(symbol, now)
            if view is None:
                continue
            out = messages.snapshot_event(view).SerializeToString()
            for s in self.fanout.by_symbol[symbol]:
                s.push_quote(symbol, out)

    # RPCs ----------------------------------------------------------------------------------------------

    async def GetQuote(self, request: pb.GetQuoteRequest, context: ServicerContext) -> pb.Quote:
        symbol = request.symbol
        if not symbol or not _SYMBOL.match(symbol):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"symbol: {symbol!r} is not a valid symbol")
        if symbol not in self.state:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"symbol: {symbol} is not traded by the desk")
        view = self.state.view(symbol, self.clock.now_ns())
        if view is None or view.quote is None:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"symbol: no quote for {symbol} yet")
        assert view is not None
        return messages.quote(view)

    async def GetSnapshot(self, request: pb.GetSnapshotRequest, context: ServicerContext) -> pb.Snapshot:
        symbols = await self._requested(request.symbols, context)
        views = self.state.snapshot(self.clock.now_ns(), symbols)
        return pb.Snapshot(quotes=[messages.quote(v) for v in views if v.quote is not None])

    async def Subscribe(self, request: pb.SubscribeRequest, context: ServicerContext) -> AsyncIterator[bytes]:
        """Encoded ``MarketDataEvent`` messages, one per gRPC message (see ``add_to_server``)."""
        subscriber = await self._subscribe(request, context)
        try:
            while (event := await subscriber.get()) is not None:
                yield event
        finally:
            self.fanout.remove(subscriber)
            subscriber.close()

    async def SubscribeBatches(self, request: pb.SubscribeRequest, context: ServicerContext) -> AsyncIterator[bytes]:
        """Encoded ``MarketDataBatch`` messages of whatever is waiting (see ``add_to_server``)."""
        subscriber = await self._subscribe(request, context)
        try:
            while events := await subscriber.get_batch(MAX_BATCH):
                yield messages.encode_batch(events)
        finally:
            self.fanout.remove(subscriber)
            subscriber.close()

    async def _subscribe(self, request: pb.SubscribeRequest, context: ServicerContext) -> Subscriber:
        """A registered subscriber with the snapshot of its symbols queued first."""
        symbols = await self._requested(request.symbols, context)
        if self._stopped:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the feeds service is stopping")
        chosen = symbols if request.symbols else ()
        bound = max(self.subscriber_bound, 2 * len(symbols))  # the snapshot (quote, status) always fits
        subscriber = Subscriber(bound, chosen, peer=context.peer())
        # Snapshot and registration happen without an await in between: no live event can fall between them.
        for view in self.state.snapshot(self.clock.now_ns(), symbols):
            if view.quote is not None:
                subscriber.push_quote(view.symbol, messages.snapshot_event(view).SerializeToString())
            if view.status is not None:
                status = messages.status_event(view.status, view.feed, snapshot=True)
                subscriber.push_status(view.symbol, status.SerializeToString())
        self.fanout.add(subscriber, symbols)
        return subscriber

    async def GetFeedStatus(self, request: pb.GetFeedStatusRequest, context: ServicerContext) -> pb.FeedStatusReport:
        unknown = [f for f in request.feeds if f not in self.handlers]
        if unknown:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"feeds: not feeds of the desk: {', '.join(unknown)}")
        chosen = list(dict.fromkeys(request.feeds)) or list(self.handlers)
        now = self.clock.now_ns()
        return pb.FeedStatusReport(
            feeds=[status.feed_status(self.handlers[name], now) for name in chosen],
            serving=self.serving,
            stale_symbols=[s for s in self.state.symbols if self.state.is_stale(s, now)],
            time_ns=now,
        )

    async def SetLineEnabled(self, request: pb.SetLineEnabledRequest, context: ServicerContext) -> pb.FeedStatus:
        """Take a line out of service or put it back. The change is recorded in the audit trail (compliance,
        through ``audit_events``) with who asked, through which door and why before it is made, as risk journals
        its changes before applying them: when compliance cannot record it, the request is refused with
        ``UNAVAILABLE`` (``AUDIT_UNAVAILABLE``) and nothing changes. Refused requests are recorded too, before the
        answer when compliance takes them at once, else from the queue when it is back. One change at a time, so
        the trail records them in the order they are made."""
        async with self._line_changes:
            try:
                handler = self._line_handler(request)
                event = line_enabled_event(
                    ts_ns=self.clock.now_ns(),
                    service=self.name,
                    feed=request.feed,
                    line=request.line,
                    enabled=request.enabled,
                    actor=request.actor,
                    reason=request.reason,
                    door=door_of(context),
                    peer=context.peer(),
                    line_state=handler.state_after(request.line, enabled=request.enabled),
                )
                try:
                    await self.audit_events.hand_over([event], timeout=_record_timeout(context))
                except Exception as exc:
                    log.error("feeds: %s line %s not changed: compliance did not record it: %s", request.feed,
                              request.line, exc)  # fmt: skip
                    raise unavailable(
                        f"the change could not be recorded in the audit trail, so it was not made: {_why(exc)}",
                        "AUDIT_UNAVAILABLE",
                    ) from None
            except Reject as reject:
                await self._refuse(context, reject, request)
            if request.enabled:
                handler.enable_line(request.line)
            else:
                handler.disable_line(request.line, request.reason)
        return status.feed_status(handler, self.clock.now_ns())

    async def _refuse(self, context: ServicerContext, reject: Reject, request: pb.SetLineEnabledRequest) -> None:
        """Record the refused request in the audit trail (at once if compliance takes it, else queued), then
        answer it. A request refused because the service is stopping was not refused: it is not recorded."""
        if reject.kind is not RejectKind.UNAVAILABLE or reject.code == "AUDIT_UNAVAILABLE":
            event = refusal_event(
                ts_ns=self.clock.now_ns(),
                service=self.name,
                method="SetLineEnabled",
                door=door_of(context),
                reject=reject,
                request=request,
                peer=context.peer(),
            )
            if reject.code == "AUDIT_UNAVAILABLE":
                self.audit_events.record(event)  # compliance did not answer just now: the queue retries
            else:
                try:
                    await self.audit_events.hand_over([event], timeout=_record_timeout(context))
                except Exception:
                    self.audit_events.record(event)
        await abort(context, reject)

    def _line_handler(self, request: pb.SetLineEnabledRequest) -> FeedHandler:
        """The feed handler a SetLineEnabled request names; a ``Reject`` naming the bad field."""
        handler = self.handlers.get(request.feed)
        if handler is None:
            raise not_found(f"feed: {request.feed!r} is not a feed of the desk")
        if request.line not in handler.lines:
            raise not_found(
                f"line: {request.line!r} is not a line of feed {request.feed} (lines: {', '.join(handler.lines)})"
            )
        if len(request.reason) > REASON_MAX:
            raise invalid("reason", f"at most {REASON_MAX} characters")
        if len(request.actor) > ACTOR_MAX:
            raise invalid("actor", f"at most {ACTOR_MAX} characters")
        if self._stopped:
            raise unavailable("the feeds service is stopping", "STOPPING")
        return handler

    def _line_switched(self, handler: FeedHandler, switch: Switch) -> None:
        message = pb.FeedLineSwitch(feed=handler.spec.name, line_switch=status.switch_message(switch))
        for queue in tuple(self._switch_listeners):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:  # that reader is stuck: end its stream; it reconnects and reads the history
                self._end_switch_stream(queue)

    def _end_switch_stream(self, queue: asyncio.Queue[pb.FeedLineSwitch | None]) -> None:
        self._switch_listeners.discard(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)

    async def StreamLineSwitches(
        self, request: pb.StreamLineSwitchesRequest, context: ServicerContext
    ) -> AsyncIterator[pb.FeedLineSwitch]:
        """The switches each feed remembers, then every new one. Registering and reading the history happen
        without an await in between, so no switch falls between them (a reader may see one twice)."""
        if self._stopped:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the feeds service is stopping")
        queue: asyncio.Queue[pb.FeedLineSwitch | None] = asyncio.Queue(SWITCH_QUEUE_BOUND)
        self._switch_listeners.add(queue)
        history = [
            pb.FeedLineSwitch(feed=name, line_switch=status.switch_message(s), history=True)
            for name, handler in self.handlers.items()
            for s in handler.monitor.switches
        ]
        try:
            for message in history:
                yield message
            while (message := await queue.get()) is not None:
                yield message
        finally:
            self._switch_listeners.discard(queue)

    async def _requested(self, requested: Iterable[str], context: ServicerContext) -> list[str]:
        """The requested symbols, de-duplicated in order (all when none); aborts naming bad ones."""
        chosen = list(dict.fromkeys(requested))
        if not chosen:
            return list(self.state.symbols)
        malformed = [s for s in chosen if not _SYMBOL.match(s)]
        if malformed:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"symbols: not valid symbols: {malformed}")
        unknown = [s for s in chosen if s not in self.state]
        if unknown:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"symbols: not instruments of the desk: {', '.join(unknown)}",
            )
        return chosen

    # monitoring ----------------------------------------------------------------------------------------

    def subscriber_stats(self) -> list[SubscriberStats]:
        return [s.stats() for s in self.fanout.subscribers()]
