"""Supervision of ``tradingdesk up``, as a person runs it: a SIGKILLed service is restarted while the others keep
running and trading follows spec.supervision; a crash loop stops the desk; a SIGKILLed ``tradingdesk up``
leaves no service process behind."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.desk_runner import DeskProcess, wait_for, wait_until, write_desk
from tests.integration.test_kill_switch import bids, refused_code, resting
from tests.integration.test_risk_fail_closed import _accepted, _refused
from tradingdesk.runtime.supervisor import STATUS_FILE
from tradingdesk.v1 import (
    common_pb2,
    compliance_pb2,
    compliance_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
    risk_pb2,
    risk_pb2_grpc,
)

pytestmark = pytest.mark.slow
GATE_BOUND_MS = 500


def supervised(**policy: int) -> Callable[[dict], None]:
    def mutate(doc: dict) -> None:
        doc["spec"]["risk"].update(maxSubmitsPerSecond=1_000_000, gateStreamTimeoutMs=GATE_BOUND_MS)
        doc["spec"]["supervision"] = policy

    return mutate


def status(desk: DeskProcess) -> dict:
    path = desk.spec_path.parent / "logs" / STATUS_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def service(desk: DeskProcess, name: str) -> dict:
    return status(desk).get("services", {}).get(name, {})


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def sigkill(desk: DeskProcess, name: str) -> int:
    pid = service(desk, name)["pid"]
    os.kill(pid, signal.SIGKILL)
    return pid


def restarted(desk: DeskProcess, name: str, times: int = 1) -> bool:
    s = service(desk, name)
    return s.get("restarts") == times and s.get("state") == "serving"


class Probe:
    """Resting orders, each with a client order id of its own."""

    def __init__(self, prices: dict[str, int]) -> None:
        self.prices = prices
        self.n = 0

    def __call__(self):
        self.n += 1
        return resting(self.prices, 1, f"sup-{self.n}-{time.monotonic_ns()}")[0]


@pytest.fixture
def started(tmp_path: Path):
    desks: list[DeskProcess] = []

    def start(**policy) -> DeskProcess:
        desk = DeskProcess(write_desk(tmp_path, supervised(**policy)))
        desks.append(desk)
        desk.wait_up()
        # the supervisor writes its status file once it watches the services, just after "desk is up"
        wait_until(lambda: len(status(desk).get("services", {})) == 5, timeout=30, what="the supervisor's status")
        return desk

    yield start
    for desk in desks:
        if desk.proc.poll() is None:
            desk.stop()


async def test_sigkilled_compliance_is_restarted_while_orders_are_acknowledged_and_it_catches_up(started) -> None:
    desk = started(restartBackoffInitialMs=3_000, restartBackoffMaxMs=3_000)
    others = {name: service(desk, name)["pid"] for name in ("feeds", "routing", "risk", "monitoring")}
    probe = Probe(await wait_for(lambda: bids(desk), timeout=30))
    async with (
        desk.aio_channel("routing") as routing,
        desk.aio_channel("compliance") as compliance_ch,
    ):
        orders = orders_pb2_grpc.OrderServiceStub(routing)
        compliance = compliance_pb2_grpc.ComplianceServiceStub(compliance_ch)
        before = (await orders.SubmitOrder(probe(), timeout=5)).order_id

        killed = sigkill(desk, "compliance")
        wait_until(lambda: service(desk, "compliance").get("state") == "down", timeout=10, what="the crash seen")
        during = [(await orders.SubmitOrder(probe(), timeout=5)).order_id for _ in range(20)]
        assert service(desk, "compliance")["state"] != "serving", "the orders were meant to go in while it was down"

        await wait_for(lambda: restarted(desk, "compliance"), timeout=60, what="compliance restarted")
        assert service(desk, "compliance")["pid"] != killed
        assert service(desk, "compliance")["lastExit"] == "killed by SIGKILL"
        assert {name: service(desk, name)["pid"] for name in others} == others, "the others kept running"
        log = desk.log.read_text()
        assert f"supervisor: compliance (pid {killed}) killed by SIGKILL; restarting in 3s " in log
        assert "(restart 1 of at most 5 in 300s)" in log and "supervisor: compliance serving again on" in log

        async def recorded(order_id: str) -> bool:
            found = await compliance.QueryAudit(compliance_pb2.QueryAuditRequest(order_id=order_id), timeout=5)
            return any(e.order_id == order_id for e in found.events)

        for order_id in (before, *during):  # the audit trail has every order, the ones sent while it was down too
            await wait_for(lambda oid=order_id: recorded(oid), timeout=30, what=f"{order_id} in the audit trail")
        assert (await orders.SubmitOrder(probe(), timeout=5)).order_id
    assert desk.stop() == 0
    # a restarted compliance may still be recording what it missed: the stop has it seal first (EmbeddedDesk.stop)
    log = desk.log.read_text()
    assert "stopping the desk: compliance was restarted" in log and "audit trail sealed at " in log, log


async def test_sigkilled_risk_fails_closed_until_it_is_restarted(started) -> None:
    desk = started(restartBackoffInitialMs=3_000, restartBackoffMaxMs=3_000)
    probe = Probe(await wait_for(lambda: bids(desk), timeout=30))
    async with desk.aio_channel("routing") as routing:
        orders = orders_pb2_grpc.OrderServiceStub(routing)
        assert await _accepted(orders, probe())
        sigkill(desk, "risk")
        outcome = await wait_for(lambda: _refused(orders, probe()), timeout=GATE_BOUND_MS / 1000 + 10, interval=0.02)
        assert outcome.startswith("UNAVAILABLE:RISK_STREAM_LOST:"), outcome
        await wait_for(lambda: restarted(desk, "risk"), timeout=60, what="risk restarted")
        assert await wait_for(lambda: _accepted(orders, probe()), timeout=20, what="orders accepted again")
    assert desk.stop() == 0


def nice(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


async def test_compliance_and_monitoring_yield_the_cpu_to_the_order_path_also_once_restarted(started) -> None:
    """spec.services.<service>.nice, unset: compliance and monitoring run 5 above ``tradingdesk up``'s nice value,
    the order path at it; a compliance restarted by the warm spare (which waits at nice 19) comes back at its own."""
    desk = started()
    base = os.getpriority(os.PRIO_PROCESS, desk.proc.pid)
    assert {
        n: nice(service(desk, n)["pid"]) - base for n in ("feeds", "routing", "risk", "compliance", "monitoring")
    } == {
        "feeds": 0,
        "routing": 0,
        "risk": 0,
        "compliance": 5,
        "monitoring": 5,
    }
    wait_until(lambda: spare_pid(desk) != 0, timeout=60, what="the warm spare")
    spare = spare_pid(desk)
    sigkill(desk, "compliance")
    await wait_for(lambda: restarted(desk, "compliance"), timeout=60, what="compliance restarted")
    assert service(desk, "compliance")["pid"] == spare, "the warm spare became compliance"
    restarted_at = nice(spare) - base
    if spare_could_raise_its_priority(spare):
        assert restarted_at == 5
    else:  # a spare without CAP_SYS_NICE never left nice 19
        assert restarted_at == 19 - base
    assert desk.stop() == 0


def spare_could_raise_its_priority(pid: int) -> bool:
    """Whether the spare had CAP_SYS_NICE (bit 23 of its effective capabilities) to go back from nice 19."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> 23 & 1)
    return False


