"""Trading-state changes return once every gate has applied them: the risk service in one process on real
sockets, with gates that speak StreamGateUpdates from the proto alone (``GateFeed``), some of them silent.

Each door (gRPC KillSwitch, SetTradingState, Resume, and the HTTP kill switch) answers with the delivery: how
many gates the change went to, how many acknowledged applying it, and which were cut off for not acknowledging
within the deadline (their streams end with ABORTED)."""

from __future__ import annotations

from pathlib import Path

import grpc

from tests.integration.test_risk_service import TOKEN, GateFeed, Risk
from tests.waiting import wait_for
from tradingdesk.v1 import common_pb2, risk_pb2

K = risk_pb2
BEARER = {"Authorization": f"Bearer {TOKEN}"}


async def started(*gates: GateFeed) -> None:
    for gate in gates:
        await wait_for(lambda g=gate: any(u.full for u in g.updates), 5, 0.01, what="the full picture")


def cut_off_events(risk: Risk) -> list[risk_pb2.RiskEvent]:
    return [e for e in risk.service.state.events if e.kind == K.RISK_EVENT_KIND_GATE_CUT_OFF]


async def test_every_door_answers_once_every_gate_applied_the_change(tmp_path: Path) -> None:
    risk = await Risk(tmp_path).start()
    east, west = GateFeed(risk.stub, "east"), GateFeed(risk.stub, "west")
    try:
        await started(east, west)
        kill = await risk.stub.KillSwitch(K.KillSwitchRequest(actor="amy", reason="drill"))
        delivery = kill.state.delivery
        assert (kill.gates, delivery.gates, delivery.applied, delivery.cut_off) == (2, 2, 2, 0)
        assert delivery.ack_deadline_ms == 2_000, "no gRPC deadline: the desk's gateStreamTimeoutMs"
        # Both acknowledged the update that carries this kill before the answer left.
        seq = next(u.seq for u in east.updates if any(k.kill_id == kill.kill_id for k in u.kills))
        assert seq > next(u.seq for u in east.updates if u.full)
        assert all(link.acked_seq >= seq for link in risk.service.state.gates)
        assert {link.name.split(" ")[0] for link in risk.service.state.gates} == {"east", "west"}

        reducing = await risk.stub.SetTradingState(
            K.SetTradingStateRequest(
                scope=common_pb2.Scope(account="ACC"), state=common_pb2.TRADING_STATE_REDUCING, actor="amy", reason="r"
            ),
            timeout=5,
        )
        assert (reducing.delivery.gates, reducing.delivery.applied, reducing.delivery.cut_off) == (2, 2, 0)
        assert reducing.delivery.ack_deadline_ms == 2_000, "5 s of gRPC deadline leave the whole bound"
        resumed = await risk.stub.Resume(K.ResumeRequest(actor="bob", reason="drill over"))
        assert (resumed.state, resumed.delivery.applied) == (common_pb2.TRADING_STATE_ACTIVE, 2)
        plain = await risk.stub.GetTradingState(K.GetTradingStateRequest())
        assert not plain.HasField("delivery"), "only the answer to a change says who applied it"

        async with risk.http() as http:
            killed = await http.post(
                "/v1/kill", json={"actor": "ops", "reason": "http drill", "account": "ACC2"}, headers=BEARER
            )
            assert killed.status_code == 200, killed.text
            body = killed.json()
            assert body["state"] == "HALTED" and body["gates"] == 2
            assert body["delivery"] == {
                "gates": 2,
                "applied": 2,
                "cut_off": 0,
                "cut_off_gates": [],
                "ack_deadline_ms": 2_000,
            }
            again = await http.post(
                "/v1/resume", json={"actor": "ops", "reason": "ok", "account": "ACC2"}, headers=BEARER
            )
            assert again.status_code == 200 and again.json()["delivery"]["applied"] == 2, again.text
        assert not cut_off_events(risk) and east.ended is None and west.ended is None
    finally:
        east.close()
        west.close()
        await risk.stop()


