"""The lifecycle every desk service follows, and the gRPC server around it.

A service registers its servicers and starts its background work in ``start``; ``stop`` drains. ``serve``
adds what every server must have (health, reflection) so no service can forget it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from typing import Protocol

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from tradingdesk.edge.clock_reading import SERVICE_NAME as CLOCK_SERVICE_NAME
from tradingdesk.edge.clock_reading import serve_clock
from tradingdesk.security import server as security_server
from tradingdesk.security.server import ServerSecurity

log = logging.getLogger(__name__)


class DeskService(Protocol):
    name: str
    """Short name: feeds, routing, risk, compliance or monitoring."""

    service_names: Sequence[str]
    """Fully qualified gRPC service names it serves (for health and reflection)."""

    async def start(self, server: grpc.aio.Server) -> None: ...

    async def stop(self) -> None: ...

    # Optional: ``async def drain(self) -> None`` ends server streams before the server stops,
    # ``bind_health(servicer)`` lets a service report its own gRPC service NOT_SERVING when it degrades,
    # ``interceptors`` go to the server (after the security interceptor, before the runtime's telemetry),
    # ``gated_names`` are names the runtime does not mark SERVING itself (a standby reports them through
    # ``bind_health``), and ``after_serving()`` runs once the server answers SERVING: secondary work (a web page)
    # that must not delay it.


class RunningService:
    """A started service and its server; ``stop`` drains in-flight calls, then the service."""

    def __init__(
        self,
        service: DeskService,
        server: grpc.aio.Server,
        health_servicer: health.aio.HealthServicer,
        address: str,
        security: ServerSecurity | None = None,
    ) -> None:
        self.service = service
        self.server = server
        self.health = health_servicer
        self.address = address
        self.security = security

    async def stop(self, grace: float = 5.0) -> None:
        """NOT_SERVING first (load balancers stop sending), then end long-lived streams so they do not hold
        the grace period, then let in-flight unary calls finish, then stop the service (flushing state)."""
        for name in ("", *self.service.service_names):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        drain = getattr(self.service, "drain", None)
        if drain is not None:
            await drain()
        await self.server.stop(grace)
        await self.service.stop()
        if self.security is not None:
            self.security.close()


async def start_service(
    service: DeskService,
    address: str,
    *,
    security: ServerSecurity | None = None,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> RunningService:
    """Serve ``service`` on ``address``: with ``security`` (``tradingdesk.security.server.for_service``) the
    desk's TLS, authentication and limits, without it plaintext (a service's own tests). The security interceptor
    sees every call first (a caller is authenticated before anything else answers it, a standby's refusal too);
    then the service's own (a standby refusing calls); then the runtime's ``interceptors`` (telemetry). Each
    interceptor asks the ones after it on every call (the standby's answer changes when it takes over)."""
    security = security or security_server.plaintext()
    own = tuple(getattr(service, "interceptors", ()))
    server = grpc.aio.server(options=security.options, interceptors=[*security.interceptors, *own, *interceptors])
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    await service.start(server)
    names = (*service.service_names, health.SERVICE_NAME, reflection.SERVICE_NAME)
    # Its desk clock, for the monitoring service to find a skewed one (``edge/clock_reading.py``).
    clock = getattr(service, "desk_clock", None) or getattr(service, "clock", None)
    if clock is not None:
        serve_clock(server, service.name, clock)
        names = (*names, CLOCK_SERVICE_NAME)
    reflection.enable_server_reflection(names, server)
    port = security.bind(server, address)
    if port == 0:
        raise OSError(f"{service.name}: cannot listen on {address}")
    host = address.rsplit(":", 1)[0]
    bound = f"{host}:{port}"
    await server.start()
    gated = set(getattr(service, "gated_names", ()))  # names whose status the service reports itself (standby)
    for name in ("", *service.service_names):
        if name not in gated:
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    bind_health = getattr(service, "bind_health", None)
    if bind_health is not None:  # a service whose own health can change (feeds: every line down)
        bind_health(health_servicer)
    after_serving = getattr(service, "after_serving", None)
    if after_serving is not None:
        after_serving()
    log.info("%s serving on %s", service.name, bound)
    return RunningService(service, server, health_servicer, bound, security)


async def serve_until_signalled(
    service: DeskService,
    address: str,
    on_ready: Callable[[str], None] | None = None,
    *,
    security: ServerSecurity | None = None,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> None:
    """Run one service until SIGTERM/SIGINT, then drain: the entry point of a pod and of an embedded child."""
    running = await start_service(service, address, security=security, interceptors=interceptors)
    if on_ready is not None:
        on_ready(running.address)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    await stopped.wait()
    log.info("%s draining", service.name)
    await running.stop()
