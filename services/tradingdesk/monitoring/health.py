"""Probing each service's own gRPC health entry, the way a load balancer would, with one retry; and reading
its desk clock (``edge/clock_reading.py``) to find one that runs off."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tradingdesk.core.clock import Clock
from tradingdesk.edge.clock_reading import measure_offset
from tradingdesk.edge.directory import ServiceDirectory
from tradingdesk.monitoring.restarts import read_restarts
from tradingdesk.spec.model import SERVICE_NAMES
from tradingdesk.v1 import monitoring_pb2

PROBE_TIMEOUT_S = 1.0
PROBE_ATTEMPTS = 2
# Each service's own gRPC service name: it can go NOT_SERVING while the process stays up (feeds with every
# line down), which the process-wide "" entry would hide.
SERVICE_HEALTH_NAMES = {
    "feeds": "tradingdesk.v1.MarketDataService",
    "routing": "tradingdesk.v1.OrderService",
    "risk": "tradingdesk.v1.RiskService",
    "compliance": "tradingdesk.v1.ComplianceService",
    "monitoring": "tradingdesk.v1.MonitoringService",
}


class HealthProber:
    def __init__(
        self,
        directory: ServiceDirectory,
        channels: dict[str, grpc.aio.Channel],
        clock: Clock,
        *,
        supervision_status: Path | None = None,
        desk_time: Clock | None = None,
    ) -> None:
        self.directory = directory
        self.channels = channels
        self.clock = clock
        self.supervision_status = supervision_status
        """The embedded supervisor's status file (``monitoring/restarts.py``): each service's restarts, which a
        probe alone misses (a quick restart is over between two probes). None where there is none."""
        self.desk_time = desk_time
        """The clock each service's desk clock is compared with; None: clocks are not read."""
        self.latest: dict[str, monitoring_pb2.ServiceHealth] = {}

    async def probe(self, name: str) -> monitoring_pb2.ServiceHealth:
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
        health = monitoring_pb2.ServiceHealth(
            service=name,
            address=self.directory.address(name),
            status=status,
            detail=detail,
            checked_ns=self.clock.now_ns(),
        )
        if status != "UNREACHABLE" and self.desk_time is not None:
            try:
                read = await measure_offset(self.channels[name], self.desk_time, timeout_s=PROBE_TIMEOUT_S)
            except grpc.aio.AioRpcError:
                pass  # a standby or an old version that does not serve ReadClock: its clock is not judged
            else:
                health.clock_offset_ns, health.clock_uncertainty_ns = read.offset_ns, read.uncertainty_ns
                health.clock_read = True
        return health

    async def probe_all(self) -> list[monitoring_pb2.ServiceHealth]:
        results = await asyncio.gather(*(self.probe(n) for n in SERVICE_NAMES))
        restarts = read_restarts(self.supervision_status)
        for health in results:
            if (seen := restarts.get(health.service)) is not None:
                health.restarts, health.last_restart_ns = seen.count, seen.last_ns
        self.latest = {r.service: r for r in results}
        return list(results)