async def test_a_gate_that_does_not_acknowledge_in_time_is_cut_off(tmp_path: Path) -> None:
    risk = await Risk(tmp_path, {"gateStreamTimeoutMs": 300}).start()
    good, stuck = GateFeed(risk.stub, "good"), GateFeed(risk.stub, "stuck-gate", acknowledge=False)
    try:
        await started(good, stuck)
        kill = await risk.stub.KillSwitch(K.KillSwitchRequest(actor="amy", reason="runaway"))
        delivery = kill.state.delivery
        assert (delivery.gates, delivery.applied, delivery.cut_off, delivery.ack_deadline_ms) == (2, 1, 1, 300)
        assert len(delivery.cut_off_gates) == 1 and delivery.cut_off_gates[0].startswith("stuck-gate (")
        ended = await wait_for(lambda: stuck.ended, 5, 0.01, what="the stuck gate's stream to end")
        assert ended[0] == grpc.StatusCode.ABORTED
        assert "cut off by the risk service" in ended[1] and "did not acknowledge update 1 within 300 ms" in ended[1]
        (event,) = cut_off_events(risk)
        assert "stuck-gate" in event.message and "refuses new orders" in event.message
        assert good.ended is None, "the gate that acknowledged keeps its stream"
        # The cut gate is gone: the next change waits only for the gate that is left.
        resumed = await risk.stub.Resume(K.ResumeRequest(actor="bob", reason="fixed"))
        assert (resumed.delivery.gates, resumed.delivery.applied, resumed.delivery.cut_off) == (1, 1, 0)
    finally:
        good.close()
        stuck.close()
        await risk.stop()


async def test_the_callers_deadline_shortens_the_wait_so_the_answer_arrives(tmp_path: Path) -> None:
    risk = await Risk(tmp_path).start()  # gateStreamTimeoutMs 2,000
    stuck = GateFeed(risk.stub, "stuck-gate", acknowledge=False)
    try:
        await started(stuck)
        kill = await risk.stub.KillSwitch(K.KillSwitchRequest(actor="amy", reason="runaway"), timeout=1.0)
        delivery = kill.state.delivery
        assert 0 < delivery.ack_deadline_ms < 950, delivery
        assert (delivery.gates, delivery.applied, delivery.cut_off) == (1, 0, 1)
        assert kill.state.state == common_pb2.TRADING_STATE_HALTED
    finally:
        stuck.close()
        await risk.stop()


async def test_a_gate_that_closed_its_side_or_acknowledges_the_unsent_is_cut_off(tmp_path: Path) -> None:
    risk = await Risk(tmp_path).start()
    # An old gate: one request, then nothing more it can say.
    closed = GateFeed(risk.stub, "closed-gate", acknowledge=False)
    liar = None
    try:
        await started(closed)
        await closed.call.done_writing()
        kill = await risk.stub.KillSwitch(K.KillSwitchRequest(actor="amy", reason="r"))
        delivery = kill.state.delivery
        assert (delivery.gates, delivery.applied, delivery.cut_off) == (1, 0, 1)
        assert delivery.cut_off_gates[0].startswith("closed-gate (ipv")
        ended = await wait_for(lambda: closed.ended, 5, 0.01, what="the closed gate's stream to end")
        assert ended[0] == grpc.StatusCode.ABORTED and "its stream ended before it acknowledged" in ended[1]

        liar = risk.stub.StreamGateUpdates()  # a gate connects when its call starts, so only now
        await liar.write(K.StreamGateUpdatesRequest(gate_id="liar"))
        full = await liar.read()
        await liar.write(K.StreamGateUpdatesRequest(ack_seq=full.seq + 5))
        await wait_for(liar.done, 5, 0.01, what="the lying gate's stream to end")
        assert await liar.code() == grpc.StatusCode.ABORTED
        assert f"acknowledged update {full.seq + 5}, which this stream was never sent" in await liar.details()
        assert [e.message.split(" ")[1] for e in cut_off_events(risk)] == ["closed-gate", "liar"]
    finally:
        closed.close()
        if liar is not None:
            liar.cancel()
        await risk.stop()
