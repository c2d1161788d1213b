"""A replica beside another on one host (``start_service(..., own_address=...)``): it reports its health on its own
unix socket from the start and listens on the service's address only once it is active, so a standby never takes
a connection meant for the active replica; once active it waits for the address to be free."""

from __future__ import annotations

import socket
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.desk_runner import free_ports
from tests.waiting import wait_for
from tradingdesk.edge.standby import Standby
from tradingdesk.runtime.service import start_service

NAME = "test.Orders"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class Replica:
    """The smallest service with a standby: its one gRPC service is reported by ``standby``."""

    name = "replica"
    service_names = (NAME,)
    gated_names = service_names

    def __init__(self) -> None:
        self.standby = Standby(NAME, "standby: another replica is active")
        self.interceptors = (self.standby,)
        self.stopped = False

    async def start(self, server: grpc.aio.Server) -> None:
        pass

    async def stop(self) -> None:
        self.stopped = True

    def bind_health(self, servicer) -> None:
        self.standby.bind_health(servicer)


async def status(address: str, service: str = "") -> int | None:
    """The health ``address`` reports for ``service``; None when nothing answers there."""
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=2
            )
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.UNAVAILABLE, exc.details()
            return None
    return reply.status


@pytest.fixture
def addresses(tmp_path: Path) -> tuple[str, str]:
    (port,) = free_ports(1)
    return f"127.0.0.1:{port}", f"unix:{tmp_path / 'replica.sock'}"


async def test_a_standby_listens_on_the_service_address_only_once_active(addresses) -> None:
    public, own = addresses
    listening: list[bool] = []
    replica = Replica()
    running = await start_service(replica, public, own_address=own, on_listening=lambda: listening.append(True))
    try:
        assert await status(own) == SERVING  # alive: its supervisor sees it stand by
        assert await status(own, NAME) == NOT_SERVING
        assert await status(public) is None  # nobody listens there: every client reaches the active replica
        assert not listening

        await replica.standby.activate()
        assert await wait_for(lambda: status(public, NAME), timeout=10, what="the address served") == SERVING
        assert await status(own, NAME) == SERVING
        assert listening == [True]  # /metrics starts with it
    finally:
        await running.stop()
    assert replica.stopped
    assert await status(own) is None


async def test_a_new_active_replica_waits_for_the_address_the_one_before_still_holds(addresses) -> None:
    public, own = addresses
    host, port = public.rsplit(":", 1)
    before = socket.socket()  # the replica before it, fenced off but not yet exited
    before.bind((host, int(port)))
    before.listen()
    replica = Replica()
    running = await start_service(replica, public, own_address=own)
    try:
        await replica.standby.activate()
        await wait_for(lambda: status(own, NAME), timeout=10, what="the replica active")
        assert running.listening is not None and not running.listening.done()  # still waiting for the address
        before.close()
        assert await wait_for(lambda: status(public, NAME), timeout=10, what="the address served") == SERVING
    finally:
        before.close()
        await running.stop()


async def test_an_own_address_must_be_a_unix_socket(addresses) -> None:
    public, _ = addresses
    (other,) = free_ports(1)
    with pytest.raises(ValueError, match="must be a unix socket"):
        await start_service(Replica(), public, own_address=f"127.0.0.1:{other}")


async def test_a_standby_that_never_took_over_stops_cleanly(addresses) -> None:
    public, own = addresses
    replica = Replica()
    running = await start_service(replica, public, own_address=own)
    assert await status(own) == SERVING
    await running.stop()
    assert replica.stopped and running.listening is not None and running.listening.cancelled()
    assert await status(own) is None and await status(public) is None
