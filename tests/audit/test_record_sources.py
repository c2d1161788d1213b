"""What the audit trail records besides order events, each where it is first written: refused requests
(routing, unary and session; risk, gRPC and HTTP) before they are answered, risk changes with the door they
came through, served gap-free by ``StreamChanges``; and access decisions from every service."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from tests.audit.test_compliance_journal import Desk
from tests.integration.test_risk_service import TOKEN, Risk, abort_code
from tests.waiting import wait_for
from tradingdesk.audit.access import QUEUE_MAX, QueuedAccessAudit, to_compliance
from tradingdesk.core.event_codec import decode_change
from tradingdesk.core.events import AccessDecision, ChangeRefused
from tradingdesk.edge.door import door_metadata
from tradingdesk.v1 import common_pb2, compliance_pb2, orders_pb2, orders_pb2_grpc, risk_pb2

C = grpc.StatusCode


def refusals(store) -> list[ChangeRefused]:
    changes = [decode_change(ts_ns=c.ts_ns, actor=c.actor, reason=c.reason, change=c.change) for c in store.history(50)]
    return [c for c in reversed(changes) if isinstance(c, ChangeRefused)]


async def read_changes(stub, from_seq: int, count: int) -> tuple[risk_pb2.RiskChanges, list[risk_pb2.RiskChangeRecord]]:
    """The stream's header, then its first ``count`` changes."""
    call = stub.StreamChanges(risk_pb2.StreamChangesRequest(from_seq=from_seq))
    header = await anext(aiter(call))
    out: list[risk_pb2.RiskChangeRecord] = []

    async def collect() -> None:
        async for message in call:
            out.extend(message.changes)
            if len(out) >= count:
                return

    try:
        await asyncio.wait_for(collect(), 10)
    finally:
        call.cancel()
    return header, out


async def test_risk_refusals_are_journaled_with_their_door_and_the_journal_streams_gap_free(tmp_path: Path) -> None:
    risk = await Risk(tmp_path).start()
    try:
        header, _ = await read_changes(risk.stub, 1, 1)
        assert header.incarnation and not header.changes and header.last_seq >= 1
        first = header.last_seq + 1
        live = asyncio.create_task(read_changes(risk.stub, first, 6))

        kill = risk_pb2.KillSwitchRequest(actor="amy", reason="drill")
        halted = await risk.stub.KillSwitch(kill, metadata=door_metadata("cli"))
        code, details = await abort_code(risk.stub.KillSwitch(risk_pb2.KillSwitchRequest(reason="who?")))
        assert code == C.INVALID_ARGUMENT
        stale = risk_pb2.SetLimitsRequest(
            limits=await risk.stub.GetLimits(risk_pb2.GetLimitsRequest()), actor="cy", reason="r", expected_version=99
        )
        assert (await abort_code(risk.stub.SetLimits(stale, metadata=door_metadata("operator"))))[0] == C.ABORTED
        async with risk.http() as http:
            auth = {"Authorization": f"Bearer {TOKEN}"}
            malformed = await http.post("/v1/kill", json={"actor": "amy", "why": "x"}, headers=auth)
            assert malformed.status_code == 422
            await risk.stub.Resume(risk_pb2.ResumeRequest(actor="bob", reason="over"))
            again = await http.post(
                "/v1/resume", json={"actor": "bob", "reason": "again", "account": "ACC"}, headers=auth
            )
            assert again.status_code == 409

        found = refusals(risk.service.store)
        assert [(r.refusal.method, r.refusal.door, r.refusal.status, r.refusal.code) for r in found] == [
            ("KillSwitch", "grpc", "INVALID_ARGUMENT", "INVALID_ARGUMENT"),
            ("SetLimits", "operator", "ABORTED", "LIMITS_VERSION"),
            ("POST /v1/kill", "http", "422", "INVALID_ARGUMENT"),
            ("POST /v1/resume", "http", "409", "NOT_HALTED"),
        ]
        assert details.startswith("actor") and found[0].refusal.message == details
        assert found[0].refusal.request == {"reason": "who?"} and found[0].reason == "who?"
        assert found[1].actor == "cy" and found[1].refusal.request["expected_version"] == "99"
        assert "body.reason" in found[2].refusal.message and found[2].refusal.request == {"actor": "amy", "why": "x"}
        assert (found[3].account, found[3].actor, found[3].refusal.reject_kind) == ("ACC", "bob", "refused")

        _, changes = await live
        assert [c.seq for c in changes] == list(range(first, first + 6)), "gap-free, in order, live"
        assert [c.type for c in changes] == [
            "trading_state",
            "refused",
            "refused",
            "refused",
            "trading_state",
            "refused",
        ]
        assert '"door":"cli"' in changes[0].change_json and changes[0].actor == "amy"
        assert halted.kill_id in changes[0].change_json
        _, replayed = await read_changes(risk.stub, first + 2, 4)  # history from the middle, the same records
        assert [(c.seq, c.change_json) for c in replayed] == [(c.seq, c.change_json) for c in changes[2:]]
    finally:
        await risk.stop()


def order(
    coid: str, *, account: str = "ACC-EQ-1", symbol: str = "AAPL", qty: str = "10"
) -> orders_pb2.SubmitOrderRequest:
    return orders_pb2.SubmitOrderRequest(
        client_order_id=coid,
        account=account,
        symbol=symbol,
        side=common_pb2.SIDE_BUY,
        order_type=common_pb2.ORDER_TYPE_LIMIT,
        quantity=qty,
        limit_price="189.50",
    )


