"""Walks docs/runbooks/restore-from-backup.md: its bash blocks run, in order, against a desk whose pods the harness
runs on a real PostgreSQL, restoring it into a new database and switching the desk over."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import grpc
import pytest

from tests.operator.kubectl import ROOT, Kubectl
from tests.operator.pods import MarketStub, OrderStub, PodsDesk, list_orders, marketable_buy, pods_desk, quoted
from tests.operator.test_node_failure_runbook import runbook_steps
from tradingdesk.v1 import common_pb2, market_data_pb2, orders_pb2

__all__ = ["pods_desk"]  # the fixture

pytestmark = [pytest.mark.k8s, pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(900)]

RUNBOOK = ROOT / "docs" / "runbooks" / "restore-from-backup.md"


def run_step(script: str, *, env: dict[str, str], cwd: Path) -> str:
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=400)  # fmt: skip
    assert proc.returncode == 0, f"runbook step failed:\n{script}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_runbook_blocks_are_all_tagged() -> None:
    assert list(runbook_steps(RUNBOOK)) == ["backup", "halt", "restore", "switch", "verify", "resume"]


def test_restore_from_backup_runbook(kube: Kubectl, pods_desk: PodsDesk, tmp_path: Path) -> None:
    desk = pods_desk
    assert (desk.namespace, desk.name) != ("trading", "us-equities")  # the runbook's names are replaced below
    steps = {k: v.replace("-n trading", f"-n {desk.namespace}") for k, v in runbook_steps(RUNBOOK).items()}
    desk.apply()
    desk.wait_ready()
    kube.wait_until("quotes through the feeds Service", lambda: quoted(desk), timeout=60)

    def submit(request: orders_pb2.SubmitOrderRequest) -> orders_pb2.OrderAck | None:
        try:
            return desk.call("routing", OrderStub, "SubmitOrder", request)
        except grpc.RpcError as exc:  # the gate refuses until it has a fresh reference from the tape
            assert exc.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.UNAVAILABLE), exc.details()
            return None

    kube.wait_until("a filled buy", lambda: submit(marketable_buy(desk, "rb-buy")), timeout=60)

    def filled() -> bool:
        query = orders_pb2.GetOrderRequest(account="ACC-EQ-1", client_order_id="rb-buy")
        return desk.call("routing", OrderStub, "GetOrder", query).status == common_pb2.ORDER_STATUS_FILLED

    kube.wait_until("the buy filled", filled, timeout=60)
    quote = desk.call("feeds", MarketStub, "GetQuote", market_data_pb2.GetQuoteRequest(symbol="AAPL"))
    far = str((Decimal(quote.ask_price) * Decimal("1.04")).quantize(Decimal("0.01"), ROUND_DOWN))
    resting = orders_pb2.SubmitOrderRequest(
        client_order_id="rb-rest", account="ACC-EQ-1", strategy="manual", symbol="AAPL", side=common_pb2.SIDE_SELL,
        order_type=common_pb2.ORDER_TYPE_LIMIT, quantity="40", limit_price=far,
        time_in_force=common_pb2.TIME_IN_FORCE_DAY,
    )  # fmt: skip
    assert submit(resting) is not None
    before = {o.client_order_id: (o.status, o.cum_quantity) for o in list_orders(desk) or []}
    assert set(before) == {"rb-buy", "rb-rest"}

    env = {
        **os.environ,
        "KUBECONFIG": str(kube.kubeconfig),
        "BACKUP": str(tmp_path / "backup"),
        "ROUTING": desk.address("routing"),
        "RISK": desk.address("risk"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    out = run_step(steps["backup"], env=env, cwd=tmp_path)
    assert "backed up desk us-equities (postgresql) at journal seq" in out

    # after the backup: an order the restore will not bring back
    resting.client_order_id, resting.quantity = "rb-after-backup", "10"
    assert submit(resting) is not None

    run_step(steps["halt"], env=env, cwd=tmp_path)
    restored = desk.postgres.create_database(f"restored_{uuid.uuid4().hex[:8]}")
    (tmp_path / "restored.dsn").write_text(restored + "\n")
    out = run_step(steps["restore"], env=env, cwd=tmp_path)
    assert "restored desk us-equities (postgresql) at journal seq" in out
    run_step(steps["switch"], env=env, cwd=tmp_path)

    out = kube.wait_until("routing on the restored database", lambda: _verify(steps["verify"], env, tmp_path), 120)
    assert "rb-buy" in out and "rb-rest" in out and "rb-after-backup" not in out
    after = {o.client_order_id: (o.status, o.cum_quantity) for o in list_orders(desk) or []}
    # the desk starts halted (the spec's state), and a halt cancels open orders: the resting sell is canceled
    assert after == {**before, "rb-rest": (common_pb2.ORDER_STATUS_CANCELED, "0")}
    assert "HALTED" in out.splitlines()[-1]  # risk state: the spec's halt wins over the backup's Active
    routing_pods = kube.json("get", "pods", "-n", desk.namespace, "-l", "app.kubernetes.io/component=routing")
    live = [p for p in routing_pods["items"] if not p["metadata"].get("deletionTimestamp")]
    (volume,) = [v for v in live[0]["spec"]["volumes"] if v["name"] == "db"]
    assert volume["secret"]["secretName"] == "us-equities-db-restored"

    run_step(steps["resume"], env=env, cwd=tmp_path)
    assert kube.desk(desk.namespace, desk.name)["status"]["tradingState"] == "Active"


def _verify(script: str, env: dict[str, str], cwd: Path) -> str | None:
    """The verify step's output once routing answers from the restored journal (it rolls onto it first)."""
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    if proc.returncode != 0 or "rb-after-backup" in proc.stdout:
        return None
    return proc.stdout
