"""The desk's PostgreSQL goes down under a running desk (``tradingdesk up`` on a cluster of the test's own, taken away
as the simulation's ``database_down`` fault does: its sessions cut and refused while the server runs on, or the
server crashed with ``pg_ctl stop -m immediate`` and started again) and the desk rides through either way: what was
acknowledged before is still there, new orders are refused UNAVAILABLE (JOURNAL_UNAVAILABLE) while the journal
cannot write, a cancel sent meanwhile is acknowledged once durable, and trading resumes after the database is back
without restarting the desk; compliance and risk reconnect by themselves. The kill switch works through the
outage (the halt is journaled once the database is back), a resume is refused UNAVAILABLE until then, and risk,
whose writer session was cut, journals its next change without restarting."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
import pytest

from tests.desk_runner import DeskProcess, wait_for, wait_until, write_desk
from tests.integration.test_kill_switch import bids, resting
from tests.integration.test_supervision import service, status, supervised
from tradingdesk.simulate.database import SimulationDatabase
from tradingdesk.v1 import (
    common_pb2,
    compliance_pb2,
    compliance_pb2_grpc,
    monitoring_pb2,
    monitoring_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
    risk_pb2,
    risk_pb2_grpc,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
SERVICES = ("feeds", "routing", "risk", "compliance", "monitoring")


HELD_BACK_SCOPE = common_pb2.Scope(account="ACC-EQ-1", strategy="vwap")  # no order of the test trades it
HELD_BACK_REASON = "pulled while the database was down"


@pytest.fixture
def database():
    """A cluster of the test's own: crashing the session's shared server would pull it from under other tests."""
    db = SimulationDatabase().start()
    yield db
    db.destroy()


async def submit(orders, req) -> tuple[str, str]:
    """("ok", order id) or (reject code or status name, details)."""
    try:
        ack = await orders.SubmitOrder(req, timeout=3)
    except grpc.aio.AioRpcError as err:
        meta = dict(err.trailing_metadata() or ())
        return meta.get("td-reject-code", err.code().name), f"{err.code().name}: {err.details()}"
    return "ok", ack.order_id


async def alerted(desk: DeskProcess, name: str) -> bool:
    async with desk.aio_channel("monitoring") as ch:
        listed = await monitoring_pb2_grpc.MonitoringServiceStub(ch).ListAlerts(
            monitoring_pb2.ListAlertsRequest(), timeout=5
        )
    return any(a.name == name for a in listed.alerts)


async def cleared(desk: DeskProcess, name: str) -> bool:
    return not await alerted(desk, name)


@pytest.mark.parametrize("how", ["refuse", "crash"])
async def test_the_desk_rides_through_a_database_outage(tmp_path: Path, database, monkeypatch, how: str) -> None:
    monkeypatch.setenv("TD_DSN", database.dsn)
    desk = DeskProcess(write_desk(tmp_path, supervised()))
    try:
        desk.wait_up()
        wait_until(lambda: len(status(desk).get("services", {})) == 5, timeout=30, what="the supervisor's status")
        pids = {name: service(desk, name)["pid"] for name in SERVICES}
        prices = await wait_for(lambda: bids(desk), timeout=30)
        before, during, after = (resting(prices, 20, f"dbdown-{when}") for when in ("before", "during", "after"))
        async with desk.aio_channel("routing") as routing, desk.aio_channel("compliance") as compliance_ch:
            orders = orders_pb2_grpc.OrderServiceStub(routing)
            acked = {}
            for req in before:
                outcome, order_id = await submit(orders, req)
                assert outcome == "ok", order_id
                acked[req.client_order_id] = (req.account, order_id)

            await asyncio.to_thread(database.down, how=how)
            # The first request after the outage began finds the connection gone; from then on every new order is
            # refused at once, with the reason, and nothing is acknowledged that is not durable.
            outcomes = []
            for req in during:
                outcomes.append((req, *await submit(orders, req)))
                if outcomes[-1][1] == "JOURNAL_UNAVAILABLE":
                    break
            req, code, details = outcomes[-1]
            assert code == "JOURNAL_UNAVAILABLE", outcomes
            assert details.startswith("UNAVAILABLE: the order journal cannot write to its database"), details
            assert all(code != "ok" for _, code, _ in outcomes), "an order was acknowledged while the database was down"
            waited = [r for r, code, _ in outcomes if code == "DEADLINE_EXCEEDED"]  # taken before the first failure
            assert (await submit(orders, during[-1]))[0] == "JOURNAL_UNAVAILABLE"
            # routing says why, and the desk's own checks page for it
            journal = (await orders.GetRoutingStatus(orders_pb2.GetRoutingStatusRequest(), timeout=5)).journal
            assert not journal.writable and journal.error and journal.write_failures >= 1, journal
            await wait_for(lambda: alerted(desk, "JournalWriteFailing"), timeout=30, what="JournalWriteFailing listed")
            # the journal's history cannot be read either: a clear UNAVAILABLE, with where to resume
            with pytest.raises(grpc.aio.AioRpcError) as history:
                async for _ in orders.StreamJournal(orders_pb2.StreamJournalRequest(from_seq=1), timeout=10):
                    pass
            assert history.value.code() == grpc.StatusCode.UNAVAILABLE
            assert history.value.details() == "the journal's database cannot be read now; reconnect with from_seq=1"
            async with desk.aio_channel("risk") as risk_ch:
                changes = risk_pb2_grpc.RiskServiceStub(risk_ch).StreamChanges(
                    risk_pb2.StreamChangesRequest(from_seq=1), timeout=10
                )
                with pytest.raises(grpc.aio.AioRpcError) as history:
                    async for _ in changes:
                        pass
                # the kill switch still works: the halt applies at once, and is journaled when the database is back;
                # a resume, which loosens control, is refused until it can be journaled first
                risk = risk_pb2_grpc.RiskServiceStub(risk_ch)
                killed = await risk.KillSwitch(
                    risk_pb2.KillSwitchRequest(scope=HELD_BACK_SCOPE, actor="sre", reason=HELD_BACK_REASON), timeout=30
                )
                assert killed.state.state == common_pb2.TRADING_STATE_HALTED
                assert killed.state.delivery.applied == killed.gates >= 1, killed
                with pytest.raises(grpc.aio.AioRpcError) as resumed:
                    await risk.Resume(risk_pb2.ResumeRequest(scope=HELD_BACK_SCOPE, actor="sre", reason="x"), timeout=9)
                assert resumed.value.code() == grpc.StatusCode.UNAVAILABLE, resumed.value
                assert "the risk change journal's database does not answer" in resumed.value.details()
            assert history.value.code() == grpc.StatusCode.UNAVAILABLE
            assert history.value.details().startswith("the risk change journal's database cannot be read now;")
            account, cancelled = acked[before[0].client_order_id]
            cancel = asyncio.ensure_future(
                orders.CancelOrder(orders_pb2.CancelOrderRequest(account=account, order_id=cancelled), timeout=120)
            )
            await asyncio.sleep(0)
            assert not cancel.done()

            await asyncio.to_thread(database.up)
            back = time.monotonic()
            first = await wait_for(
                lambda: _acked(orders, after[0]), timeout=60, what="an order acknowledged after the database is back"
            )
            resumed_s = time.monotonic() - back
            print(f"trading resumed {resumed_s:.2f}s after the database was back")
            assert (await cancel).order_id == cancelled
            assert (await orders.GetRoutingStatus(orders_pb2.GetRoutingStatusRequest(), timeout=5)).journal.writable
            await wait_for(
                lambda: cleared(desk, "JournalWriteFailing"), timeout=30, what="JournalWriteFailing resolved"
            )
            for req in after[1:]:
                outcome, order_id = await submit(orders, req)
                assert outcome == "ok", order_id
            # an order whose answer the client never got is found by its resubmission, once, never taken twice
            for req in waited:
                again = await orders.SubmitOrder(req, timeout=5)
                assert again.duplicate
            for client_order_id, (account, order_id) in acked.items():
                got = await orders.GetOrder(orders_pb2.GetOrderRequest(order_id=order_id, account=account), timeout=5)
                assert got.client_order_id == client_order_id
            compliance = compliance_pb2_grpc.ComplianceServiceStub(compliance_ch)

            async def audited(order_id: str) -> bool:
                found = await compliance.QueryAudit(compliance_pb2.QueryAuditRequest(order_id=order_id), timeout=5)
                return any(e.order_id == order_id for e in found.events)

            for order_id in (*(oid for _, oid in acked.values()), first):
                await wait_for(lambda oid=order_id: audited(oid), timeout=60, what=f"{order_id} in the audit trail")
        # risk's writer session was cut with the others: it takes the lock back, and a change after the outage is
        # journaled by the same process (it was fenced off and exited at its first change after the outage)
        async with desk.aio_channel("risk") as risk_ch:
            risk = risk_pb2_grpc.RiskServiceStub(risk_ch)
            await wait_for(
                lambda: _journaled(risk, HELD_BACK_REASON), timeout=30, what="the kill of the outage journaled"
            )
            resumed = await risk.Resume(
                risk_pb2.ResumeRequest(scope=HELD_BACK_SCOPE, actor="sre", reason="database back"), timeout=30
            )
            assert resumed.state == common_pb2.TRADING_STATE_ACTIVE
            scope = common_pb2.Scope(account=before[0].account)
            halted = await risk.SetTradingState(
                risk_pb2.SetTradingStateRequest(
                    scope=scope, state=common_pb2.TRADING_STATE_HALTED, actor="sre", reason="after the outage"
                ),
                timeout=30,
            )
            assert halted.state == common_pb2.TRADING_STATE_HALTED
            resumed = await risk.Resume(risk_pb2.ResumeRequest(scope=scope, actor="sre", reason="checked"), timeout=30)
            assert resumed.state == common_pb2.TRADING_STATE_ACTIVE
        states = {name: service(desk, name) for name in SERVICES}
        assert all(s["state"] == "serving" for s in states.values()), states
        assert {name: s["pid"] for name, s in states.items()} == pids, "a service restarted: it did not ride through"
    finally:
        if desk.proc.poll() is None:
            assert desk.stop() == 0, desk.log.read_text()[-3000:]


async def _journaled(risk, reason: str) -> bool:
    """Whether the risk change journal holds a change with this reason (read from the start, a few seconds)."""
    call = risk.StreamChanges(risk_pb2.StreamChangesRequest(from_seq=1), timeout=5)
    try:
        async for batch in call:
            if any(c.reason == reason for c in batch.changes):
                return True
    except grpc.aio.AioRpcError as exc:
        if exc.code() not in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE):
            raise
    finally:
        call.cancel()
    return False


async def _acked(orders, req) -> str | None:
    outcome, order_id = await submit(orders, req)
    return order_id if outcome == "ok" else None
