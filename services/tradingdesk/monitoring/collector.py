"""The desk's status, gathered by the monitoring service from the other services every health-check interval.

One round asks, concurrently: every service's gRPC health; feeds for its feed status; risk for its limits, the
trading state of each known scope and the P&L snapshot of the desk and of every scope with its own limits;
routing for open orders, positions, its venues, its journal and when it took over (``GetRoutingStatus``), and its
/metrics for latency percentiles; Alertmanager (or the desk's own checks) for active alerts. A part that cannot be
read keeps its last known value and is named in ``problems``. The risk event stream tells which scopes ever
changed state and which halts were kill switches.

Subscribers (``StreamDeskStatus``, the dashboard) are told when the status changed, judged without the fields
that change by themselves (clocks and ages).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import grpc
import httpx

from tradingdesk.core.clock import Clock
from tradingdesk.core.fixed import parse_fixed
from tradingdesk.edge.upstream import Upstream
from tradingdesk.monitoring.alerts import Alertmanager, AlertmanagerError, DeskChecks, scope_label
from tradingdesk.monitoring.health import HealthProber
from tradingdesk.monitoring.latency import LatencyWindow
from tradingdesk.monitoring.venue_activity import VenueActivity
from tradingdesk.spec.model import TradingDesk
from tradingdesk.v1 import (
    common_pb2,
    market_data_pb2,
    market_data_pb2_grpc,
    monitoring_pb2,
    orders_pb2,
    orders_pb2_grpc,
    risk_pb2,
    risk_pb2_grpc,
)

log = logging.getLogger(__name__)

OPEN_ORDERS_SHOWN = 50
RECENT_FILLS = 20
OPEN_ORDERS_COUNTED = 200  # read every interval: routing's cost stays small; beyond it the count says "at least"
CALL_TIMEOUT_S = 2.0
POKED_REFRESH_GAP_S = 0.5
"""The shortest time between the starts of two refreshes that a fill or a risk event asked for. Each refresh reads
routing (open orders, positions), risk and feeds: at a busy desk's fill rate, refreshing on every fill kept
routing answering monitoring back to back. A fill is shown at once all the same (``_publish_fills``)."""
Scope = tuple[str, str]
DESK: Scope = ("", "")
BREAKERS = frozenset({"consecutive_losses", "venue_errors", "slippage"})


def halt_cause(info: risk_pb2.TradingStateInfo, kill_ns: int) -> str:
    """Why a scope is halted: the kill switch (a kill event at or after the halt), a risk metric, or a person."""
    if kill_ns and kill_ns >= info.changed_ns:
        return "kill_switch"
    metric = info.actor.removeprefix("risk:") if info.actor.startswith("risk:") else ""
    if metric in BREAKERS:
        return "circuit_breaker"
    if metric in ("daily_loss", "drawdown"):
        return metric
    return "manual"


@dataclass
class RiskView:
    """What the risk service told us last."""

    limits: risk_pb2.RiskLimits | None = None
    states: dict[Scope, risk_pb2.TradingStateInfo] = field(default_factory=dict)
    snapshots: dict[Scope, risk_pb2.RiskSnapshot] = field(default_factory=dict)
    kills: dict[Scope, int] = field(default_factory=dict)
    """Time of the last kill switch event per scope."""
    scopes: set[Scope] = field(default_factory=lambda: {DESK})
    """Scopes whose state we follow: the desk, every scope with its own limits, every scope that changed."""

    def limits_of(self, scope: Scope) -> risk_pb2.LimitSet | None:
        if self.limits is None:
            return None
        if scope == DESK:
            return self.limits.desk
        return next((s.limits for s in self.limits.scopes if (s.scope.account, s.scope.strategy) == scope), None)

    def utilization(self) -> dict[tuple[str, str], float]:
        """(scope label, limit) -> used share of the scope's daily loss and drawdown limits."""
        out = {}
        for scope, snap in self.snapshots.items():
            limits = self.limits_of(scope)
            if limits is None:
                continue
            used = {
                "daily_loss": max(0, -parse_fixed(snap.daily_pnl or "0", allow_negative=True)),
                "drawdown": parse_fixed(snap.drawdown or "0", allow_negative=True),
            }
            for name, limit_text in (("daily_loss", limits.max_daily_loss), ("drawdown", limits.max_drawdown)):
                limit = parse_fixed(limit_text or "0")
                if limit > 0:
                    out[(scope_label(*scope), name)] = used[name] / limit
        return out


