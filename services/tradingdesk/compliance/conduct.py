"""Market conduct in the compliance service: the journal and market data through the surveillance detectors.

Inputs: the routing journal (``StreamJournal``, its own subscription, resumed from the last seq stored) and
market data (``SubscribeBatches``), both stamped with the desk's clock (market data with the feeds service's receipt
of it, ``MarketDataEvent.desk_time_ns``, however late this service reads it). The journal's order events become
activity records (``core/activity_journal.py``) and quotes and trades the market tape; both are stored
(``storage/conduct_store.py``: what execution quality and the CAT export read) and merged into one time
order (``merge.py``) for the detectors (``surveillance/``). Each detection is stored as an alert (once: alerts
are keyed), recorded in the audit log (``compliance`` / ``surveillance_alert``, ``trail.py``) and logged;
``ListSurveillanceAlerts`` serves them with their place in the audit log.

After a restart the watch reads back the activity and the tape of the detectors' longest horizon before
resuming the journal, so a pattern that straddles the restart is still seen; alerts it finds again are
already stored and stay single.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

import grpc
from sqlalchemy.exc import OperationalError

from tradingdesk.audit.record import SOURCE_COMPLIANCE, Entry, encode_payload
from tradingdesk.compliance.merge import JOURNAL, MARKET, TimeMerge
from tradingdesk.compliance.trail import AuditTrail, Indexed
from tradingdesk.core.activity import MarketActivity, MarketPrint, MarketQuote, OrderActivity
from tradingdesk.core.activity_journal import activities_of
from tradingdesk.core.clock import NS_PER_MS, NS_PER_SECOND, Clock
from tradingdesk.core.event_codec import StreamDecoder
from tradingdesk.core.fixed import parse_fixed
from tradingdesk.edge.directory import ServiceDirectory
from tradingdesk.edge.upstream import Upstream
from tradingdesk.feeds.messages import data_time
from tradingdesk.markets.calendar import NS_PER_MINUTE, ExchangeCalendar
from tradingdesk.spec.conduct import SurveillanceSpec
from tradingdesk.spec.model import TradingDesk
from tradingdesk.storage.codec import decode_payload
from tradingdesk.storage.conduct_store import ConductStore
from tradingdesk.surveillance.alerts import Alert
from tradingdesk.surveillance.monitor import SurveillanceMonitor, detectors_for
from tradingdesk.v1 import market_data_pb2, market_data_pb2_grpc, orders_pb2, orders_pb2_grpc

log = logging.getLogger(__name__)

KIND_SURVEILLANCE_ALERT = "surveillance_alert"
MERGE_LAG_NS = 2 * NS_PER_SECOND
"""How long the merge waits for the later of the two streams (the journal is milliseconds behind)."""
STEP_S = 0.1
UNREACHABLE_RETRY_S = 1.0
"""The pause between steps while the watch's database is unreachable (the step retries what it had not stored)."""
DRAIN_QUIET_S = 0.3
"""On a stop: a market-data stream silent this long has nothing more in flight (a quiet market, or feeds gone)."""
DRAIN_BOUND_S = 5.0
"""On a stop: the longest the watch goes on reading market data it is behind on (the process's stop allows 15 s)."""


def audit_item(alert: Alert, incarnation: str) -> Indexed:
    """An alert as a record of the audit log (``compliance`` / ``surveillance_alert``), indexed by its first
    account and its symbol."""
    payload = {
        "account": alert.accounts[0] if alert.accounts else "",
        "symbol": alert.symbol,
        "detector": alert.detector,
        "owner": alert.owner,
        "accounts": list(alert.accounts),
        "order_ids": list(alert.order_ids),
        "summary": alert.summary,
        "rule": alert.rule,
        "figures": dict(alert.figures),
        "key": alert.key,
    }
    entry = Entry(
        ts_ns=alert.ts_ns,
        source=SOURCE_COMPLIANCE,
        incarnation=incarnation,
        seq=0,
        kind=KIND_SURVEILLANCE_ALERT,
        order_id=alert.order_ids[0] if alert.order_ids else "",
        payload_json=encode_payload(payload),
    )
    return Indexed(entry, payload["account"], alert.symbol)


def horizon_ns(spec: SurveillanceSpec) -> int:
    """How far back the detectors look: what a restarted watch reads again."""
    return (
        max(
            spec.wash_trades.window_ms * NS_PER_MS,
            (spec.spoofing.lookback_ms + spec.spoofing.cancel_within_ms) * NS_PER_MS,
            spec.marking_close.window_minutes * NS_PER_MINUTE,
        )
        + 2 * spec.order_to_trade.window_s * NS_PER_SECOND
    )


