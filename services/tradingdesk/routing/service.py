"""The routing service assembled: journal, engine, gate, venues, and its market data and risk inputs.

One routing replica is active at a time; the others are hot standbys. The active one holds the journal's writer
lock (``storage/fence.py``: PostgreSQL refuses any other writer). A standby replays the journal at start, then
follows what the active one commits, keeps its venue books and gate references warm from market data and its
gate current from the risk service, and refuses order calls (UNAVAILABLE, OrderService NOT_SERVING: not ready,
so not behind the Kubernetes Service). The moment the active replica's database session ends, the standby gets
the lock, applies the last records, reseats the open orders, carries out any halt it deferred, and serves, saying
when it took over (``routing/takeover.py``: the RoutingFailover alert). In the
embedded desk, where the two share a host and an address, a standby listens on routing's address only from then
on (``runtime/service.py``, ``own_address``). A standby outlives a database outage: it waits for the database, still
standing by.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Iterator

import grpc
from opentelemetry import metrics
from sqlalchemy.exc import SQLAlchemyError

from tradingdesk.audit.access import QueuedAccessAudit
from tradingdesk.core.clock import Clock
from tradingdesk.core.enums import TimeInForce, TradingState
from tradingdesk.core.events import AccessDecision, AccessRecorded, FeedSwitched, JournalEvent
from tradingdesk.core.gc_pause import collector_paused
from tradingdesk.core.ids import IdGenerator
from tradingdesk.edge.clock import desk_clock
from tradingdesk.edge.directory import ServiceDirectory
from tradingdesk.edge.standby import Standby
from tradingdesk.edge.upstream import Upstream
from tradingdesk.feeds.messages import data_time
from tradingdesk.markets.breakers import BreakerTrip
from tradingdesk.markets.calendar_source import desk_calendars
from tradingdesk.markets.status import SymbolStatus, status_name
from tradingdesk.oms.engine import OrderEngine
from tradingdesk.oms.router import Router
from tradingdesk.risk.gate.market import MarketConduct, local_time
from tradingdesk.risk.gate.self_match import SelfMatchPolicy
from tradingdesk.risk.gate_stream import follow_gate_updates, gate_name
from tradingdesk.risk.limits import SPEC_STATES, Limits
from tradingdesk.risk.scope import scope_label
from tradingdesk.risk.wire import limits_from_proto, state_from_proto
from tradingdesk.routing.market_data import parse_market_fixed, superseded_quotes, usable
from tradingdesk.routing.order_telemetry import MeasuredRiskGate, OrderLatencyMetrics, TracedVenue
from tradingdesk.routing.publisher import RecordPublisher
from tradingdesk.routing.requests import RequestParser
from tradingdesk.routing.retired_orders import RetiredOrders
from tradingdesk.routing.servicer import OrderServicer
from tradingdesk.routing.snapshots import RoutingSnapshots
from tradingdesk.routing.takeover import Takeover
from tradingdesk.routing.venue_faults import VenueFaults
from tradingdesk.routing.venue_health import VenueHealth
from tradingdesk.routing.venue_pacing import PacedVenueListener
from tradingdesk.spec.domain import data_dir, dsn_for, instruments_of, schema_for
from tradingdesk.spec.model import TradingDesk
from tradingdesk.spec.types import units
from tradingdesk.storage.db import is_sqlite, make_engine, prepare_schema
from tradingdesk.storage.fence import exit_fenced
from tradingdesk.storage.incarnation import journal_incarnation
from tradingdesk.storage.journal import Journal, JournalFenced, JournalRecord, JournalStandby, read_journal
from tradingdesk.storage.journal_async import AsyncDurability
from tradingdesk.storage.spool import OutageSpool, SpoolOwned
from tradingdesk.telemetry import tracer
from tradingdesk.telemetry.journal_trace import OrderTraceContexts
from tradingdesk.v1 import market_data_pb2, market_data_pb2_grpc, orders_pb2_grpc, risk_pb2
from tradingdesk.venues.scheduling import LoopScheduler
from tradingdesk.venues.simulated import SimulatedVenue

log = logging.getLogger(__name__)
JOURNAL_RETRY_MAX_S = 1.0
JOURNAL_SPOOL = "routing-journal-spool"
"""Under the desk's data directory: the journal's outage spool (``spec.routing.outageSpool``)."""
"""The longest pause between two attempts of the journal writer to reach a database that is down: new orders are
refused until a commit succeeds, so the desk trades again at most this long after the database is back."""
BACKGROUND_COMMIT_DELAY_S = 0.002
GATE_PICTURE = "the risk service's first picture of limits and trading states"
FOLLOW_INTERVAL_S = 0.05  # how often a standby reads what the active replica committed
STANDBY_RETRY_S = 0.5
"""How long a standby waits before it reads the journal again while the database is down (it must outlive it)."""
TAKEOVER_AFTER_OUTAGE_S = 2 * JOURNAL_RETRY_MAX_S
"""How long a standby that lost the database waits, once it answers again, before it queues for the writer lock
again. A database outage cuts the active replica's session too, and its lock with it; the active one takes the lock
back within ``JOURNAL_RETRY_MAX_S`` of the database's return (at its next write), so it keeps the journal and a
database blip costs no takeover. A standby that queued at once could win the lock and fence the live active
replica off. One whose active replica died meanwhile takes over this much later."""
SWITCHES_REMEMBERED = 10_000


class StartPhases:
    """How long each phase of ``RoutingService.start`` took, wall and CPU (every thread of the process), for its one
    log line: a restart's downtime is the sum of these and of the process's own start, which one dominates is only
    known by measuring it, and on a loaded machine the CPU time says what the wall time cannot."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.started_cpu = self.last_cpu = time.process_time()
        self.phases: list[tuple[str, float, float]] = []

    def done(self, phase: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        self.phases.append((phase, now - self.last, cpu - self.last_cpu))
        self.last, self.last_cpu = now, cpu

    def __str__(self) -> str:
        parts = ", ".join(f"{name} {secs * 1e3:.0f}/{cpu * 1e3:.0f}" for name, secs, cpu in self.phases)
        total, total_cpu = self.last - self.started, self.last_cpu - self.started_cpu
        return f"{total * 1e3:.0f} ms, {total_cpu * 1e3:.0f} ms CPU (wall/CPU ms: {parts})"


class RoutingService:
    name = "routing"
    service_names = ("tradingdesk.v1.OrderService",)
    gated_names = service_names  # reported by ``standby``: SERVING only on the active replica

    def __init__(
        self,
        desk: TradingDesk,
        *,
        clock: Clock | None = None,
        directory: ServiceDirectory | None = None,
        dsn: str | None = None,
    ) -> None:
        self.desk = desk
        self.clock = clock or desk_clock(desk, service=self.name)
        self.directory = directory or ServiceDirectory.for_desk(desk)
        self.dsn = dsn or dsn_for(desk, "routing")
        self.instruments = instruments_of(desk)
        spec = desk.spec
        self.tracer = tracer("tradingdesk.routing")  # None while traces are off
        self.traces = OrderTraceContexts() if self.tracer is not None else None
        """Each order's trace context, sent with its journal events (traces on only)."""
        self.gate = MeasuredRiskGate(
            Limits.from_spec(spec.risk),
            SPEC_STATES[spec.trading_state],
            self_match=SelfMatchPolicy.from_spec(spec.conduct.self_match_prevention),
            tracer=self.tracer,
        )
        self.publisher = RecordPublisher()
        self.upstreams: list[Upstream] = []
        self.db = make_engine(self.dsn, schema=schema_for(desk, "routing"))
        self.journal: Journal | None = None
        self.engine: OrderEngine | None = None
        self.durability: AsyncDurability | None = None
        self.venues: dict[str, SimulatedVenue] = {}
        self.venue_answers: PacedVenueListener | None = None
        self.recovered = 0
        self.journaled_switches: dict[tuple[str, int, str], None] = {}
        """(feed, switched_ns, to_line) of the feed line switches in the journal, the newest last."""
        self.access_audit = QueuedAccessAudit(self._journal_access, name="routing")
        """Access decisions about calls to routing (``audit.access``), into the journal."""
        self.applied_seq = 0  # the last journal record this replica applied to its engine
        self.applied_ts_ns = 0
        self.standby = Standby(self.service_names[0], "standby: another routing replica is active; retry")
        # Ready (and the embedded desk up) once the gate has the risk service's picture: a kill switch pulled
        # from then on reaches this gate, instead of answering "applied by 0 of 0 gates".
        self.standby.hold(GATE_PICTURE)
        self.interceptors = (self.standby,)
        self._stopping = threading.Event()
        self._lead_task: asyncio.Task | None = None
        self.snapshots: RoutingSnapshots | None = None
        self._snapshot_task: asyncio.Task | None = None
        self.takeover = Takeover()
        """When this replica took the journal over as a standby (``RoutingFailover``); 0 while it never did."""

    async def start(self, server: grpc.aio.Server) -> None:
        loop = self._loop = asyncio.get_running_loop()
        self._commit_scheduled = False
        self._commit_on_loop = is_sqlite(self.db)
        self._wake_armed = False
        spec = self.desk.spec
        phases = StartPhases()
        await asyncio.to_thread(prepare_schema, self.db)
        phases.done("schema")
        calendars = await asyncio.to_thread(desk_calendars, self.desk)
        phases.done("calendars")
        self.gate.bind_market(MarketConduct.from_desk(self.desk, calendars))
        self.journal = await asyncio.to_thread(
            Journal,
            self.db,
            batch_max=spec.routing.journal_batch_max,
            inline=True,
            standby=True,
            retry_max_s=JOURNAL_RETRY_MAX_S,
            on_fenced=lambda: exit_fenced(self.name, "another routing replica took the journal over"),
            spool=OutageSpool(data_dir(self.desk) / JOURNAL_SPOOL) if spec.routing.outage_spool else None,
        )
        phases.done("journal")
        scheduler = LoopScheduler(loop)
        symbols_by_venue = {v.name: frozenset(v.symbols) for v in spec.venues}
        taker_fees = {v.name: units(v.taker_fee_per_unit) for v in spec.venues}
        default_venue = spec.routing.default_venue or spec.venues[0].name
        router = Router(
            self.venues,
            symbols_by_venue=symbols_by_venue,
            taker_fees=taker_fees,
            default_venue=default_venue,
            smart=spec.routing.smart_routing,
        )
        self.engine = OrderEngine(
            instruments=self.instruments,
            gate=self.gate,
            router=router,
            venues=self.venues,
            journal_append=self._append,
            clock=self.clock,
            scheduler=scheduler,
            max_open_orders=spec.routing.max_open_orders,
            venue_ack_timeout_ms=spec.routing.venue_ack_timeout_ms,
            finished_orders_kept=spec.routing.finished_orders_kept,
        )
        # Every venue answers through the pacer, which holds answers back while the journal's backlog is long.
        self.venue_answers = PacedVenueListener(
            self.engine, journal=self.journal, max_backlog=spec.routing.venue_answers_max_backlog, loop=loop
        )
        self.engine.answer_waiting = self.venue_answers.holds_answer_for
        self.venue_answers.observe(metrics.get_meter("tradingdesk.routing"))
        self.takeover.observe(metrics.get_meter("tradingdesk.routing"))
        venue_type = SimulatedVenue if self.tracer is None else functools.partial(TracedVenue, tracer=self.tracer)
        for v in spec.venues:
            venue_instruments = {s: i for s, i in self.instruments.items() if not v.symbols or s in v.symbols}
            self.venues[v.name] = venue_type(
                v.name,
                instruments=venue_instruments,
                listener=self.venue_answers,
                scheduler=scheduler,
                clock=self.clock,
                latency_us=v.latency_us,
                maker_fee_per_unit=units(v.maker_fee_per_unit) - units(v.maker_rebate_per_unit),
                taker_fee_per_unit=units(v.taker_fee_per_unit),
                impact_coefficient_bps=v.impact_bps,
                depth_levels=v.depth_levels,
            )
        self.engine.bus.subscribe(self._remember_switch)  # replayed and followed switches too
        venue_faults = VenueFaults(self.venues)
        self.engine.bus.subscribe(venue_faults.apply)  # a restart or a standby replays the venues' faults
        incarnation = await asyncio.to_thread(journal_incarnation, self.db)
        self.snapshots = RoutingSnapshots(
            self.db,
            engine=self.engine,
            spec=spec.routing.snapshots,
            incarnation=incarnation,
            extra=lambda: {"line_switches": self.journaled_switches},
        )
        # The newest valid snapshot, then replay what is committed after it (all of it without one); an active
        # replica then continues the numbering after it, a standby follows.
        with collector_paused():  # a rebuild makes long-lived objects only: collecting finds nothing to free
            loaded = await asyncio.to_thread(self.snapshots.load)
            phases.done("snapshot")
            if loaded is not None:
                self.journaled_switches.update(loaded.state.extra.get("line_switches", {}))
                self.applied_seq, self.applied_ts_ns = loaded.state.seq, loaded.record_ts_ns
                log.info("routing: journal snapshot at seq %d loaded (%.1f MB)", self.applied_seq, loaded.size / 1e6)
            self.recovered = await asyncio.to_thread(self._apply_all_committed)
            phases.done("replay")
        self.durability = AsyncDurability(self.journal, loop)
        self.durability.on_committed(self.publisher.publish)
        self.durability.on_committed(OrderLatencyMetrics(self.engine, self.clock, journal=self.journal).on_committed)
        self.venue_answers.follow(self.durability)
        parser = RequestParser(
            instruments=self.instruments,
            accounts={a.name: frozenset(a.strategies) for a in spec.accounts},
            venues=frozenset(self.venues),
            default_tif=TimeInForce[spec.routing.default_time_in_force],
            clock=self.clock,
        )
        servicer = OrderServicer(
            self.engine,
            parser,
            self.journal,
            self.durability,
            self.publisher,
            commit_soon=self.commit_soon,
            incarnation=incarnation,
            traces=self.traces,
            venue_faults=venue_faults,
            venue_health=VenueHealth(self.engine, self.journal),
            on_venue_back=self._venue_back,
            retired=RetiredOrders(self.db),
            takeover=self.takeover,
        )
        orders_pb2_grpc.add_OrderServiceServicer_to_server(servicer, server)
        # Market data and the risk stream from the start, active or not: a standby's books, references and gate
        # are warm when it takes over.
        self.upstreams = [
            Upstream("market-data", self.directory.address("feeds"), self._consume_market_data),
            Upstream("risk", self.directory.address("risk"), self._consume_risk),
        ]  # line switches: only the active replica journals them (``_lead``)
        for up in self.upstreams:
            up.start()
        log.info("routing: recovered %d journal records, %d open orders", self.recovered, self.engine.open_count)
        phases.done("wiring")
        if await asyncio.to_thread(self.journal.try_take_over):
            await self._lead()  # nobody else writes: active from the start
            phases.done("take over")
        else:
            log.info("routing: standby; another replica writes the journal (seq %d applied)", self.applied_seq)
            self._lead_task = asyncio.create_task(self._stand_by(), name="routing-standby")
        log.info("routing: started in %s", phases)

    # -- active and standby ---------------------------------------------------------------------------------------
    def _committed_since_applied(self) -> list[JournalRecord]:
        return list(read_journal(self.db, self.applied_seq + 1))

    def _apply_all_committed(self) -> int:
        """Every record committed after ``applied_seq``, streamed from the journal (``read_journal`` reads a chunk
        at a time): a restart without a usable snapshot (a new release) replays the whole journal, which as one
        list of records would take about 800 bytes a record, 8 GB for ten million."""
        last: list[JournalRecord] = []

        def records() -> Iterator[JournalRecord]:
            for rec in read_journal(self.db, self.applied_seq + 1):
                last[:] = (rec,)
                yield rec

        count = self.engine.rebuild(records())
        if last:
            self.applied_seq, self.applied_ts_ns = last[0].seq, last[0].ts_ns
        return count

    def _apply(self, records: list[JournalRecord]) -> int:
        """Records the active replica committed, into this replica's engine (the recovery path)."""
        if records:
            self.engine.rebuild(records)
            self.applied_seq = records[-1].seq
            self.applied_ts_ns = records[-1].ts_ns
        return len(records)

    async def _stand_by(self) -> None:
        """Follow the journal until the writer lock is ours, then take over: with ``spec.routing.outageSpool``
        ``take_over`` first waits for the old writer's spool and copies it into the journal, and ``_lead`` applies it
        with the rest (the races are in ``storage/journal.py``'s docstring)."""
        followers = [asyncio.create_task(self._follow(), name="routing-follow")]
        assert self.snapshots is not None
        if self.snapshots.enabled:  # the standby takes the snapshots: the active replica's loop never forks for one
            followers.append(
                asyncio.create_task(self.snapshots.follow(lambda: self.applied_seq), name="routing-standby-snapshots")
            )
        waited_at = self.clock.now_ns()
        try:
            while True:
                try:
                    await asyncio.to_thread(self.journal.take_over, self._stopping)
                    break
                except JournalStandby:
                    return  # stopping
                except (SpoolOwned, JournalFenced) as exc:
                    # the old writer lives and keeps the outage spool (which must not be skipped), or the spool
                    # disagrees with the journal: the writer lock was let go of; start again as the standby
                    exit_fenced(self.name, f"taking over failed: {exc}")
                except SQLAlchemyError as exc:  # the database is down: wait for it, still the standby
                    log.warning("routing: standby lost the database (%s); waiting for it", exc.__class__.__name__)
                    await self._database_back()
                    # the active replica's session was cut too: it takes its lock back at its next write
                    await asyncio.sleep(TAKEOVER_AFTER_OUTAGE_S)
        finally:
            for task in followers:
                task.cancel()
            await asyncio.gather(*followers, return_exceptions=True)
        log.warning(
            "routing: the active replica is gone; taking over (stood by %.1f s)",
            (self.clock.now_ns() - waited_at) / 1e9,
        )
        try:
            await self._lead(took_over=True)
        except Exception as exc:  # e.g. the database went away mid-takeover, and the writer lock with the session
            # Holding the lock or not, this replica cannot serve: it ends without serving and starts again as a
            # standby (a silent dead task would leave it neither active nor queued for the lock, for good).
            log.exception("routing: taking over failed")
            exit_fenced(self.name, f"taking over failed: {exc.__class__.__name__}: {exc}")

    def _ping_database(self) -> None:
        with self.db.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    async def _database_back(self) -> None:
        """Return once the database answers again (polled every ``STANDBY_RETRY_S``), or this replica stops."""
        while not self._stopping.is_set():
            try:
                await asyncio.to_thread(self._ping_database)
                return
            except SQLAlchemyError:
                await asyncio.sleep(STANDBY_RETRY_S)

    async def _follow(self) -> None:
        while True:
            try:
                self._apply(await asyncio.to_thread(self._committed_since_applied))
            except SQLAlchemyError:  # the database is down: follow on once it is back (``_lead`` catches up anyway)
                await asyncio.sleep(STANDBY_RETRY_S)
            await asyncio.sleep(FOLLOW_INTERVAL_S)

    async def _lead(self, *, took_over: bool = False) -> None:
        """This replica holds the writer lock: apply the last committed records, carry out halts deferred while
        standing by, put the open orders back on the venues, and serve. ``took_over``: it stood by until now (the
        active replica is gone), which it reports from its first answer on (``RoutingFailover``)."""
        took_over_ns = self.clock.now_ns()
        self._apply(await asyncio.to_thread(self._committed_since_applied))
        if self.applied_seq != self.journal.last_seq():  # the lock is held: nothing can be committed meanwhile
            raise RuntimeError(f"journal at seq {self.journal.last_seq()}, applied {self.applied_seq}")
        # Order ids of this writer: its epoch after the last record of the one before, whatever this process's
        # start time or pid (replicas in containers often share both), so no id is ever given twice.
        epoch_ms = max(self.clock.now_ns(), self.applied_ts_ns) // 1_000_000 + 1
        self.engine.ids = IdGenerator("O", epoch_ms=epoch_ms)
        self.journal.start()
        assert self.snapshots is not None and self.durability is not None
        self.durability.took_over()  # what the writer before this one committed is durable: readers are told so
        # What only the writer journals: feed line switches (a standby's would be refused) and access decisions.
        switches = Upstream("line-switches", self.directory.address("feeds"), self._consume_line_switches)
        self.upstreams.append(switches)
        switches.start()
        self.access_audit.start()
        for scope, entry in list(self.gate.states.items()):
            # halts the risk service sent while this replica stood by (changed_ns 0: the spec's, not yet heard);
            # one the old active replica handled cancels only what is still open and journals no second report
            if entry.state == TradingState.HALTED and entry.changed_ns:
                self._halt_scope(scope, entry, None)
        self._reseat_when_priced = asyncio.create_task(self._reseat_after_first_quotes())
        if self.snapshots.enabled:
            self._snapshot_task = asyncio.create_task(
                self.snapshots.run(
                    self.journal, self.durability, standby_takes_them=self.desk.spec.services.routing.replicas > 1
                ),
                name="routing-snapshots",
            )
        if took_over:
            self.takeover.mark()
        await self.standby.activate()
        log.info(
            "routing: active from journal seq %d, %d open orders (%.1f ms to take over)",
            self.applied_seq,
            self.engine.open_count,
            (self.clock.now_ns() - took_over_ns) / 1e6,
        )

    def bind_health(self, servicer) -> None:
        self.standby.bind_health(servicer)

    def _append(self, kind: str, order_id: str, payload: dict, ts_ns: int, event: JournalEvent) -> int:
        """Journal an event. Events a client waits on are committed at once by ``commit_soon``. The rest
        (venue acks, fills) ride along with the next such commit, or go to the writer thread within a
        millisecond: committing each alone would queue every acknowledgement behind an extra fsync."""
        seq = self.journal.append(kind, order_id, payload, ts_ns, event)
        if self.traces is not None:
            self.traces.remember(order_id)
        if not self._commit_scheduled and not self._wake_armed:
            self._wake_armed = True
            self._loop.call_later(BACKGROUND_COMMIT_DELAY_S, self._wake_writer)
        return seq

    def _wake_writer(self) -> None:
        self._wake_armed = False
        self.journal.wake()

    def commit_soon(self) -> None:
        """Have what is queued committed soon: a client waits for it.

        On SQLite the commit runs on the loop at the start of its next turn: everything appended in this turn
        shares one fsync, and the acknowledgement needs no thread hand-off (a local fsync, no network). On
        PostgreSQL the writer thread commits it at once and the loop goes on: a commit there is a round trip and
        the server's WAL flush, which on a loaded machine held routing's loop 0.2-0.85 s at a time in the
        simulated day (the loop watch found it in psycopg's ``commit``, with little CPU), time in which no
        market data was read and no order taken. The writer takes whatever is queued when it starts, so orders
        that arrive during one commit share the next."""
        if not self._commit_on_loop:
            self.journal.wake()
            return
        if not self._commit_scheduled:
            self._commit_scheduled = True
            self._loop.call_soon(self._commit)

    def _commit(self) -> None:
        self._commit_scheduled = False
        self.journal.commit_inline()

    async def _reseat_after_first_quotes(self) -> None:
        """Open orders go back on the simulated venues once their books have prices again."""
        if not self.engine or not self.engine.open_count:
            return
        for _ in range(200):
            if self.gate.references:
                break
            await asyncio.sleep(0.05)
        self.engine.reseat_open_orders()

    async def _consume_market_data(self, channel: grpc.aio.Channel) -> None:
        stub = market_data_pb2_grpc.MarketDataServiceStub(channel)
        spec_venues = {v.name: v for v in self.desk.spec.venues}
        venues_for: dict[str, list[SimulatedVenue]] = {
            symbol: [
                v
                for name, v in self.venues.items()
                if not spec_venues[name].symbols or symbol in spec_venues[name].symbols
            ]
            for symbol in self.instruments
        }
        gate = self.gate
        engine = self.engine
        references = gate.references
        parse = parse_market_fixed
        async for batch in stub.SubscribeBatches(market_data_pb2.SubscribeRequest()):
            now = self.clock.now_ns()
            events = batch.events
            kinds = [event.WhichOneof("event") for event in events]
            skip = superseded_quotes(events, kinds, priced=references) if len(events) > 1 else ()
            for i, event in enumerate(events):
                which = kinds[i]
                if which == "quote":
                    if i in skip:
                        continue
                    q = event.quote
                    if not usable(q):
                        continue
                    bid, ask = parse(q.bid_price), parse(q.ask_price)
                    bq, aq = parse(q.bid_quantity), parse(q.ask_quantity)
                    for venue in venues_for.get(q.symbol, ()):
                        venue.on_quote(q.symbol, bid, bq, ask, aq, now)
                    # the reference ages from the data's own time (feeds' receipt), not from this read of it
                    data_ns = event.desk_time_ns
                    at = data_time(data_ns, now)
                    if q.last_price and q.symbol not in references:
                        gate.on_trade(q.symbol, parse(q.last_price), at, data_ns=data_ns)
                        engine.on_trade_print(q.symbol, parse(q.last_price))
                    gate.on_quote_heartbeat(q.symbol, at, data_ns=data_ns)
                elif which == "trade":
                    t = event.trade
                    price, qty = parse(t.price), parse(t.quantity)
                    data_ns = event.desk_time_ns
                    trip = gate.on_trade(t.symbol, price, data_time(data_ns, now), data_ns=data_ns)
                    if trip is not None:
                        self._breaker_tripped(trip)
                    engine.on_trade_print(t.symbol, price)
                    for venue in venues_for.get(t.symbol, ()):
                        venue.on_trade(t.symbol, price, qty, now)
                elif which == "status" and event.status.status:
                    st = event.status
                    gate.on_symbol_status(st.symbol, SymbolStatus(st.status), st.reason)
                    log.warning("routing: %s is %s by market data (%s)", st.symbol, status_name(st.status), st.reason)

    def _breaker_tripped(self, trip: BreakerTrip) -> None:
        market = self.gate.market
        assert market is not None
        calendar = market.listings[market.index_symbol].calendar
        if trip.halts:
            log.error(
                "routing: market-wide circuit breaker level %d (%s) on %s: new orders refused until %s",
                trip.level,
                trip.reason,
                market.index_symbol,
                local_time(calendar, trip.until_ns),
            )
        else:
            log.warning(
                "routing: %s reached breaker level %d in the last 35 minutes of the session: no halt",
                market.index_symbol,
                trip.level,
            )

    async def _journal_access(self, decisions: list[AccessDecision]) -> None:
        """Access decisions into the journal, durable when this returns."""
        assert self.engine is not None and self.durability is not None
        seq = 0
        for decision in decisions:
            seq = self.engine.record(AccessRecorded(ts_ns=decision.ts_ns, decision=decision))
        self.commit_soon()
        await self.durability.wait_durable(seq)

    def _remember_switch(self, event: object) -> None:
        """The fan-out's handler (live and replayed): which line switches the journal holds already."""
        if type(event) is FeedSwitched:
            known = self.journaled_switches
            known[(event.feed, event.switched_ns, event.to_line)] = None
            if len(known) > SWITCHES_REMEMBERED:
                del known[next(iter(known))]

    async def _consume_line_switches(self, channel: grpc.aio.Channel) -> None:
        """Every change of a feed's active line goes into the journal once: the feeds service sends the ones it
        remembers first (so a switch while routing was away is not lost), then each new one."""
        stub = market_data_pb2_grpc.MarketDataServiceStub(channel)
        async for message in stub.StreamLineSwitches(market_data_pb2.StreamLineSwitchesRequest()):
            s = message.line_switch
            if (message.feed, s.time_ns, s.to_line) in self.journaled_switches or self.engine is None:
                continue
            self.engine.record(
                FeedSwitched(
                    ts_ns=self.clock.now_ns(),
                    feed=message.feed,
                    from_line=s.from_line,
                    to_line=s.to_line,
                    reason=s.reason,
                    failback=s.failback,
                    took_ns=s.took_ms * 1_000_000,
                    switched_ns=s.time_ns,
                )
            )

    async def _consume_risk(self, channel: grpc.aio.Channel) -> None:
        """Limits, states, latches and kills from the risk service, each acknowledged once applied, so a kill
        switch returns only when this gate refuses orders. The gate fails closed when this stream is silent
        longer than ``limits.stream_timeout_ns`` (the risk service sends heartbeats) or the risk service cuts it
        off, and opens again with the first update after a reconnect (``risk/gate_stream.py``)."""
        await follow_gate_updates(
            channel,
            gate=self.gate,
            gate_id=gate_name("routing"),
            clock=self.gate.stream_clock,
            apply=self._apply_gate_update,
        )

    def _apply_gate_update(self, update: risk_pb2.GateUpdate) -> None:
        self._apply_gate_picture(update)
        if update.full:
            self.standby.release(GATE_PICTURE)

    def _apply_gate_picture(self, update: risk_pb2.GateUpdate) -> None:
        """One update, applied before it is acknowledged: states and limits, latches, and the mass cancel of
        each scope that went HALTED."""
        gate = self.gate
        if update.HasField("limits"):
            gate.set_limits(limits_from_proto(update.limits))
        before = dict(gate.states)
        states = dict(state_from_proto(s) for s in update.states)
        if update.full:
            gate.replace_states(states)
        else:
            for scope, entry in states.items():
                gate.set_state(scope, entry)
        for latch in update.latches:
            gate.latch((latch.scope.account, latch.scope.strategy), latch.changed_ns, latch.reason)
        for released in update.released:
            gate.release_latch((released.scope.account, released.scope.strategy), released.changed_ns)
        kills = {(k.scope.account, k.scope.strategy): k for k in update.kills}
        for scope, entry in list(gate.states.items()):
            if entry.state != TradingState.HALTED:
                continue
            prev = before.get(scope)
            if prev is not None and prev.state == TradingState.HALTED and prev.changed_ns == entry.changed_ns:
                continue
            self._halt_scope(scope, entry, kills.get(scope))

    def _halt_scope(self, scope: tuple[str, str], entry, kill: risk_pb2.KillOrder | None) -> None:
        """A scope went HALTED (kill switch, spec.tradingState, a person or a risk breaker): every open order of
        the scope leaves every venue at once; positions are flattened if the kill asked for it; the incident
        report goes to the journal."""
        engine = self.engine
        if engine is None or self.journal is None or self.journal.standby:
            return  # a standby's gate knows the halt; the active replica acts on it (or this one, on taking over)
        flatten = kill is not None and kill.flatten and kill.changed_ns == entry.changed_ns
        incident = engine.halt_scope(
            scope[0],
            scope[1],
            actor=entry.actor,
            reason=entry.reason,
            changed_ns=entry.changed_ns,
            kill_id=kill.kill_id if kill is not None else "",
            flatten=flatten,
        )
        self.commit_soon()
        log.warning(
            "routing: %s HALTED by %s (%s): cancelling %d open orders%s",
            scope_label(scope),
            entry.actor,
            entry.reason,
            incident.open_orders,
            f", flattening with {len(incident.flatten_orders)} orders" if flatten else "",
        )

    def _venue_back(self, venue: str) -> None:
        """A venue that was away is back: the orders of halted scopes still resting there (the halt's cancel
        could not reach it) leave it now."""
        engine = self.engine
        if engine is None or self.journal is None or self.journal.standby:
            return
        halted = [scope for scope, entry in self.gate.states.items() if entry.state == TradingState.HALTED]
        count = engine.cancel_halted_at(venue, halted)
        if count:
            self.commit_soon()
            log.warning("routing: venue %s is back: cancelling %d open orders of halted scopes", venue, count)

    def desk_state(self) -> TradingState:
        return self.gate.effective_state("", "")[0]

    async def drain(self) -> None:
        self.publisher.close()

    async def stop(self) -> None:
        self._stopping.set()
        if self._lead_task is not None:
            await asyncio.gather(self._lead_task, return_exceptions=True)
        for up in self.upstreams:
            await up.stop()
        await self.access_audit.stop()
        if hasattr(self, "_reseat_when_priced"):
            self._reseat_when_priced.cancel()
        if self._snapshot_task is not None:
            self._snapshot_task.cancel()
            await asyncio.gather(self._snapshot_task, return_exceptions=True)
        if self.journal is not None:
            await asyncio.to_thread(self.journal.close)
        if self.durability is not None:
            self.durability.close()
        self.db.dispose()