def change_key(status: monitoring_pb2.DeskStatus) -> bytes:
    """The status without what changes by itself (clocks, ages, counters of a flowing feed)."""
    s = monitoring_pb2.DeskStatus()
    s.CopyFrom(status)
    s.time_ns = 0
    for h in s.services:
        h.checked_ns = h.clock_offset_ns = h.clock_uncertainty_ns = 0
    for f in s.feeds:
        f.gap_age_ms = f.lag_ms = f.next_seq = f.published = 0
        for line in f.lines:
            line.lag_ms = line.silent_ms = line.last_seq = line.received = line.first_copies = line.heartbeats = 0
    for r in s.risk:
        r.ts_ns = r.journal_seq = 0
    return s.SerializeToString(deterministic=True)


def poked_refresh_wait(*, since_last_s: float, gap_s: float = POKED_REFRESH_GAP_S) -> float:
    """How long a refresh that was asked for waits, ``since_last_s`` after the last one started."""
    return max(0.0, gap_s - since_last_s)


class DeskCollector:
    def __init__(
        self,
        desk: TradingDesk,
        *,
        channels: dict[str, grpc.aio.Channel],
        health: HealthProber,
        clock: Clock,
        http: httpx.AsyncClient,
        alertmanager_url: str,
        latency: LatencyWindow,
    ) -> None:
        self.desk = desk
        self.channels = channels
        self.health = health
        self.clock = clock
        self.http = http
        self.latency = latency
        self.alertmanager = Alertmanager(alertmanager_url, desk.name, http) if alertmanager_url else None
        self.checks = DeskChecks(desk)
        self.risk = RiskView()
        self.status = monitoring_pb2.DeskStatus(desk=desk.name)
        self.version = 0
        self._key = b""
        self._changed = asyncio.Condition()
        self._feeds = market_data_pb2.FeedStatusReport()
        self._orders = orders_pb2.ListOrdersResponse()
        self._positions = orders_pb2.GetPositionsResponse()
        self._routing: orders_pb2.RoutingStatus | None = None
        """Routing's venues and journal as last read; None until the first read (an unread journal is not a failing
        one)."""
        self.venue_activity = VenueActivity()
        self._alerts: list[monitoring_pb2.Alert] | None = None
        self._fills: deque[orders_pb2.ExecutionReport] = deque(maxlen=RECENT_FILLS)
        self._poke = asyncio.Event()
        self.upstreams: list[Upstream] = []

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def start(self, *, risk_address: str, routing_address: str) -> None:
        self.upstreams = [
            Upstream("risk-events", risk_address, self._follow_risk_events),
            Upstream("executions", routing_address, self._follow_executions),
        ]
        for up in self.upstreams:
            up.start()

    async def stop(self) -> None:
        for up in self.upstreams:
            await up.stop()

    async def _follow_risk_events(self, channel: grpc.aio.Channel) -> None:
        stub = risk_pb2_grpc.RiskServiceStub(channel)
        request = risk_pb2.StreamRiskEventsRequest(from_seq=1, exclude_warnings=True)
        async for event in stub.StreamRiskEvents(request):
            scope = (event.scope.account, event.scope.strategy)
            if event.kind in (risk_pb2.RISK_EVENT_KIND_STATE_CHANGE, risk_pb2.RISK_EVENT_KIND_KILL):
                self.risk.scopes.add(scope)
            if event.kind == risk_pb2.RISK_EVENT_KIND_KILL:
                self.risk.kills[scope] = event.ts_ns
            self._poke.set()  # a state change or a breach: show it now, not at the next interval

    async def _follow_executions(self, channel: grpc.aio.Channel) -> None:
        """Live fills: kept for the status, and each one refreshes it at once (positions, open orders)."""
        stub = orders_pb2_grpc.OrderServiceStub(channel)
        request = orders_pb2.StreamExecutionsRequest(exec_types=[common_pb2.EXEC_TYPE_TRADE])  # fills only
        async for report in stub.StreamExecutions(request):
            if report.exec_type == common_pb2.EXEC_TYPE_TRADE:
                self._fills.appendleft(report)
                await self._publish_fills()
                self._poke.set()

    async def _publish_fills(self) -> None:
        """Show a fill at once, ahead of the full refresh it triggers (positions, P&L, open orders)."""
        status = monitoring_pb2.DeskStatus()
        status.CopyFrom(self.status)
        del status.recent_fills[:]  # a repeated message field takes no slice assignment
        status.recent_fills.extend(self._fills)
        await self._publish(status)

    # -- one round -----------------------------------------------------------------------------------------------
    async def refresh(self) -> monitoring_pb2.DeskStatus:
        parts: dict[str, Callable[[], Awaitable[None]]] = {
            "feeds": self._read_feeds,
            "risk": self._read_risk,
            "routing": self._read_orders,
            "venues": self._read_routing_status,
            "latency": self._read_latency,
        }
        names = list(parts)
        results = await asyncio.gather(self.health.probe_all(), *(parts[n]() for n in names), return_exceptions=True)
        services, outcomes = results[0], results[1:]
        problems = []
        for name, outcome in zip(names, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                problems.append(f"{name}: {_describe(outcome)}")
        status = self._build(services if isinstance(services, list) else [], problems)
        alerts, source = await self._read_alerts(status, problems)
        status.alerts.extend(alerts)
        status.alert_source = source
        status.problems[:] = problems
        await self._publish(status)
        return status

    async def _read_feeds(self) -> None:
        stub = market_data_pb2_grpc.MarketDataServiceStub(self.channels["feeds"])
        self._feeds = await stub.GetFeedStatus(market_data_pb2.GetFeedStatusRequest(), timeout=CALL_TIMEOUT_S)

    async def _read_risk(self) -> None:
        stub = risk_pb2_grpc.RiskServiceStub(self.channels["risk"])
        risk = self.risk
        risk.limits = await stub.GetLimits(risk_pb2.GetLimitsRequest(), timeout=CALL_TIMEOUT_S)
        limited = {(s.scope.account, s.scope.strategy) for s in risk.limits.scopes}
        risk.scopes |= limited
        scopes = sorted(risk.scopes)

        def pb_scope(scope: Scope) -> common_pb2.Scope:
            return common_pb2.Scope(account=scope[0], strategy=scope[1])

        states = await asyncio.gather(
            *(
                stub.GetTradingState(risk_pb2.GetTradingStateRequest(scope=pb_scope(s)), timeout=CALL_TIMEOUT_S)
                for s in scopes
            )
        )
        risk.states = dict(zip(scopes, states, strict=True))
        watched = [DESK, *sorted(limited)]
        snaps = await asyncio.gather(
            *(
                stub.GetRiskSnapshot(risk_pb2.GetRiskSnapshotRequest(scope=pb_scope(s)), timeout=CALL_TIMEOUT_S)
                for s in watched
            )
        )
        risk.snapshots = dict(zip(watched, snaps, strict=True))

    async def _read_orders(self) -> None:
        stub = orders_pb2_grpc.OrderServiceStub(self.channels["routing"])
        self._orders, self._positions = await asyncio.gather(
            stub.ListOrders(orders_pb2.ListOrdersRequest(open_only=True, limit=OPEN_ORDERS_COUNTED), timeout=5.0),
            stub.GetPositions(orders_pb2.GetPositionsRequest(), timeout=CALL_TIMEOUT_S),
        )

    async def _read_routing_status(self) -> None:
        stub = orders_pb2_grpc.OrderServiceStub(self.channels["routing"])
        self._routing = await stub.GetRoutingStatus(orders_pb2.GetRoutingStatusRequest(), timeout=CALL_TIMEOUT_S)
        self.venue_activity.add(time.monotonic(), self._routing.venues)

    async def _read_latency(self) -> None:
        await self.latency.refresh(self.http, time.monotonic())

    async def _read_alerts(
        self, status: monitoring_pb2.DeskStatus, problems: list[str]
    ) -> tuple[list[monitoring_pb2.Alert], str]:
        if self.alertmanager is None:
            return self._judge(status), "desk"
        try:
            self._alerts = await self.alertmanager.alerts(include_suppressed=False)
        except AlertmanagerError as exc:
            problems.append(f"alertmanager: {exc}")
            if self._alerts is None:
                return self._judge(status), "desk"
        return list(self._alerts or []), "alertmanager"

    def _judge(self, status: monitoring_pb2.DeskStatus) -> list[monitoring_pb2.Alert]:
        return self.checks.judge(status, self.risk.utilization(), venues=self.venue_activity.growth())

    def _build(self, services: list[monitoring_pb2.ServiceHealth], problems: list[str]) -> monitoring_pb2.DeskStatus:
        risk = self.risk
        status = monitoring_pb2.DeskStatus(
            desk=self.desk.name,
            time_ns=self.clock.now_ns(),
            healthy=bool(services) and all(s.status == "SERVING" for s in services),
            services=services,
            feeds=self._feeds.feeds,
            market_data_serving=self._feeds.serving,
            stale_symbols=self._feeds.stale_symbols,
            positions=self._positions.positions,
            open_orders=self._orders.orders[:OPEN_ORDERS_SHOWN],
            open_order_count=len(self._orders.orders),
            latencies=self.latency.summaries(),
            recent_fills=self._fills,
        )
        if self._routing is not None:
            status.venues.extend(self._routing.venues)
            status.journal.CopyFrom(self._routing.journal)
            status.routing_took_over_ns = self._routing.took_over_ns
        for scope in sorted(risk.states):
            info = risk.states[scope]
            halted = info.state == common_pb2.TRADING_STATE_HALTED
            if scope != DESK and info.state == common_pb2.TRADING_STATE_ACTIVE:
                continue
            cause = halt_cause(info, risk.kills.get(scope, 0)) if halted else ""
            status.trading_states.append(
                monitoring_pb2.ScopeState(state=info, kill_switch=cause == "kill_switch", cause=cause)
            )
        status.risk.extend(risk.snapshots[s] for s in sorted(risk.snapshots))
        return status

    async def _publish(self, status: monitoring_pb2.DeskStatus) -> None:
        key = change_key(status)
        async with self._changed:
            self.status = status
            if key != self._key:
                self._key = key
                self.version += 1
                self._changed.notify_all()

    async def wait_change(self, seen: int) -> int:
        """Wait until the status version is past ``seen``; returns the new version."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.version > seen)
            return self.version

    async def run(self, interval_s: float) -> None:
        """Refresh every ``interval_s``, and when a fill or a risk event arrives, at most once per
        ``POKED_REFRESH_GAP_S``."""
        clock = asyncio.get_running_loop().time
        while True:
            self._poke.clear()
            started = clock()
            try:
                await self.refresh()
            except Exception:  # the loop must outlive any one bad round
                log.exception("monitoring: refreshing the desk status failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval_s):
                    await self._poke.wait()
            await asyncio.sleep(poked_refresh_wait(since_last_s=clock() - started))

    async def close_waiters(self) -> None:
        """Wake every waiter (at shutdown) so streams end."""
        async with self._changed:
            self.version += 1
            self._changed.notify_all()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"{exc.code().name}: {exc.details()}"
    return f"{type(exc).__name__}: {exc}"
