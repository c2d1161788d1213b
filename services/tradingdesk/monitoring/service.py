"""The monitoring service: probes every service's gRPC health endpoint and reports the desk as one."""

from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tradingdesk.audit.access import QueuedAccessAudit, to_compliance
from tradingdesk.core.clock import Clock, WallClock
from tradingdesk.edge.directory import ServiceDirectory
from tradingdesk.spec.model import SERVICE_NAMES, TradingDesk
from tradingdesk.v1 import monitoring_pb2, monitoring_pb2_grpc

PROBE_TIMEOUT_S = 1.0
# Each service's own gRPC service name: it can go NOT_SERVING while the process stays up (feeds with every
# line down), which the process-wide "" entry would hide.
SERVICE_HEALTH_NAMES = {
    "feeds": "tradingdesk.v1.MarketDataService",
    "routing": "tradingdesk.v1.OrderService",
    "risk": "tradingdesk.v1.RiskService",
    "compliance": "tradingdesk.v1.ComplianceService",
    "monitoring": "tradingdesk.v1.MonitoringService",
}
PROBE_ATTEMPTS = 2


class MonitoringService(monitoring_pb2_grpc.MonitoringServiceServicer):
    name = "monitoring"
    service_names = ("tradingdesk.v1.MonitoringService",)

    def __init__(
        self, desk: TradingDesk, *, directory: ServiceDirectory | None = None, clock: Clock | None = None
    ) -> None:
        self.desk = desk
        self.directory = directory or ServiceDirectory.for_desk(desk)
        self.clock = clock or WallClock()
        self.interval = desk.spec.monitoring.health_check_interval_ms / 1000
        self.latest: dict[str, monitoring_pb2.ServiceHealth] = {}
        self.channels: dict[str, grpc.aio.Channel] = {}
        self._task: asyncio.Task | None = None
        compliance = self.directory.address("compliance")
        self.access_audit = QueuedAccessAudit(to_compliance(compliance, service="monitoring"), name="monitoring")
        """Access decisions about calls to monitoring (``audit.access``): compliance records them."""

    async def start(self, server: grpc.aio.Server) -> None:
        monitoring_pb2_grpc.add_MonitoringServiceServicer_to_server(self, server)
        for name in SERVICE_NAMES:
            self.channels[name] = grpc.aio.insecure_channel(self.directory.address(name))
        self._task = asyncio.create_task(self._probe_forever())
        self.access_audit.start()

    async def probe(self, name: str) -> monitoring_pb2.ServiceHealth:
        address = self.directory.address(name)
        stub = health_pb2_grpc.HealthStub(self.channels[name])
        status, detail = "UNREACHABLE", ""
        for _ in range(PROBE_ATTEMPTS):  # one slow answer on a busy machine is not an outage
            try:
                request = health_pb2.HealthCheckRequest(service=SERVICE_HEALTH_NAMES[name])
                resp = await stub.Check(request, timeout=PROBE_TIMEOUT_S)
                status, detail = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status), ""
                break
            except grpc.aio.AioRpcError as exc:
                status, detail = "UNREACHABLE", f"{exc.code().name}: {exc.details()}"
        return monitoring_pb2.ServiceHealth(
            service=name, address=address, status=status, detail=detail, checked_ns=self.clock.now_ns()
        )

    async def probe_all(self) -> None:
        results = await asyncio.gather(*(self.probe(n) for n in SERVICE_NAMES))
        self.latest = {r.service: r for r in results}

    async def _probe_forever(self) -> None:
        while True:
            await self.probe_all()
            await asyncio.sleep(self.interval)

    async def GetHealthSummary(self, request, context):
        await self.probe_all()
        services = [self.latest[n] for n in SERVICE_NAMES]
        return monitoring_pb2.HealthSummary(services=services, healthy=all(s.status == "SERVING" for s in services))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for ch in self.channels.values():
            await ch.close()
        await self.access_audit.stop()