@pytest.mark.slow
async def test_routing_journals_each_refusal_before_it_answers(tmp_path: Path) -> None:
    desk = Desk(tmp_path)
    try:
        await desk.start_routing("routing")
        journal = desk.routing.service.journal
        async with grpc.aio.insecure_channel(desk.address("routing")) as channel:
            stub = orders_pb2_grpc.OrderServiceStub(channel)
            code, details = await abort_code(stub.SubmitOrder(order("r-1", account="NOBODY" * 50)))
            assert code == C.INVALID_ARGUMENT and details.startswith("account")
            # Durable when the client hears of it: it is in the database, not only in the writer's queue.
            (unary,) = [r for r in journal.replay(1) if r.kind == "refused"]
            p = unary.payload
            assert (p["method"], p["door"], p["status"], p["code"], p["account"]) == (
                "SubmitOrder",
                "unary",
                "INVALID_ARGUMENT",
                "INVALID_ARGUMENT",
                "",
            )
            assert p["message"] == details and p["request"]["account"] == ("NOBODY" * 50)[:256] + "..."
            assert p["request"]["client_order_id"] == "r-1" and p["symbol"] == "AAPL"

            requests = [
                orders_pb2.SessionRequest(request_id=1, submit=order("s-1", symbol="NOPE")),
                orders_pb2.SessionRequest(request_id=2, cancel=orders_pb2.CancelOrderRequest(account="ACC-EQ-1")),
                orders_pb2.SessionRequest(request_id=3),
            ]

            async def send():
                yield orders_pb2.SessionRequests(requests=requests)

            answers = [r async for batch in stub.OrderSession(send()) for r in batch.responses]
            assert [(a.request_id, a.WhichOneof("response")) for a in answers] == [
                (1, "error"),
                (2, "error"),
                (3, "error"),
            ]
            session = [r.payload for r in journal.replay(1) if r.kind == "refused"][1:]
            assert [(p["method"], p["door"], p["code"]) for p in session] == [
                ("SubmitOrder", "session", "INVALID_ARGUMENT"),
                ("CancelOrder", "session", "INVALID_ARGUMENT"),
                ("OrderSession", "session", "INVALID_ARGUMENT"),
            ]
            assert [p["message"] for p in session] == [a.error.message for a in answers]
            assert session[0]["request"]["symbol"] == "NOPE" and session[0]["symbol"] == ""
            assert session[1]["account"] == "ACC-EQ-1" and session[2]["request"] == {"request_id": "3"}
    finally:
        await desk.stop()


def decision(n: int = 0, *, allowed: bool = False) -> AccessDecision:
    """A denied call, or an allowed privileged one (what the security layer reports)."""
    return AccessDecision(
        ts_ns=1_767_225_600_000_000_000 + n,
        identity="svc:trader-7",
        via="certificate",
        method="/tradingdesk.v1.RiskService/KillSwitch",
        allowed=allowed,
        code="OK" if allowed else "PERMISSION_DENIED",
        detail="" if allowed else "role trader may not pull the kill switch",
        privileged=allowed,
        request={"actor": "amy", "reason": "drill"},
    )


@pytest.mark.slow
async def test_access_decisions_reach_the_log_from_every_kind_of_service(tmp_path: Path) -> None:
    desk = Desk(tmp_path)
    try:
        await desk.start_routing("routing")
        await desk.start_compliance()
        routing = desk.routing.service
        routing.access_audit.record_access(decision(1))  # a service with a journal: into it
        feeds = QueuedAccessAudit(to_compliance(desk.address("compliance"), service="feeds"), name="feeds")
        feeds.start()
        feeds.record_access(decision(2, allowed=True))  # a service without one: to compliance
        desk.compliance.service.access_audit.record_access(decision(3))  # compliance's own
        channel, stub = await desk.stub()

        async def access_records() -> list:
            resp = await stub.QueryAudit(compliance_pb2.QueryAuditRequest(kind="access"))
            return list(resp.events) if len(resp.events) == 3 else []

        found = await wait_for(access_records, timeout=30)
        await feeds.stop()
        by_source = {(e.source, e.ts_ns % 10) for e in found}
        assert by_source == {("journal", 1), ("compliance", 2), ("compliance", 3)}
        compliance_feeds = next(e for e in found if e.ts_ns % 10 == 2)
        assert (
            '"service":"feeds"' in compliance_feeds.payload_json and '"allowed":true' in compliance_feeds.payload_json
        )
        journal = next(e for e in found if e.source == "journal")
        assert (
            '"identity":"svc:trader-7"' in journal.payload_json and '"code":"PERMISSION_DENIED"' in journal.payload_json
        )
        await channel.close()
    finally:
        await desk.stop()


async def test_a_flood_of_denials_is_folded_not_grown_without_bound() -> None:
    async def unreachable(_batch) -> None:
        raise ConnectionError("compliance is down")

    audit = QueuedAccessAudit(unreachable, name="test")  # never started: nothing drains the queue
    for n in range(QUEUE_MAX):
        audit.record_access(decision(n))  # the same denial again and again
    audit.record_access(decision(QUEUE_MAX))
    audit.record_access(decision(0, allowed=True))  # an allowed privileged call cannot be folded: dropped, counted
    assert len(audit._queue) == QUEUE_MAX and audit.dropped == 1
    assert audit._queue[-1].count == 2, "the same denial as the last one queued: counted in it"
