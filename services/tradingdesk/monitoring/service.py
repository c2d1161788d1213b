"""The monitoring service: the whole desk in one view, over gRPC, as metrics, and on a live web page.

Every ``healthCheckIntervalMs`` (and at once on a fill or a risk event) the collector reads every service
(collector.py). MonitoringService answers from that status: health, active alerts (Alertmanager's when the
desk names one, else its own checks), a stream of the status pushed on change, and silences written to
Alertmanager. The same status feeds the desk-level metrics (metrics.py) and the dashboard (dashboard.py).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from collections.abc import Mapping
from datetime import UTC
from pathlib import Path

import grpc
import httpx
from grpc.aio import ServicerContext

from tradingdesk.audit.access import QueuedAccessAudit, to_compliance
from tradingdesk.core.clock import Clock, WallClock
from tradingdesk.edge.clock import desk_clock
from tradingdesk.edge.directory import ServiceDirectory
from tradingdesk.edge.http import BackgroundHttpServer
from tradingdesk.monitoring.alerts import SEVERITIES, AlertmanagerError, silence_problems
from tradingdesk.monitoring.collector import DeskCollector
from tradingdesk.monitoring.health import HealthProber
from tradingdesk.monitoring.latency import LatencyWindow
from tradingdesk.monitoring.metrics import MonitoringMetrics
from tradingdesk.monitoring.restarts import SUPERVISION_STATUS_ENV
from tradingdesk.security import channels
from tradingdesk.security.http import HttpAccess, http_access
from tradingdesk.security.policy import DASHBOARD_HTTP_RULES
from tradingdesk.security.tls import TlsFiles
from tradingdesk.spec.model import SERVICE_NAMES, TradingDesk
from tradingdesk.telemetry import client_interceptors
from tradingdesk.telemetry.setup import metrics_url
from tradingdesk.v1 import monitoring_pb2, monitoring_pb2_grpc

log = logging.getLogger(__name__)
ALERTMANAGER_ENV = "TD_ALERTMANAGER_URL"


def _ns(at) -> int:
    return int(at.astimezone(UTC).timestamp() * 1e9)


class MonitoringService(monitoring_pb2_grpc.MonitoringServiceServicer):
    name = "monitoring"
    service_names = ("tradingdesk.v1.MonitoringService",)

    def __init__(
        self,
        desk: TradingDesk,
        *,
        directory: ServiceDirectory | None = None,
        clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.desk = desk
        self.environ = os.environ if environ is None else environ
        self.directory = directory or ServiceDirectory.for_desk(desk, dict(self.environ))
        self.clock = clock or WallClock()
        self.desk_clock = clock or desk_clock(desk, self.environ, service=self.name)
        """The desk clock the other services' clocks are compared with (ClockSkew)."""
        self.interval = desk.spec.monitoring.health_check_interval_ms / 1000
        self.alertmanager_url = self.environ.get(ALERTMANAGER_ENV) or desk.spec.monitoring.alertmanager_url
        self.channels: dict[str, grpc.aio.Channel] = {}
        self.health: HealthProber | None = None
        self.collector: DeskCollector | None = None
        self.dashboard: BackgroundHttpServer | None = None
        self.dashboard_access: HttpAccess | None = None
        self._http: httpx.AsyncClient | None = None
        self.latency: LatencyWindow | None = None
        self._task: asyncio.Task | None = None
        compliance = self.directory.address("compliance")
        self.access_audit = QueuedAccessAudit(to_compliance(compliance, service="monitoring"), name="monitoring")
        """Access decisions about calls to monitoring (``audit.access``): compliance records them."""
        self._dashboard_task: asyncio.Task | None = None
        self._stopping = False

    async def start(self, server: grpc.aio.Server) -> None:
        monitoring_pb2_grpc.add_MonitoringServiceServicer_to_server(self, server)
        interceptors = client_interceptors()
        # Fast reconnects: a service back after a restart, or routing's standby once it took over (on Kubernetes
        # behind routing's Service once ready), is read within 250 ms, not after gRPC's grown backoff (2.6 s after
        # 2 s away, 4.2 s after 4 s), which the detection bounds of the simulation do not allow for.
        for name in SERVICE_NAMES:
            self.channels[name] = channels.aio_channel(
                self.directory.address(name), options=channels.FAST_RECONNECT, interceptors=interceptors
            )
        self._http = httpx.AsyncClient()
        supervision = self.environ.get(SUPERVISION_STATUS_ENV)
        self.health = HealthProber(
            self.directory,
            self.channels,
            self.clock,
            supervision_status=Path(supervision) if supervision else None,
            desk_time=self.desk_clock,
        )
        tls = TlsFiles.for_service(self.desk, "monitoring", self.environ) if self.desk.spec.access.tls else None
        self.latency = latency = LatencyWindow(metrics_url(self.desk, "routing", self.directory, self.environ), tls=tls)
        self.collector = DeskCollector(
            self.desk,
            channels=self.channels,
            health=self.health,
            clock=self.clock,
            http=self._http,
            alertmanager_url=self.alertmanager_url,
            latency=latency,
        )
        MonitoringMetrics(self.collector)
        self.collector.start(
            risk_address=self.directory.address("risk"), routing_address=self.directory.address("routing")
        )
        self._task = asyncio.create_task(self.collector.run(self.interval), name="monitoring-collector")
        self.access_audit.start()

    def after_serving(self) -> None:
        """The dashboard starts once gRPC serves: loading FastAPI costs a busy machine seconds, and the desk is
        ready (its health SERVING) without the web page."""
        if self.desk.spec.monitoring.dashboard_port and self._dashboard_task is None:
            self._dashboard_task = asyncio.create_task(self._start_dashboard(), name="dashboard-start")

    async def _start_dashboard(self) -> None:
        """FastAPI is imported in a thread, so the event loop keeps answering health checks and RPCs meanwhile.
        A dashboard that cannot start is logged: trading and the gRPC side go on without it."""
        try:
            dashboard = await asyncio.to_thread(importlib.import_module, "tradingdesk.monitoring.dashboard")
            if self._stopping:
                return
            assert self.collector is not None
            host = self.directory.bind_address("monitoring", self.desk, dict(self.environ)).rsplit(":", 1)[0]
            port = self.desk.spec.monitoring.dashboard_port
            access = http_access(self.desk, self.environ, door="monitoring-dashboard", rules=DASHBOARD_HTTP_RULES)
            tls = None
            if access is not None:  # HTTPS, and refusals into the desk's audit trail like the RPCs'
                access.access_log.forward(self.access_audit.record_access, asyncio.get_running_loop())
                tls = TlsFiles.for_service(self.desk, "monitoring", self.environ)
                self.dashboard_access = access
            app = dashboard.build_app(self.collector, access)
            self.dashboard = BackgroundHttpServer(app, host, port, name="dashboard", tls=tls)
            await self.dashboard.start()
        except Exception:
            log.exception("dashboard: cannot start")

    # -- RPCs ----------------------------------------------------------------------------------------------------
    async def GetHealthSummary(self, request, context):
        assert self.health is not None
        services = await self.health.probe_all()
        return monitoring_pb2.HealthSummary(services=services, healthy=all(s.status == "SERVING" for s in services))

    async def ListAlerts(self, request: monitoring_pb2.ListAlertsRequest, context: ServicerContext):
        assert self.collector is not None
        if request.severity and request.severity not in SEVERITIES:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"severity: must be one of {', '.join(SEVERITIES)} or empty"
            )
        collector = self.collector
        if collector.alertmanager is not None:
            try:
                alerts = await collector.alertmanager.alerts(include_suppressed=request.include_suppressed)
                source = "alertmanager"
            except AlertmanagerError as exc:
                await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        else:
            status = await collector.refresh()
            alerts, source = list(status.alerts), "desk"
        chosen = [a for a in alerts if not request.severity or a.severity == request.severity]
        return monitoring_pb2.ListAlertsResponse(alerts=chosen, source=source)

    async def StreamDeskStatus(self, request, context: ServicerContext):
        collector = self.collector
        assert collector is not None
        seen = collector.version
        yield collector.status
        while not self._stopping:
            seen = await collector.wait_change(seen)
            if self._stopping:
                return
            yield collector.status

    async def SilenceAlert(self, request: monitoring_pb2.SilenceAlertRequest, context: ServicerContext):
        assert self.collector is not None
        problems = silence_problems(request)
        if problems:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "; ".join(f"{f}: {p}" for f, p in problems))
        am = self.collector.alertmanager
        if am is None:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"no Alertmanager: set spec.monitoring.alertmanagerUrl (or {ALERTMANAGER_ENV}) to silence alerts",
            )
        matchers = {**request.matchers, "desk": self.desk.name}
        try:
            silence_id, starts, ends = await am.silence(
                matchers=matchers, duration_s=request.duration_s, author=request.author, comment=request.comment
            )
        except AlertmanagerError as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        log.info(
            "silence %s by %s for %d s: %s (%s)",
            silence_id,
            request.author,
            request.duration_s,
            matchers,
            request.comment,
        )
        return monitoring_pb2.Silence(
            silence_id=silence_id,
            matchers=matchers,
            starts_ns=_ns(starts),
            ends_ns=_ns(ends),
            author=request.author,
            comment=request.comment,
        )

    # -- lifecycle -----------------------------------------------------------------------------------------------
    async def drain(self) -> None:
        """End status streams before the server stops."""
        self._stopping = True
        if self.collector is not None:
            await self.collector.close_waiters()

    async def stop(self) -> None:
        self._stopping = True
        if self._dashboard_task is not None:
            await asyncio.gather(self._dashboard_task, return_exceptions=True)
        if self.dashboard is not None:
            await self.dashboard.stop()
        if self.dashboard_access is not None:
            self.dashboard_access.access_log.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.collector is not None:
            await self.collector.stop()
        if self._http is not None:
            await self._http.aclose()
        if self.latency is not None:
            await self.latency.aclose()
        await self.access_audit.stop()
        for ch in self.channels.values():
            await ch.close()