def spare_pid(desk: DeskProcess) -> int:
    return status(desk).get("spare", {}).get("pid", 0)


async def test_sigkilled_routing_is_restarted_from_its_journal(started) -> None:
    """By the warm spare (spec.supervision.warmSpare, on by default): the restarted routing is the spare's
    process, and a new spare waits for the next crash once routing serves again."""
    desk = started()
    wait_until(lambda: spare_pid(desk) != 0, timeout=60, what="the warm spare")
    spare = spare_pid(desk)
    assert alive(spare), status(desk)
    probe = Probe(await wait_for(lambda: bids(desk), timeout=30))
    async with desk.aio_channel("routing") as routing:
        orders = orders_pb2_grpc.OrderServiceStub(routing)
        order = probe()
        ack = await orders.SubmitOrder(order, timeout=5)
        sigkill(desk, "routing")
        await wait_for(lambda: restarted(desk, "routing"), timeout=60, what="routing restarted")
        assert service(desk, "routing")["pid"] == spare, "the warm spare became routing"
        wait_until(lambda: spare_pid(desk) not in (0, spare), timeout=60, what="the next warm spare")
        assert alive(spare_pid(desk))
        # the acknowledged order survived the crash: the restarted routing recovered it from the journal
        got = await orders.GetOrder(orders_pb2.GetOrderRequest(account=order.account, order_id=ack.order_id), timeout=5)
        assert (got.order_id, got.client_order_id) == (ack.order_id, order.client_order_id)
        assert await wait_for(lambda: _accepted(orders, probe()), timeout=20, what="routing accepting again")
    assert desk.stop() == 0


