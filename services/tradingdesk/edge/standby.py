"""Leader and standbys at the gRPC edge: a standby answers its service's calls with UNAVAILABLE and reports
its service NOT_SERVING, so that only the active replica is ready and behind the Kubernetes Service.

The process itself (health service "") stays SERVING either way: a standby is alive and must not be restarted
by its liveness probe. Clients that reach a standby directly are told to retry, and a retry through the
Service reaches the active replica.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2


class Standby(grpc.aio.ServerInterceptor):
    """Until ``activate``: every call of ``service`` (a fully qualified gRPC service name) is refused with
    UNAVAILABLE and ``message``; its health is NOT_SERVING. Give it to the server as an interceptor and the
    health servicer through ``bind_health``."""

    def __init__(self, service: str, message: str) -> None:
        self.service = service
        self.message = message
        self.active = False
        self._prefix = f"/{service}/"
        self._health: health.aio.HealthServicer | None = None
        self._reporting: asyncio.Task | None = None
        self.waiting_for: set[str] = set()
        """What the active replica still waits for before it reports SERVING (calls already go through)."""
        self._reports: set[asyncio.Task] = set()
        self._activated: asyncio.Event | None = None

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if self.active or handler is None or not handler_call_details.method.startswith(self._prefix):
            return handler
        return _refusing(handler, self.message)

    def bind_health(self, servicer: health.aio.HealthServicer) -> None:
        """Report this replica's status on ``servicer`` from now on (the runtime leaves the service's name to us)."""
        self._health = servicer
        self._reporting = asyncio.get_running_loop().create_task(self._report())

    def hold(self, reason: str) -> None:
        """Report NOT_SERVING, even when active, until ``release(reason)``: readiness then means the service
        can do its job (routing: its risk gate has the risk service's picture), not only that it listens."""
        self.waiting_for.add(reason)

    def release(self, reason: str) -> None:
        if reason in self.waiting_for:
            self.waiting_for.discard(reason)
            task = asyncio.get_running_loop().create_task(self._report())
            self._reports.add(task)
            task.add_done_callback(self._reports.discard)

    async def activate(self) -> None:
        """This replica is the active one now: its calls go through and its service reports SERVING."""
        self.active = True
        if self._activated is not None:
            self._activated.set()
        await self._report()

    async def until_active(self) -> None:
        """Return once this replica is the active one (at once if it is): the embedded runtime listens on the
        service's address only then (``runtime/service.py``), so a standby never takes the active one's calls."""
        if self.active:
            return
        if self._activated is None:
            self._activated = asyncio.Event()
        await self._activated.wait()

    async def _report(self) -> None:
        if self._health is not None:
            serving = self.active and not self.waiting_for
            status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
            await self._health.set(self.service, status)


def _refusing(handler: grpc.RpcMethodHandler, message: str) -> grpc.RpcMethodHandler:
    """A handler of the same shape as ``handler`` that aborts every call with UNAVAILABLE."""

    async def unary(_request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNAVAILABLE, message)

    async def streaming(_request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNAVAILABLE, message)
        yield  # never reached; makes this the async generator a response-streaming handler must be

    codecs = {"request_deserializer": handler.request_deserializer, "response_serializer": handler.response_serializer}
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(streaming, **codecs)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(unary, **codecs)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(streaming, **codecs)
    return grpc.unary_unary_rpc_method_handler(unary, **codecs)
