"""The lifecycle every desk service follows, and the gRPC server around it.

A service registers its servicers and starts its background work in ``start``; ``stop`` drains. ``serve``
adds what every server must have (health, reflection) so no service can forget it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from tradingdesk.edge.clock_reading import SERVICE_NAME as CLOCK_SERVICE_NAME
from tradingdesk.edge.clock_reading import serve_clock
from tradingdesk.edge.standby import Standby
from tradingdesk.security import server as security_server
from tradingdesk.security.server import ServerSecurity
from tradingdesk.telemetry.loop_watch import LoopWatch

log = logging.getLogger(__name__)
LISTEN_RETRY_S = 0.01
"""How often a replica that just became active tries its service's address while the one before still holds it."""
LISTEN_WARN_EVERY_S = 5.0
CANNOT_LISTEN_EXIT_CODE = 70


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
        self.security = security or security_server.plaintext()
        self.own_server: grpc.aio.Server | None = None
        """Where this process reports its health when it is one of several replicas on a host (``own_address``)."""
        self.listening: asyncio.Task | None = None
        """A standby's wait to listen on the service's address once it is active."""

    async def listening_on(self, port: int, on_listening: Callable[[], None] | None) -> None:
        await self.server.start()
        self.address = f"{self.address.rsplit(':', 1)[0]}:{port}"
        if on_listening is not None:
            on_listening()
        log.info("%s serving on %s", self.service.name, self.address)

    async def listen_when_active(self, standby: Standby, on_listening: Callable[[], None] | None) -> None:
        """Once ``standby`` is the active replica, listen on the service's address. The replica before it may
        still hold it for a moment (fenced off, it exits at its next write): retried until it is free, as
        ``grpc.so_reuseport`` is off, so the two never share it."""
        await standby.until_active()
        try:
            await self._listen_retrying(on_listening)
        except Exception:  # it holds the service (the writer lock) but cannot serve it: end, so another takes over
            log.critical("%s: active but cannot listen on %s: exiting", self.service.name, self.address, exc_info=True)
            logging.shutdown()
            os._exit(CANNOT_LISTEN_EXIT_CODE)

    async def _listen_retrying(self, on_listening: Callable[[], None] | None) -> None:
        started, warned = time.monotonic(), 0.0
        while True:
            port = 0
            if address_free(self.address):  # asked first: a failed bind is an error line of grpc's on every try
                try:
                    port = self.security.bind(self.server, self.address)
                except RuntimeError:  # grpcio raises where it used to return 0
                    port = 0
            if port:
                break
            waited = time.monotonic() - started
            if waited >= warned:
                log.warning(
                    "%s: active, but %s is still in use (the replica before this one is still exiting) after "
                    "%.1f s; retrying",
                    self.service.name,
                    self.address,
                    waited,
                )
                warned = waited + LISTEN_WARN_EVERY_S
            await asyncio.sleep(LISTEN_RETRY_S)
        await self.listening_on(port, on_listening)

    async def stop(self, grace: float = 5.0) -> None:
        """NOT_SERVING first (load balancers stop sending), then end long-lived streams so they do not hold
        the grace period, then let in-flight unary calls finish, then stop the service (flushing state)."""
        for name in ("", *self.service.service_names):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        drain = getattr(self.service, "drain", None)
        if drain is not None:
            await drain()
        if self.listening is not None:
            self.listening.cancel()
            await asyncio.gather(self.listening, return_exceptions=True)
        await self.server.stop(grace)  # returns at once when it never started (a standby)
        await self.service.stop()
        if self.own_server is not None:
            await self.own_server.stop(grace)
        self.security.close()


async def start_service(
    service: DeskService,
    address: str,
    *,
    security: ServerSecurity | None = None,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    own_address: str = "",
    on_listening: Callable[[], None] | None = None,
) -> RunningService:
    """Serve ``service`` on ``address``: with ``security`` (``tradingdesk.security.server.for_service``) the
    desk's TLS, authentication and limits, without it plaintext (a service's own tests). The security interceptor
    sees every call first (a caller is authenticated before anything else answers it, a standby's refusal too);
    then the service's own (a standby refusing calls); then the runtime's ``interceptors`` (telemetry). Each
    interceptor asks the ones after it on every call (the standby's answer changes when it takes over).

    ``own_address`` (a ``unix:`` socket) is for replicas of one service on one host (the embedded desk's routing
    standby): the process reports its health there from the start, and listens on ``address``, which every
    client dials, only once it is the active replica (``standby.until_active``): a standby can never take a
    connection meant for the active one, and its health never answers for it. ``on_listening`` is called once
    ``address`` is served (``tradingdesk serve`` starts /metrics then: the same reason)."""
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
    running = RunningService(service, server, health_servicer, address, security)
    standby = getattr(service, "standby", None) if own_address else None
    if own_address:
        running.own_server = await serve_own_health(health_servicer, own_address)
    if standby is None:
        port = security.bind(server, address)
        if port == 0:
            raise OSError(f"{service.name}: cannot listen on {address}")
        await running.listening_on(port, on_listening)
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
    if standby is not None:
        running.listening = asyncio.create_task(running.listen_when_active(standby, on_listening))
    return running


def address_free(address: str) -> bool:
    """Whether nothing listens on ``address`` (host:port) now: a bind with SO_REUSEADDR, as grpc's, succeeds."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(port)))
        except OSError:
            return False
    return True


async def serve_own_health(servicer: health.aio.HealthServicer, address: str) -> grpc.aio.Server:
    """The health service alone on ``address``, a unix socket: plaintext, so only a socket in a directory no other
    user can enter will do (the embedded runtime makes one); it serves no order, no data, only health."""
    if not address.startswith("unix:"):
        raise ValueError(f"own address {address!r}: must be a unix socket (unix:/path), not a network port")
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    if not server.add_insecure_port(address):
        raise OSError(f"cannot listen on {address}")
    await server.start()
    return server


async def serve_until_signalled(
    service: DeskService,
    address: str,
    on_ready: Callable[[str], None] | None = None,
    *,
    security: ServerSecurity | None = None,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    own_address: str = "",
    on_listening: Callable[[], None] | None = None,
) -> None:
    """Run one service until SIGTERM/SIGINT, then drain: the entry point of a pod and of an embedded child."""
    running = await start_service(
        service,
        address,
        security=security,
        interceptors=interceptors,
        own_address=own_address,
        on_listening=on_listening,
    )
    if on_ready is not None:
        on_ready(running.address)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    watch = LoopWatch(loop, service=service.name)  # a held loop is logged with what held it (docs/simulation.md)
    watch.start()
    try:
        await stopped.wait()
    finally:
        watch.stop()
    log.info("%s draining", service.name)
    await running.stop()