def test_a_service_that_keeps_crashing_stops_the_desk_with_the_reason(started) -> None:
    desk = started(maxRestarts=1, restartBackoffInitialMs=10)
    pids = [s["pid"] for s in status(desk)["services"].values()]
    sigkill(desk, "monitoring")
    wait_until(lambda: restarted(desk, "monitoring"), timeout=60, what="monitoring restarted once")
    sigkill(desk, "monitoring")
    assert desk.proc.wait(60) == 1
    log = desk.log.read_text()
    assert (
        "supervisor: service monitoring crashed 2 times within 300s (spec.supervision.maxRestarts=1); "
        "giving up and stopping the desk" in log
    ), log
    assert "desk stopped" in log
    assert status(desk)["gaveUp"].startswith("service monitoring crashed 2 times")
    wait_until(lambda: not any(alive(p) for p in pids), timeout=30, what="every service process gone")


async def test_compliance_down_past_the_bound_halts_the_desk_until_a_person_resumes(started) -> None:
    desk = started(restartBackoffInitialMs=4_000, restartBackoffMaxMs=4_000, haltAfterComplianceDownSeconds=1)
    probe = Probe(await wait_for(lambda: bids(desk), timeout=30))
    async with (
        desk.aio_channel("routing") as routing,
        desk.aio_channel("risk") as risk_ch,
    ):
        orders = orders_pb2_grpc.OrderServiceStub(routing)
        risk = risk_pb2_grpc.RiskServiceStub(risk_ch)
        assert await _accepted(orders, probe())
        sigkill(desk, "compliance")

        async def halted() -> risk_pb2.TradingStateInfo | None:
            info = await risk.GetTradingState(risk_pb2.GetTradingStateRequest(), timeout=5)
            return info if info.state == common_pb2.TRADING_STATE_HALTED else None

        info = await wait_for(halted, timeout=30, what="the desk halted by supervision")
        assert info.actor == "supervisor"
        assert info.reason.startswith("supervision: compliance down for more than 1s"), info.reason
        assert await refused_code(orders, probe()) == "TRADING_HALTED"

        await wait_for(lambda: restarted(desk, "compliance"), timeout=60, what="compliance restarted")
        # the halt is latched: compliance being back is not enough
        assert await refused_code(orders, probe()) == "TRADING_HALTED"
        assert status(desk)["haltedBySupervisor"] == info.reason

        resume = risk_pb2.ResumeRequest(actor="jane.doe", reason="compliance back, audit caught up")
        await risk.Resume(resume, timeout=5)
        assert await wait_for(lambda: _accepted(orders, probe()), timeout=20, what="orders accepted after resume")
    assert "supervisor: desk HALTED" in desk.log.read_text()
    assert desk.stop() == 0


def test_a_sigkilled_tradingdesk_up_leaves_no_service_process_behind(started) -> None:
    """Nor its warm spare."""
    desk = started()
    wait_until(lambda: spare_pid(desk) != 0, timeout=60, what="the warm spare")
    pids = [s["pid"] for s in status(desk)["services"].values()] + [spare_pid(desk)]
    assert len(pids) == 6 and all(alive(p) for p in pids)
    desk.proc.kill()
    desk.proc.wait(10)
    wait_until(lambda: not any(alive(p) for p in pids), timeout=30, what="every service process gone with its parent")
