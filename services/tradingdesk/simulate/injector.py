"""Applies a fault schedule to the running desk under test, at each fault's market time, and logs what it did.

SIGKILL goes to the service's current process (the supervisor restarts it); on a cluster's desk (``target.py``),
the active pod of routing is deleted with a grace period of 0, as a crashed pod (its standby takes over, its
Deployment starts a new pod), and the node of routing's active pod is powered off and, after ``for``, on again;
a feed line is disabled through
the feeds service's own control (``SetLineEnabled``, as an SRE would) and enabled again after its duration; a
burst multiplies the strategy clients' rate for its duration; a venue fault is switched on and, after its duration,
off through routing's own control (``SetVenueFault``); the database is taken away and given back ``for`` market
seconds later by the simulation's own PostgreSQL (``simulate/database.py``: the desk's sessions refused, or with
``how: crash`` the server crashed and restarted), which nothing but this desk uses; a clock skew writes
the service's offset file (``edge/clock_skew.py``, in the directory ``run.py`` names in the desk's environment)
and sets it back to 0 after its duration: the service's clock moves while its process keeps running.

Each change is due at a market time of the schedule: a fault's begins ``at`` market seconds after the run's start
(``start_ns``: the desk's clock as the clients start, the measured window's start; the open or ``simulate --start``
when the desk was up within its warm-up, later when it was not), and its end ``at + for`` after it; the injector
waits for the desk's own clock to reach that time (``Clock.seconds_until``). It once counted ``at`` in wall seconds
from its own task's first step, which comes after the clients' first steps (their channels, the probe's ``go``):
every fault of the 20x days landed the same 3.3 (sim-day35b) or 5.1 (sim-day36) market seconds late. Each record is
stamped when the change really began (``market_ns``) and says when it was due (``scheduled_market_ns``).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import grpc

from tradingdesk.core.clock import NS_PER_MS, NS_PER_SECOND, Clock
from tradingdesk.edge.clock_skew import SKEW_DIR_ENV, set_skew
from tradingdesk.security import channels
from tradingdesk.simulate.clients import Rate
from tradingdesk.simulate.database import SimulationDatabase, SimulationDatabaseError
from tradingdesk.simulate.faults import Fault
from tradingdesk.simulate.target import ClusterActions, DeskUnderTest
from tradingdesk.v1 import market_data_pb2, market_data_pb2_grpc, orders_pb2, orders_pb2_grpc

CONTROL_TIMEOUT_S = 5.0
CONTROL_RETRY_S = 0.5
VENUE_MODES = {
    "none": orders_pb2.VENUE_FAULT_MODE_NONE,
    "reject_all": orders_pb2.VENUE_FAULT_MODE_REJECT_ALL,
    "away": orders_pb2.VENUE_FAULT_MODE_AWAY,
    "timeout": orders_pb2.VENUE_FAULT_MODE_TIMEOUT,
}
RETRIED = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


class Injector:
    """``run`` applies every fault in turn; ``events`` is the log of what happened (for faults.jsonl)."""

    def __init__(
        self,
        target: DeskUnderTest,
        faults: list[Fault],
        *,
        rate: Rate,
        clock: Clock,
        start_ns: int,
        database: SimulationDatabase | None = None,
    ) -> None:
        """``clock``: the desk's (the replay's) clock; ``start_ns``: the market time of the run's start, from which
        the schedule's ``at`` counts; ``database``: the simulation's own PostgreSQL, required when a fault takes the
        database down."""
        self.target = target
        self.database = database
        self.faults = faults
        self.rate = rate
        self.clock = clock
        self.market_now = clock.now_ns
        self.start_ns = start_ns
        self.events: list[dict] = []
        self._ongoing: set[asyncio.Task] = set()

    def _due_ns(self, fault: Fault, *, end: bool = False) -> int:
        """The market time ``fault`` begins (or, ``end``, ends) by the schedule."""
        return self.start_ns + (fault.at_s + (fault.duration_s if end else 0)) * NS_PER_SECOND

    async def _until(self, market_ns: int) -> None:
        """Until the desk's clock reads ``market_ns`` (at once if it has): asked again after each sleep, so a
        loop that wakes early waits the rest."""
        while (wait_s := self.clock.seconds_until(market_ns)) > 0:
            await asyncio.sleep(wait_s)

    def _log(self, fault: Fault, what: str, *, market_ns: int | None = None, end: bool = False, **extra) -> None:
        """Record what was done to ``fault``, stamped ``market_ns`` (now by default), with the market time it was
        due (its begin, or ``end``). A change is stamped when it was begun, not when it was confirmed: the desk
        may list the fault's alert before the change returns (a journal write fails while ``down`` is still ending
        the desk's sessions), and an alert listed before the injection's stamp would not count as its detection."""
        self.events.append(
            {
                "market_ns": self.market_now() if market_ns is None else market_ns,
                "scheduled_market_ns": self._due_ns(fault, end=end),
                "kind": fault.kind,
                "fault": fault.describe(),
                "what": what,
                # what the fault was applied to, for the verdict's detection line to know which alert to expect
                "target": {
                    k: getattr(fault, k) for k in ("service", "feed", "line", "venue", "mode") if getattr(fault, k)
                },
                **extra,
            }
        )

    async def run(self) -> None:
        try:
            for fault in self.faults:
                await self._until(self._due_ns(fault))
                if fault.kind == "sigkill":
                    self._sigkill(fault)
                elif fault.kind == "pod_kill":
                    await self._pod_kill(fault)
                else:
                    task = asyncio.create_task(self._for_a_while(fault))
                    self._ongoing.add(task)
                    task.add_done_callback(self._ongoing.discard)
            await asyncio.gather(*self._ongoing)
        finally:
            for task in self._ongoing:
                task.cancel()
            await asyncio.gather(*self._ongoing, return_exceptions=True)
            self.rate.factor = 1

    def _sigkill(self, fault: Fault) -> None:
        pid = self.target.sigkill(fault.service)
        if pid is None:
            self._log(fault, "skipped: the service was not running (restarting after an earlier fault)")
            return
        self._log(fault, "killed", pid=pid)

    def _cluster(self) -> ClusterActions:
        assert self.target.cluster is not None, "pod and node faults need a cluster's desk (simulate/run.py refuses)"
        return self.target.cluster

    async def _pod_kill(self, fault: Fault) -> None:
        """Delete the active pod, stamped when the deletion was asked (the pod's processes die within it)."""
        began = self.market_now()
        try:
            killed = await asyncio.to_thread(self._cluster().kill_active_pod, fault.service)
        except Exception as exc:  # recorded: the verdict counts the fault as not applied
            self._log(fault, f"failed: {exc}", market_ns=began)
            return
        self._log(fault, "pod killed", market_ns=began, **killed)

    async def _node_down(self, fault: Fault) -> None:
        """Power the node of the service's active pod off, and on again when ``at + for`` comes (or the run
        ends: the node is powered on before this returns, so the cluster is whole for the next test)."""
        cluster = self._cluster()
        began = self.market_now()
        try:
            node = await asyncio.to_thread(cluster.node_of_active_pod, fault.service)
            services = await asyncio.to_thread(cluster.services_on, node)
            began = self.market_now()  # the power off itself, not the look-ups before it
            await asyncio.to_thread(cluster.power, node, on=False)
        except Exception as exc:  # recorded: the verdict counts the fault as not applied
            self._log(fault, f"failed: {exc}", market_ns=began)
            return
        # the services with a pod there: the verdict excuses a gap in market data that losing feeds or compliance made,
        # from when the power-off was done (their processes dead)
        done = self.market_now()
        self._log(fault, "node powered off", market_ns=began, node=node, services=services, done_market_ns=done)
        try:
            await self._until(self._due_ns(fault, end=True))
        finally:
            coming = self.market_now()
            await asyncio.shield(asyncio.to_thread(cluster.power, node, on=True))
            self._log(fault, "node powered on", market_ns=coming, end=True, node=node)

    async def _for_a_while(self, fault: Fault) -> None:
        if fault.kind == "burst":
            self.rate.factor = fault.factor
            self._log(fault, "started")
            await self._until(self._due_ns(fault, end=True))
            self.rate.factor = 1
            self._log(fault, "ended", end=True)
            return
        if fault.kind == "clock_skew":
            self._set_skew(fault, offset_ms=fault.offset_ms)
            await self._until(self._due_ns(fault, end=True))
            self._set_skew(fault, offset_ms=0, end=True)
            return
        if fault.kind == "database_down":
            await self._database_down(fault)
            return
        if fault.kind == "node_down":
            await self._node_down(fault)
            return
        if fault.kind == "venue_fault":
            await self._set_venue(fault, mode=fault.mode)
            await self._until(self._due_ns(fault, end=True))
            await self._set_venue(fault, mode="none")
            return
        await self._set_line(fault, enabled=False)
        await self._until(self._due_ns(fault, end=True))
        await self._set_line(fault, enabled=True)

    async def _database_down(self, fault: Fault) -> None:
        """The outage runs in a thread of its own (``_database_outage``): the event loop of a loaded simulation
        wakes up late, by tenths of a second of wall time, tens of market seconds at 100x, which would lengthen
        the outage. Cancelled (the run ends), it gives the database back before it returns: the verdict reads it."""
        assert self.database is not None, "a database_down fault needs the simulation's own database"
        cut_short = threading.Event()
        outage = asyncio.ensure_future(asyncio.to_thread(self._database_outage, fault, cut_short))
        try:
            await asyncio.shield(outage)
        except asyncio.CancelledError:
            cut_short.set()
            await outage
            raise

    def _database_outage(self, fault: Fault, cut_short: threading.Event) -> None:
        """Take the database away, and give it back when the schedule's ``at + for`` comes (or once
        ``cut_short`` is set): the outage lasts what the schedule says plus what ``up`` takes (milliseconds when
        the server refuses sessions, its restart after a crash). The records say when each step began and when it
        was done: "database down" is stamped when it began (the desk may alert before ``down`` returns), with
        ``done_market_ns``; "database up" when the desk's sessions were let in again, with ``began_market_ns``."""
        assert self.database is not None
        began = self.market_now()
        try:
            self.database.down(how=fault.how)
        except SimulationDatabaseError as exc:
            self._log(fault, f"failed: {exc}")
            raise
        self._log(fault, "database down", market_ns=began, how=fault.how, done_market_ns=self.market_now())
        try:
            while not cut_short.is_set() and (wait_s := self.clock.seconds_until(self._due_ns(fault, end=True))) > 0:
                cut_short.wait(wait_s)
        finally:
            coming = self.market_now()
            try:
                self.database.up()
                self._log(fault, "database up", how=fault.how, began_market_ns=coming, end=True)
            except SimulationDatabaseError as exc:  # the verdict cannot read the record: said, then raised
                self._log(fault, f"failed: {exc}", end=True)
                raise

    async def _control(self, fault: Fault, service: str, call) -> tuple[object | None, int]:
        """``call(channel)``, retried while ``service`` does not answer (another fault may be restarting it): its
        answer (None after logging a refusal) and the market time the attempt that was answered began."""
        async with channels.aio_channel(self.target.address(service)) as channel:
            while True:
                began = self.market_now()
                try:
                    return await call(channel), began
                except grpc.aio.AioRpcError as err:
                    if err.code() not in RETRIED:
                        self._log(fault, f"refused: {err.code().name}: {err.details()}")
                        return None, began
                await asyncio.sleep(CONTROL_RETRY_S)

    async def _set_line(self, fault: Fault, *, enabled: bool) -> None:
        request = market_data_pb2.SetLineEnabledRequest(
            feed=fault.feed, line=fault.line, enabled=enabled, reason=f"simulation fault: {fault.describe()}"
        )
        status, began = await self._control(
            fault,
            "feeds",
            lambda ch: market_data_pb2_grpc.MarketDataServiceStub(ch).SetLineEnabled(
                request, timeout=CONTROL_TIMEOUT_S
            ),
        )
        if status is not None:
            what = "line enabled" if enabled else "line disabled"
            self._log(fault, what, market_ns=began, end=enabled, active_line=status.active_line)

    async def _set_venue(self, fault: Fault, *, mode: str) -> None:
        request = orders_pb2.SetVenueFaultRequest(
            venue=fault.venue, mode=VENUE_MODES[mode], reason=f"simulation fault: {fault.describe()}", actor="simulate"
        )
        reply, began = await self._control(
            fault,
            "routing",
            lambda ch: orders_pb2_grpc.OrderServiceStub(ch).SetVenueFault(request, timeout=CONTROL_TIMEOUT_S),
        )
        if reply is not None:
            self._log(fault, f"venue {fault.venue} set to {mode}", market_ns=began, end=mode == "none")

    def _set_skew(self, fault: Fault, *, offset_ms: int, end: bool = False) -> None:
        set_skew(Path(self.target.env[SKEW_DIR_ENV]), fault.service, offset_ms * NS_PER_MS)
        self._log(fault, f"{fault.service} clock set {offset_ms:+d} ms off", end=end, offset_ms=offset_ms)
