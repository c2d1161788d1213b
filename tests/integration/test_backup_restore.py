"""``tradingdesk backup`` of a running desk and ``tradingdesk restore`` into a fresh one: the restored desk has the
same orders, positions, risk state and audit trail. SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.desk_runner import RunningDesk, wait_for, write_desk
from tradingdesk.spec.load import load_desk
from tradingdesk.storage.backup import BackupError, backup, restore
from tradingdesk.v1 import (
    common_pb2,
    compliance_pb2,
    compliance_pb2_grpc,
    market_data_pb2,
    market_data_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
    risk_pb2,
    risk_pb2_grpc,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "tradingdesk.cli.main", *args]
    return subprocess.run(cmd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=180)


async def quote(desk: RunningDesk, symbol: str) -> market_data_pb2.Quote | None:
    async with desk.channel("feeds") as ch:
        try:
            q = await market_data_pb2_grpc.MarketDataServiceStub(ch).GetQuote(
                market_data_pb2.GetQuoteRequest(symbol=symbol), timeout=1
            )
        except grpc.aio.AioRpcError:
            return None
        return q if q.ask_price else None


async def trade(desk: RunningDesk) -> None:
    """A filled buy, a resting sell, a canceled order, a halted account: state of every kind to carry over."""
    q = await wait_for(lambda: quote(desk, "AAPL"), timeout=15)
    ask = Decimal(q.ask_price)
    async with desk.channel("routing") as ch:
        orders = orders_pb2_grpc.OrderServiceStub(ch)

        async def submit(coid: str, side: int, price: Decimal, qty: str = "100") -> orders_pb2.OrderAck:
            request = orders_pb2.SubmitOrderRequest(
                client_order_id=coid, account="ACC-EQ-1", strategy="manual", symbol="AAPL", side=side,
                order_type=common_pb2.ORDER_TYPE_LIMIT, quantity=qty, limit_price=str(price),
                time_in_force=common_pb2.TIME_IN_FORCE_DAY,
            )  # fmt: skip
            return await orders.SubmitOrder(request, timeout=5)

        async def submitted(coid: str, side: int, price: Decimal) -> orders_pb2.OrderAck | None:
            try:
                return await submit(coid, side, price)
            except grpc.aio.AioRpcError as exc:  # no fresh reference from the tape yet
                assert exc.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.UNAVAILABLE)
                return None

        through = (ask * Decimal("1.01")).quantize(Decimal("0.01"), ROUND_UP)
        buy = await wait_for(lambda: submitted("bk-buy", common_pb2.SIDE_BUY, through), timeout=20)

        async def filled() -> bool:
            o = await orders.GetOrder(orders_pb2.GetOrderRequest(account="ACC-EQ-1", order_id=buy.order_id))
            return o.status == common_pb2.ORDER_STATUS_FILLED

        await wait_for(filled, timeout=20)
        far = (ask * Decimal("1.04")).quantize(Decimal("0.01"), ROUND_DOWN)
        await submit("bk-rest", common_pb2.SIDE_SELL, far, "50")  # sales within the long position of 100
        cancel = await submit("bk-cancel", common_pb2.SIDE_SELL, far, "50")
        await orders.CancelOrder(orders_pb2.CancelOrderRequest(account="ACC-EQ-1", order_id=cancel.order_id))

    async with desk.channel("risk") as ch:
        kill = risk_pb2.KillSwitchRequest(scope=common_pb2.Scope(account="ACC-EQ-2"), actor="sre", reason="backup test")
        await risk_pb2_grpc.RiskServiceStub(ch).KillSwitch(kill, timeout=5)


async def snapshot(desk: RunningDesk) -> dict[str, Any]:
    """Everything a restore must reproduce, as the services report it."""
    async with desk.channel("routing") as ch:
        orders = orders_pb2_grpc.OrderServiceStub(ch)
        listed = await orders.ListOrders(orders_pb2.ListOrdersRequest(), timeout=5)
        positions = await orders.GetPositions(orders_pb2.GetPositionsRequest(), timeout=5)
    async with desk.channel("risk") as ch:
        state = await risk_pb2_grpc.RiskServiceStub(ch).GetTradingState(
            risk_pb2.GetTradingStateRequest(scope=common_pb2.Scope(account="ACC-EQ-2")), timeout=5
        )
    async with desk.channel("compliance") as ch:
        audit = await compliance_pb2_grpc.ComplianceServiceStub(ch).QueryAudit(
            compliance_pb2.QueryAuditRequest(limit=10_000), timeout=5
        )
    return {
        "orders": sorted(
            (o.client_order_id, o.status, o.quantity, o.cum_quantity, o.avg_price, o.limit_price) for o in listed.orders
        ),
        "positions": sorted((p.account, p.symbol, p.quantity, p.avg_cost, p.realized_pnl) for p in positions.positions),
        "halt": (state.state, state.actor, state.reason),
        # the journal's records in the audit log, in log order (compliance's own records, such as a restart, aside)
        "audit": [(e.index, e.seq, e.kind, e.order_id, e.payload_json) for e in audit.events if e.source == "journal"],
    }


async def _audit_at_least(desk: RunningDesk, count: int) -> list | None:
    audit = (await snapshot(desk))["audit"]
    return audit if len(audit) >= count else None


async def audit_caught_up(desk: RunningDesk) -> bool:
    async with desk.channel("routing") as ch:
        stream = orders_pb2_grpc.OrderServiceStub(ch).StreamJournal(orders_pb2.StreamJournalRequest(from_seq=1))
        first = await stream.read()  # the journal's last durable seq, at once
        stream.cancel()
    last = first.durable_seq
    async with desk.channel("compliance") as ch:
        audit = await compliance_pb2_grpc.ComplianceServiceStub(ch).QueryAudit(
            compliance_pb2.QueryAuditRequest(limit=10_000), timeout=5
        )
    journal = [e for e in audit.events if e.source == "journal"]
    # the halt's incident report is journaled by routing once the risk service's update reaches it
    recorded = max((e.seq for e in journal), default=0)  # compliance may not have recorded anything yet
    return last > 0 and recorded >= last and any(e.kind == "incident" for e in journal)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> Any:
    """(name, a function giving the environment of a fresh desk's databases)."""
    if request.param == "sqlite":
        return "sqlite", lambda: {}
    server = request.getfixturevalue("postgres_server")
    return "postgresql", lambda: {"TD_DSN": server.create_database(f"bk_{uuid.uuid4().hex[:10]}")}


async def test_restore_into_a_fresh_desk_reproduces_orders_positions_risk_and_audit(
    tmp_path: Path, backend: Any
) -> None:
    name, fresh_env = backend
    env = fresh_env()
    (tmp_path / "original").mkdir()
    (tmp_path / "restored").mkdir()
    spec = write_desk(tmp_path / "original")
    original = await RunningDesk(spec, env).start()
    try:
        await trade(original)
        await wait_for(lambda: audit_caught_up(original), timeout=20)
        before = await snapshot(original)
        run = cli("backup", "-f", str(spec), "-o", str(tmp_path / "backup"), env=env)  # online: the desk runs
        assert run.returncode == 0, run.stderr
        assert f"backed up desk us-equities ({name}) at journal seq" in run.stdout
    finally:
        await original.stop()
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["backend"] == name and manifest["journal_seq"] >= len(before["audit"]) > 0

    # The audit trail's authority is its bucket, signed with the desk's key: the restored desk seals into the same
    # bucket with the same key (on Kubernetes both come from the spec and a Secret); it rebuilds its spool from the
    # bucket and the rest from the journal.
    bucket = tmp_path / "original" / "audit"
    spec2 = write_desk(tmp_path / "restored", lambda d: d["spec"]["compliance"]["auditBucket"].update(path=str(bucket)))
    key = tmp_path / "original" / "var" / "us-equities" / "audit-keys" / "signing.key"
    env2 = {**fresh_env(), "TD_AUDIT_SIGNING_KEY_FILE": str(key)}
    run = cli("restore", "-f", str(spec2), "-i", str(tmp_path / "backup"), env=env2)
    assert run.returncode == 0, run.stderr
    assert f"restored desk us-equities ({name}) at journal seq {manifest['journal_seq']}" in run.stdout
    again = cli("restore", "-f", str(spec2), "-i", str(tmp_path / "backup"), env=env2)
    assert again.returncode == 2 and "restore into a fresh desk" in again.stderr  # never merges

    restored = await RunningDesk(spec2, env2).start()
    try:
        after = await snapshot(restored)
        assert after["orders"] == before["orders"] and len(after["orders"]) == 3
        assert after["positions"] == before["positions"] and after["positions"]
        assert after["halt"] == (common_pb2.TRADING_STATE_HALTED, "sre", "backup test")
        restored_audit = await wait_for(lambda: _audit_at_least(restored, len(before["audit"])), timeout=30)
        assert restored_audit == before["audit"]
    finally:
        await restored.stop()


def test_backup_and_restore_refuse_what_they_cannot_do(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    desk = load_desk(write_desk(tmp_path / "d"))
    out = tmp_path / "not-empty"
    out.mkdir()
    (out / "x").write_text("x")
    with pytest.raises(BackupError, match="is not empty: a backup goes into a new directory"):
        backup(desk.name, [], out)
    with pytest.raises(BackupError, match=r"holds no manifest\.json: not a tradingdesk backup"):
        restore(tmp_path / "d", desk.name, [])
    run = cli("backup", "-f", str(tmp_path / "d" / "desk.yaml"), "-o", str(tmp_path / "b"),
              env={"TD_DATA_DIR": str(tmp_path / "nothing-here")})  # fmt: skip
    assert run.returncode == 2 and "no SQLite database at" in run.stderr
