"""The whole embedded desk over real sockets: a client built from the .proto files alone trades on it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.desk_runner import REPO, RunningDesk, wait_for, write_desk
from tradingdesk.security.tls import local_pki
from tradingdesk.spec.model import SERVICE_NAMES
from tradingdesk.v1 import (
    common_pb2,
    compliance_pb2,
    compliance_pb2_grpc,
    market_data_pb2,
    market_data_pb2_grpc,
    monitoring_pb2,
    monitoring_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
)

pytestmark = pytest.mark.slow


def api_guide_blocks() -> tuple[str, str]:
    text = (REPO / "docs" / "api.md").read_text()
    bash = re.findall(r"```bash\n(.*?)```", text, re.S)[0]
    python = re.findall(r"```python\n(.*?)```", text, re.S)[0]
    return bash, python


async def quote_ready(desk: RunningDesk) -> bool:
    async with desk.channel("feeds") as ch:
        try:
            q = await market_data_pb2_grpc.MarketDataServiceStub(ch).GetQuote(
                market_data_pb2.GetQuoteRequest(symbol="AAPL"), timeout=1
            )
            return bool(q.ask_price)
        except grpc.aio.AioRpcError:
            return False


async def test_client_from_protos_trades_and_state_survives_restart(tmp_path: Path) -> None:
    spec = write_desk(tmp_path)
    desk = await RunningDesk(spec).start()
    try:
        assert [line.split()[0] for line in desk.lines] == list(SERVICE_NAMES)
        for name in SERVICE_NAMES:
            async with desk.channel(name) as ch:
                resp = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=2)
                assert resp.status == health_pb2.HealthCheckResponse.SERVING, name
        await wait_for(lambda: quote_ready(desk), timeout=10)

        # The client: code generated from the .proto files into an empty directory, run as the API guide says.
        client = tmp_path / "client"
        client.mkdir()
        bash, python = api_guide_blocks()
        env = {**os.environ, "TRADINGDESK_REPO": str(REPO)}
        subprocess.run(["bash", "-c", bash.replace("python ", f"{sys.executable} ")], cwd=client, env=env, check=True)
        for pkg in (client / "tradingdesk", client / "tradingdesk" / "v1"):
            (pkg / "__init__.py").touch()  # a regular package, so it wins over the installed one
        (client / "place_order.py").write_text(python)
        env |= {
            "TRADINGDESK_ROUTING_PORT": str(desk.desk.spec.services.port_of("routing")),
            "TRADINGDESK_FEEDS_PORT": str(desk.desk.spec.services.port_of("feeds")),
            "PYTHONPATH": str(client),
            "TRADINGDESK_TLS": str(local_pki(desk.desk).directory),
            "TRADINGDESK_IDENTITY": "trader",  # entitled to ACC-EQ-1 only, which is all the guide trades
        }
        run = subprocess.run(
            [sys.executable, "-c", "import sys; sys.path.insert(0, '.'); exec(open('place_order.py').read())"],
            cwd=client,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stdout + run.stderr + desk.logs()
        out = run.stdout
        assert "EXEC_TYPE_NEW ORDER_STATUS_NEW" in out
        assert "EXEC_TYPE_TRADE ORDER_STATUS_PARTIALLY_FILLED" in out
        assert "EXEC_TYPE_TRADE ORDER_STATUS_FILLED" in out
        order_id = re.search(r"acknowledged (\S+)", out).group(1)

        async with desk.channel("routing") as ch:
            stub = orders_pb2_grpc.OrderServiceStub(ch)
            before = await stub.GetOrder(orders_pb2.GetOrderRequest(account="ACC-EQ-1", order_id=order_id))
            positions = await stub.GetPositions(orders_pb2.GetPositionsRequest(account="ACC-EQ-1"))
        assert before.status == common_pb2.ORDER_STATUS_FILLED
        (aapl,) = [p for p in positions.positions if p.symbol == "AAPL"]
        assert aapl.quantity == before.cum_quantity

        # Compliance mirrored every event of the order; monitoring sees five healthy services.
        async def audited() -> list:
            async with desk.channel("compliance") as ch:
                resp = await compliance_pb2_grpc.ComplianceServiceStub(ch).QueryAudit(
                    compliance_pb2.QueryAuditRequest(order_id=order_id)
                )
            kinds = [e.kind for e in resp.events]
            return (
                kinds
                if kinds and kinds[-1] == "trade" and json.loads(resp.events[-1].payload_json)["status"] == "FILLED"
                else []
            )

        kinds = await wait_for(audited, timeout=10)
        assert kinds[:2] == ["pending_new", "new"]

        async def healthy() -> bool:
            async with desk.channel("monitoring") as ch:
                summary = await monitoring_pb2_grpc.MonitoringServiceStub(ch).GetHealthSummary(
                    monitoring_pb2.GetHealthSummaryRequest()
                )
            return summary.healthy and len(summary.services) == len(SERVICE_NAMES)

        await wait_for(healthy, timeout=10)
    finally:
        codes = await desk.stop()
    assert codes == [0] * len(SERVICE_NAMES), desk.logs()

    # After a restart the order and the position are still there, rebuilt from the journal.
    desk = await RunningDesk(spec).start()
    try:
        async with desk.channel("routing") as ch:
            stub = orders_pb2_grpc.OrderServiceStub(ch)
            after = await stub.GetOrder(orders_pb2.GetOrderRequest(account="ACC-EQ-1", order_id=order_id))
            positions = await stub.GetPositions(orders_pb2.GetPositionsRequest(account="ACC-EQ-1"))
            replay = stub.StreamExecutions(orders_pb2.StreamExecutionsRequest(account="ACC-EQ-1", from_seq=1))
            first = await replay.read()
            replay.cancel()
        assert (after.status, after.cum_quantity, after.avg_price) == (
            before.status,
            before.cum_quantity,
            before.avg_price,
        )
        (aapl_after,) = [p for p in positions.positions if p.symbol == "AAPL"]
        assert (aapl_after.quantity, aapl_after.avg_cost) == (aapl.quantity, aapl.avg_cost)
        assert first.order_id == order_id and first.exec_type == common_pb2.EXEC_TYPE_PENDING_NEW
    finally:
        await desk.stop()
