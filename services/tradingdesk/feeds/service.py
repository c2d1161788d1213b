"""The feeds service: replays the desk's feeds, arbitrates their lines and serves MarketDataService.

Data path, per message: line -> its feed's ``LineArbitrator`` (first copy wins) -> ``MarketState`` (the
preferred live feed wins the symbol) -> one protobuf message, built only if someone subscribed to the
symbol, pushed by reference into each subscriber's bounded buffer. Nothing on that path awaits, so a slow
subscriber can never slow the lines, the state or other subscribers.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable

import grpc
from grpc.aio import ServicerContext

from tradingdesk.core.clock import Clock, WallClock
from tradingdesk.feeds import messages
from tradingdesk.feeds.arbitration import LineArbitrator
from tradingdesk.feeds.events import QUOTE, FeedMessage
from tradingdesk.feeds.fanout import Fanout, Subscriber, SubscriberStats
from tradingdesk.feeds.replay import ReplayLine
from tradingdesk.feeds.sources import replay_lines
from tradingdesk.feeds.state import FeedInfo, MarketState
from tradingdesk.spec.domain import instruments_of
from tradingdesk.spec.model import SYMBOL_PATTERN, FeedSpec, TradingDesk
from tradingdesk.v1 import market_data_pb2 as pb
from tradingdesk.v1 import market_data_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

_SYMBOL = re.compile(SYMBOL_PATTERN)
DEFAULT_SUBSCRIBER_BOUND = 4_096

LineFault = Callable[[str, str, int], bool]
"""``(feed, line, seq) -> True`` to lose that message on that line (fault injection)."""


def feed_ranks(feeds: Iterable[FeedSpec]) -> dict[str, FeedInfo]:
    """Each feed's precedence: by ``priority``, then by order in the spec (so ranks are unique)."""
    ordered = sorted(enumerate(feeds), key=lambda pair: (pair[1].priority, pair[0]))
    return {f.name: FeedInfo(f.name, n, f.stale_after_ms * 1_000_000) for n, (_, f) in enumerate(ordered)}


class MarketDataService(pb_grpc.MarketDataServiceServicer):
    """``DeskService`` "feeds": market data for the desk's instruments from all of its feeds."""

    name = "feeds"
    service_names = ("tradingdesk.v1.MarketDataService",)

    def __init__(
        self,
        desk: TradingDesk,
        clock: Clock | None = None,
        *,
        subscriber_bound: int = DEFAULT_SUBSCRIBER_BOUND,
        line_fault: LineFault | None = None,
    ) -> None:
        self.desk = desk
        self.clock = clock or WallClock()
        self.subscriber_bound = subscriber_bound
        self.instruments = list(instruments_of(desk).values())
        symbols = [i.symbol for i in self.instruments]
        self.state = MarketState(symbols)
        self.fanout = Fanout(symbols)
        self.feeds = feed_ranks(desk.spec.feeds)
        self.arbitrators = {f.name: LineArbitrator([line.name for line in f.lines]) for f in desk.spec.feeds}
        self.lines: dict[tuple[str, str], ReplayLine] = {}
        self.published = 0
        """Messages accepted by the state and offered to subscribers."""
        self._line_fault = line_fault
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = False

    # lifecycle -----------------------------------------------------------------------------------------

    async def start(self, server: grpc.aio.Server) -> None:
        pb_grpc.add_MarketDataServiceServicer_to_server(self, server)
        for feed in self.desk.spec.feeds:
            if feed.kind != "replay":
                log.warning("feed %s: kind %s is not supported yet; skipped", feed.name, feed.kind)
                continue
            drop = self._fault_of(feed.name)
            for line in replay_lines(feed, self.instruments, self.clock.now_ns(), drop=drop):
                self.lines[(feed.name, line.name)] = line
        for (feed_name, line_name), line in self.lines.items():
            task = asyncio.create_task(
                self._run_line(self.feeds[feed_name], self.arbitrators[feed_name], line),
                name=f"feeds:{feed_name}:{line_name}",
            )
            self._tasks.append(task)

    async def drain(self) -> None:
        """Before the server stops: end every stream now rather than holding the shutdown grace period."""
        await self.stop()

    async def stop(self) -> None:
        """Stop the lines and end every subscription stream (clients see the stream complete)."""
        self._stopped = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self.fanout.close_all()

    def _fault_of(self, feed: str) -> Callable[[str, int], bool] | None:
        fault = self._line_fault
        return None if fault is None else (lambda line, seq: fault(feed, line, seq))

    # data path -----------------------------------------------------------------------------------------

    async def _run_line(self, feed: FeedInfo, arbitrator: LineArbitrator, line: ReplayLine) -> None:
        accept, publish = arbitrator.accept, self._publish
        try:
            async for msg in line:
                if accept(msg):
                    publish(feed, msg)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("feed %s line %s failed; the other line (if any) carries on", feed.name, line.name)

    def _publish(self, feed: FeedInfo, msg: FeedMessage) -> None:
        sym = self.state.apply(feed, msg, self.clock.now_ns())
        if sym is None:
            return
        self.published += 1
        event = msg.event
        subscribers = self.fanout.by_symbol[event.symbol]
        if not subscribers:
            return
        if event.kind == QUOTE:
            out = messages.live_quote_event(sym, feed.name)
            for s in subscribers:
                s.push_quote(event.symbol, out)
        else:
            out = messages.trade_event(msg, feed.name)
            for s in subscribers:
                s.push_trade(out)

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

    async def Subscribe(
        self, request: pb.SubscribeRequest, context: ServicerContext
    ) -> AsyncIterator[pb.MarketDataEvent]:
        symbols = await self._requested(request.symbols, context)
        if self._stopped:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the feeds service is stopping")
        chosen = symbols if request.symbols else ()
        bound = max(self.subscriber_bound, 2 * len(symbols))  # the snapshot always fits in the queue
        subscriber = Subscriber(bound, chosen, peer=context.peer())
        # Snapshot and registration happen without an await in between: no live event can fall between them.
        for view in self.state.snapshot(self.clock.now_ns(), symbols):
            if view.quote is not None:
                subscriber.push_quote(view.symbol, messages.snapshot_event(view))
        self.fanout.add(subscriber, symbols)
        try:
            while (event := await subscriber.get()) is not None:
                yield event
        finally:
            self.fanout.remove(subscriber)
            subscriber.close()

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
