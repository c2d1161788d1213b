"""Certificate rotation without dropping live streams: a service re-reads its files at the next handshake;
connections and streams already open carry on."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.desk_runner import write_desk
from tradingdesk.monitoring.service import MonitoringService
from tradingdesk.runtime.service import start_service
from tradingdesk.security import channels
from tradingdesk.security.local import RUNTIME_IDENTITY, client_of, ensure_local
from tradingdesk.security.pki import LocalPki
from tradingdesk.security.server import for_service
from tradingdesk.spec.load import load_desk

SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


async def check(address: str, creds) -> int:
    async with channels.aio_channel(address, credentials=creds) as ch:
        return (await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)).status


async def test_a_renewed_certificate_is_served_to_new_connections_and_open_streams_stay(tmp_path: Path) -> None:
    desk = load_desk(write_desk(tmp_path))
    env = {"TD_DATA_DIR": str(tmp_path / "data")}
    pki = ensure_local(desk, env)
    old = tmp_path / "old-client"
    shutil.copytree(pki.directory, old)  # a client that keeps trusting the old CA
    old_client = client_of(LocalPki(old), RUNTIME_IDENTITY)
    running = await start_service(
        MonitoringService(desk), "127.0.0.1:0", security=for_service(desk, "monitoring", environ=env)
    )
    try:
        async with channels.aio_channel(running.address, credentials=old_client) as ch:
            watch = health_pb2_grpc.HealthStub(ch).Watch(health_pb2.HealthCheckRequest())
            assert (await watch.read()).status == SERVING

            # Rotate to a whole new CA: the strongest change a renewal can make.
            shutil.rmtree(pki.directory)
            pki = ensure_local(desk, env)
            new_client = client_of(pki, RUNTIME_IDENTITY)
            assert await check(running.address, new_client) == SERVING  # new connection: new certificate
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await check(running.address, old_client)  # the old trust no longer verifies the server
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE

            await running.health.set("", NOT_SERVING)  # the stream opened before the rotation still delivers
            assert (await asyncio.wait_for(watch.read(), 10)).status == NOT_SERVING
            watch.cancel()
    finally:
        await running.stop(0.5)
