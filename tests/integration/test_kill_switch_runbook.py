"""docs/runbooks/kill-switch.md works as written: each ``# step:`` block runs, in order, against a live embedded
desk with open orders, and the desk is in the state the runbook says after each one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from tests.desk_runner import REPO, RunningDesk, free_ports, wait_for, write_desk
from tests.integration.test_kill_switch import bids, open_orders, place, resting
from tradingdesk.security.tls import local_pki
from tradingdesk.v1 import common_pb2, orders_pb2_grpc, risk_pb2, risk_pb2_grpc

pytestmark = pytest.mark.slow
RUNBOOK = REPO / "docs" / "runbooks" / "kill-switch.md"
TOKEN = "runbook-token"


def steps() -> dict[str, str]:
    blocks = re.findall(r"```bash\n(.*?)```", RUNBOOK.read_text(), re.S)
    out = {}
    for block in blocks:
        m = re.match(r"# step: (\S+)\n", block)
        if m:
            out[m.group(1)] = block
    return out


def test_runbook_has_the_steps() -> None:
    assert list(steps()) == ["setup", "kill", "kill-account", "kill-http", "verify", "positions", "resume"]


async def test_kill_switch_runbook_against_a_desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TD_RISK_HTTP_TOKEN", TOKEN)
    (http_port,) = free_ports(1)

    def tune(doc: dict) -> None:
        doc["spec"]["risk"].update(maxSubmitsPerSecond=1_000_000, httpPort=http_port)

    spec = write_desk(tmp_path, tune)
    desk = await RunningDesk(spec).start()
    env = {
        **os.environ,
        "DESK": str(spec),
        "RISK_HTTP": f"https://127.0.0.1:{http_port}",
        "CA": str(local_pki(desk.desk).ca_path),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    blocks = steps()

    def run(name: str) -> str:
        script = "set -euo pipefail\n" + blocks["setup"] + blocks[name]
        done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"step {name} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    try:
        prices = await wait_for(lambda: bids(desk), timeout=20)
        async with (
            desk.channel("routing") as routing,
            desk.channel("risk") as risk_ch,
        ):
            orders = orders_pb2_grpc.OrderServiceStub(routing)
            risk = risk_pb2_grpc.RiskServiceStub(risk_ch)
            await place(orders, resting(prices, 90, "rb"))
            assert len(await open_orders(orders)) == 90

            out = run("kill")
            assert "HALTED" in out and "jane.doe" in out and "applied by 1 of 1 routing gate(s)" in out
            await wait_for(lambda: _none_open(orders), timeout=10)
            run("kill-account")
            out = run("kill-http")
            assert '"state":"HALTED"' in out.replace(" ", "")
            assert '"delivery":{"gates":1,"applied":1,"cut_off":0' in out.replace(" ", "")
            out = run("verify")
            assert "HALTED" in out and "KILL" in out
            run("positions")
            out = run("resume")
            assert out.count("ACTIVE") >= 3 and out.count("resumed: applied by 1 of 1 routing gate(s)") == 2
            for scope in (
                common_pb2.Scope(),
                common_pb2.Scope(account="ACC-EQ-1", strategy="twap"),
                common_pb2.Scope(account="ACC-EQ-2"),
            ):
                state = await risk.GetTradingState(risk_pb2.GetTradingStateRequest(scope=scope))
                assert state.state == common_pb2.TRADING_STATE_ACTIVE, scope
            await wait_for(lambda: _accepts(orders, resting(prices, 1, "after-runbook")[0]), timeout=10)
    finally:
        await desk.stop()


async def _none_open(orders) -> bool:
    return not await open_orders(orders)


async def _accepts(orders, req) -> bool:
    try:
        await orders.SubmitOrder(req, timeout=5)
        return True
    except grpc.aio.AioRpcError:
        return False
