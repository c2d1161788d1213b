"""Real-time risk's snapshots in a running desk: taken while orders flow, and a SIGKILLed risk service starts
from the newest one (reading only routing's journal after it) with the exposure it had."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from tests.desk_runner import DeskProcess, wait_for, wait_until, write_desk
from tests.integration.test_kill_switch import bids, resting
from tests.integration.test_supervision import restarted, service, sigkill, status
from tradingdesk.v1 import common_pb2, orders_pb2_grpc, risk_pb2, risk_pb2_grpc

pytestmark = pytest.mark.slow
TAKEN = re.compile(r"risk: snapshot at journal seq (\d+) \(")
LOADED = re.compile(r"risk: state loaded from the snapshot at journal seq (\d+)")


def snapshot_often(doc: dict) -> None:
    doc["spec"]["risk"].update(maxSubmitsPerSecond=1_000_000)
    doc["spec"]["risk"]["snapshots"] = {"everyRecords": 10, "everySeconds": 0}
    doc["spec"]["supervision"] = {"restartBackoffInitialMs": 200}


def risk_log(desk: DeskProcess) -> str:
    path = desk.spec_path.parent / "logs" / "risk.log"
    return path.read_text() if path.exists() else ""


@pytest.fixture
def desk(tmp_path: Path):
    d = DeskProcess(write_desk(tmp_path, snapshot_often))
    d.wait_up()
    wait_until(lambda: len(status(d).get("services", {})) == 5, timeout=30, what="the supervisor's status")
    yield d
    if d.proc.poll() is None:
        d.stop()


async def test_a_sigkilled_risk_service_starts_from_its_newest_snapshot(desk) -> None:
    prices = await wait_for(lambda: bids(desk), timeout=30)
    sent = resting(prices, 60, "risk-snap")
    resting_notional = sum(Decimal(r.limit_price) * Decimal(r.quantity) for r in sent)
    async with desk.aio_channel("routing") as channel:
        orders = orders_pb2_grpc.OrderServiceStub(channel)
        for req in sent:
            await orders.SubmitOrder(req, timeout=10)

    async def exposure() -> risk_pb2.RiskSnapshot | None:
        """The desk's risk once every order rests at its venue (their notional counts from the venue's ack)."""
        async with desk.aio_channel("risk") as ch:
            snap = await risk_pb2_grpc.RiskServiceStub(ch).GetRiskSnapshot(
                risk_pb2.GetRiskSnapshotRequest(scope=common_pb2.Scope()), timeout=10
            )
        return snap if Decimal(snap.open_order_notional) == resting_notional else None

    before = await wait_for(exposure, timeout=30, what="risk has read every order resting")
    await wait_for(lambda: TAKEN.findall(risk_log(desk)), timeout=30, what="a risk snapshot")
    newest = int(TAKEN.findall(risk_log(desk))[-1])
    assert newest > 10

    sigkill(desk, "risk")
    await wait_for(lambda: restarted(desk, "risk"), timeout=60, what="risk restarted")
    loaded = [int(seq) for seq in LOADED.findall(risk_log(desk))]
    assert loaded and loaded[-1] >= newest, risk_log(desk)[-3000:]
    after = await wait_for(exposure, timeout=30, what="risk caught up with the journal again")
    assert after.journal_seq >= before.journal_seq and after.gross_exposure == before.gross_exposure
    assert [(s.symbol, s.open_order_notional) for s in after.symbols] == [
        (s.symbol, s.open_order_notional) for s in before.symbols
    ]
    assert service(desk, "risk")["restarts"] == 1
    assert desk.stop() == 0