class ConductWatch:
    def __init__(
        self,
        desk: TradingDesk,
        *,
        store: ConductStore,
        clock: Clock,
        calendars: Mapping[str, ExchangeCalendar],
        directory: ServiceDirectory | None = None,
        trail: AuditTrail | None = None,
    ) -> None:
        self.desk = desk
        self.store = store
        self.trail = trail
        """The audit log each alert is recorded in (None: alerts are only stored, as in tests of detection)."""
        self.clock = clock
        self.directory = directory or ServiceDirectory.for_desk(desk)
        surveillance = desk.spec.conduct.surveillance
        self.monitor = SurveillanceMonitor(detectors_for(surveillance, calendars))
        self.horizon_ns = horizon_ns(surveillance)
        self.merge = TimeMerge(MERGE_LAG_NS)
        self.decoder = StreamDecoder()
        self.incarnation = ""
        """The journal incarnation being read (a new journal numbers its events from 1 again)."""
        self.position = 0
        """The last journal seq taken in (stored once ``flush`` ran)."""
        self.events = 0
        """Journal and market events taken in."""
        self._activities: list[tuple[int, OrderActivity]] = []
        self._tape: list[MarketActivity] = []
        self._tops: dict[str, tuple[int, int, int, int]] = {}
        self._upstreams: list[Upstream] = []
        self._task: asyncio.Task | None = None
        self._ready = asyncio.Event()
        self._market_batches = 0
        self._market_reached_ns = 0
        """The latest market data time taken in (``data_time`` of its events)."""
        self._stopping_at_ns = 0
        self._read_to_stop = asyncio.Event()
        self._unaudited = True  # until the first step looked: alerts a crash left out of the audit log

    # -- lifecycle ----------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="conduct-watch")

    async def stop(self) -> None:
        if self._ready.is_set():
            await self._read_market_data_to_now()
        for up in self._upstreams:
            await up.stop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.flush()

    async def wait_ready(self) -> None:
        await self._ready.wait()

    async def _read_market_data_to_now(self) -> None:
        """Before the subscriptions stop, read the market data the feeds service already took in, up to the
        instant of the stop, into the tape. This service runs at a lower priority than the order path, and on a
        loaded machine it reads market data late: stopped at once, it left a hole at the tape's end that the
        market never had (35 market seconds at the end of a simulation at 20x, which the verdict then counted as
        a gap and as orders accepted against stale data). Ends when an event of that instant or later arrives,
        when the stream stays silent for ``DRAIN_QUIET_S`` (nothing in flight), or after ``DRAIN_BOUND_S``, with
        a line saying how far the tape got. The journal is not waited for: its subscription resumes after the
        last record stored when the service starts again."""
        self._stopping_at_ns = self.clock.now_ns()
        deadline = time.monotonic() + DRAIN_BOUND_S
        while not self._read_to_stop.is_set():
            batches = self._market_batches
            try:
                async with asyncio.timeout(DRAIN_QUIET_S):
                    await self._read_to_stop.wait()
            except TimeoutError:
                if self._market_batches == batches:
                    return
            if time.monotonic() >= deadline:
                behind_s = (self._stopping_at_ns - self._market_reached_ns) / NS_PER_SECOND
                log.warning(
                    "compliance: stopping with market data unread; the market tape ends %.1f s before the stop",
                    behind_s,
                )
                return

    async def _run(self) -> None:
        self.incarnation, self.position = await asyncio.to_thread(self.store.position)
        await self._warm_up()
        address = self.directory.address
        self._upstreams = [
            Upstream("conduct-journal", address("routing"), self._consume_journal),
            Upstream("conduct-market-data", address("feeds"), self._consume_market_data),
        ]
        for up in self._upstreams:
            up.start()
        self._ready.set()
        pause, unreachable = STEP_S, False
        while True:
            await asyncio.sleep(pause)
            try:
                await self.step()
            except OperationalError as exc:  # its database is down or unreachable: one line, then a slower retry
                if not unreachable:
                    log.warning("compliance: the conduct watch waits for its database: %s", str(exc).splitlines()[0])
                pause, unreachable = UNREACHABLE_RETRY_S, True
                continue
            except Exception:
                log.exception("compliance: the conduct watch failed a step")
            if unreachable:
                log.warning("compliance: the conduct watch reaches its database again")
            pause, unreachable = STEP_S, False

    async def _warm_up(self) -> None:
        """The detectors see again what they saw before a restart, as far back as they look."""
        since = self.clock.now_ns() - self.horizon_ns
        activities, tape = await asyncio.to_thread(
            lambda: (self.store.activities(since_ns=since), self.store.tape(since_ns=since))
        )
        for _, activity in activities:
            self.merge.push(JOURNAL, activity.ts_ns, activity)
        for ev in tape:
            self.merge.push(MARKET, ev.ts_ns, ev)
        if activities or tape:
            log.info(
                "compliance: surveillance read back %d activities and %d market events", len(activities), len(tape)
            )
        await self.step()

    # -- inputs -------------------------------------------------------------------------------------------------
    async def _consume_journal(self, channel: grpc.aio.Channel) -> None:
        stub = orders_pb2_grpc.OrderServiceStub(channel)
        from_seq = self.position + 1
        stream = stub.StreamJournal(orders_pb2.StreamJournalRequest(from_seq=from_seq))
        async for batch in stream:
            if batch.incarnation != self.incarnation:
                self.new_journal(batch.incarnation)
                if from_seq != 1:
                    stream.cancel()
                    return  # the upstream reconnects, from seq 1 of the new journal
            for ev in batch.events:
                self.take_journal(ev.seq, ev.kind, ev.order_id, ev.ts_ns, ev.payload_json)

    def new_journal(self, incarnation: str) -> None:
        """A journal of another incarnation (a fresh database): read it from its first event."""
        if self.incarnation:
            log.warning(
                "compliance: conduct watch follows journal incarnation %s (was %s)", incarnation, self.incarnation
            )
        self.incarnation = incarnation
        self.position = 0
        self.decoder = StreamDecoder()

    def take_journal(self, seq: int, kind: str, order_id: str, ts_ns: int, payload_json: str) -> None:
        """One journal record: its order activity is stored and merged for the detectors."""
        if seq <= self.position:
            return
        self.position = seq
        self.events += 1
        event = self.decoder.decode(kind, order_id, ts_ns, decode_payload(payload_json))
        for activity in activities_of(event):
            self._activities.append((seq, activity))
            self.merge.push(JOURNAL, activity.ts_ns, activity)

    async def _consume_market_data(self, channel: grpc.aio.Channel) -> None:
        stub = market_data_pb2_grpc.MarketDataServiceStub(channel)
        async for batch in stub.SubscribeBatches(market_data_pb2.SubscribeRequest()):
            now = self.clock.now_ns()
            for event in batch.events:
                which = event.WhichOneof("event")
                # stamped with the data's own time on the desk's clock (the feeds service's receipt), the one the
                # risk gate ages its references from, however late this service reads it
                at = data_time(event.desk_time_ns, now)
                self._market_reached_ns = max(self._market_reached_ns, at)
                if which == "quote":
                    q = event.quote
                    if q.stale or not q.bid_price or not q.ask_price:
                        continue
                    self.take_quote(
                        q.symbol,
                        bid=parse_fixed(q.bid_price),
                        ask=parse_fixed(q.ask_price),
                        bid_qty=parse_fixed(q.bid_quantity),
                        ask_qty=parse_fixed(q.ask_quantity),
                        ts_ns=at,
                    )
                elif which == "trade":
                    t = event.trade
                    self.take_market(MarketPrint(at, t.symbol, parse_fixed(t.price), parse_fixed(t.quantity)))
            self._market_batches += 1
            if self._stopping_at_ns and self._market_reached_ns >= self._stopping_at_ns:
                self._read_to_stop.set()

    def take_quote(self, symbol: str, *, bid: int, ask: int, bid_qty: int, ask_qty: int, ts_ns: int) -> None:
        """A quote; kept only when the top of the book changed."""
        top = (bid, ask, bid_qty, ask_qty)
        if self._tops.get(symbol) == top:
            return
        self._tops[symbol] = top
        self.take_market(MarketQuote(ts_ns, symbol, bid, ask, bid_qty, ask_qty))

    def take_market(self, ev: MarketActivity) -> None:
        self.events += 1
        self._tape.append(ev)
        self.merge.push(MARKET, ev.ts_ns, ev)

    # -- detection ----------------------------------------------------------------------------------------------
    def detect(self, now_ns: int) -> list[Alert]:
        """Feed the detectors what the merge releases, in time order, then close the windows that ended."""
        monitor = self.monitor
        alerts: list[Alert] = []
        for stream, item in self.merge.release(now_ns):
            alerts += monitor.on_order(item) if stream == JOURNAL else monitor.on_market(item)
        alerts += monitor.advance(now_ns - MERGE_LAG_NS)
        return alerts

    async def step(self) -> list[Alert]:
        """Detect, store new alerts and record them in the audit log, store what was taken in. Returns the
        alerts stored now."""
        now = self.clock.now_ns()
        alerts = self.detect(now)
        new = await asyncio.to_thread(self.store.record_alerts, alerts, now) if alerts else []
        for alert in new:
            log.warning("compliance: surveillance alert %s: %s (%s)", alert.detector, alert.summary, alert.rule)
        if self.trail is not None and (new or self._unaudited):
            await self.audit()
        await self.flush()
        return new

    async def audit(self) -> None:
        """Record the stored alerts that are not yet in the audit log there (after a crash between the two,
        the next step records them), and note where each went."""
        assert self.trail is not None
        pending = await asyncio.to_thread(self.store.unrecorded_alerts)
        self._unaudited = bool(pending)
        if not pending:
            return
        items = [audit_item(s.alert, self.incarnation) for s in pending]
        try:
            first = await self.trail.append(items)
        except Exception:
            log.exception("compliance: %d surveillance alerts could not be recorded in the audit log yet", len(items))
            return
        await asyncio.to_thread(self.store.set_log_indexes, [(s.id, first + n) for n, s in enumerate(pending)])
        self._unaudited = False

    async def flush(self) -> None:
        activities, tape, position = self._activities, self._tape, (self.incarnation, self.position)
        if not activities and not tape:
            return
        self._activities, self._tape = [], []
        try:
            await asyncio.to_thread(self.store.record, activities=activities, tape=tape, position=position)
        except Exception:  # kept for the next step (the database may be down): stored late, never dropped
            self._activities[:0], self._tape[:0] = activities, tape
            raise
