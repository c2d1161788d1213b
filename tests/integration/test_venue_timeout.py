"""A silent venue on a real embedded desk: operations switch a simulated venue to ``timeout`` (journaled and
audited like the other modes), an order sent there is cancelled by the desk after ``routing.venueAckTimeoutMs``
with a reason naming the venue and the timeout on the client's execution stream, counted in routing's metrics;
smart routing passes the silent venue over (``GetRoutingStatus`` and ``tradingdesk_venue_silent`` say so) until the
fault is cleared and the venue's late answers arrive, the order ending CANCELED, nothing lost or booked twice; a
routing killed while a timed-out order waits for its cancel's answer comes back with the fault and the order as
they were, and never puts that order back on the venue; bad requests get clear codes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests import access
from tests.desk_runner import DeskProcess, wait_for, wait_until, write_desk
from tests.integration.test_supervision import restarted, sigkill, status
from tests.integration.test_venue_faults import modes, order, refused, resting_price
from tradingdesk.v1 import common_pb2, compliance_pb2, compliance_pb2_grpc, orders_pb2, orders_pb2_grpc

pytestmark = pytest.mark.slow
ACCOUNT = "ACC-EQ-1"
TIMEOUT_MS = 300
STREAM_WAIT_S = 30
TIMEOUT = orders_pb2.VENUE_FAULT_MODE_TIMEOUT
NONE = orders_pb2.VENUE_FAULT_MODE_NONE
PENDING_CANCEL = common_pb2.ORDER_STATUS_PENDING_CANCEL
CANCELED = common_pb2.ORDER_STATUS_CANCELED


def short_ack_timeout(doc: dict) -> None:
    doc["spec"].setdefault("routing", {})["venueAckTimeoutMs"] = TIMEOUT_MS
    doc["spec"]["supervision"] = {"restartBackoffInitialMs": 200}


async def until_status(orders, order_id: str, wanted: int) -> orders_pb2.Order:
    async def reached():
        try:
            got = await orders.GetOrder(orders_pb2.GetOrderRequest(account=ACCOUNT, order_id=order_id), timeout=2)
        except grpc.aio.AioRpcError:  # routing restarting
            return None
        return got if got.status == wanted else None

    return await wait_for(reached, timeout=60, what=f"order {order_id} in status {wanted}")


def venue_metric(desk: DeskProcess, name: str, venue: str) -> float:
    port = desk.desk.spec.monitoring.metrics_ports()["routing"]
    for family in text_string_to_metric_families(access.metrics_text(desk.desk, port)):
        for sample in family.samples:
            if sample.name == name and sample.labels.get("venue") == venue:
                return sample.value
    return 0.0


def ack_timeouts(desk: DeskProcess, venue: str) -> float:
    return venue_metric(desk, "tradingdesk_venue_ack_timeouts_total", venue)


async def silent_venues(orders: orders_pb2_grpc.OrderServiceStub) -> set[str]:
    reply = await orders.GetRoutingStatus(orders_pb2.GetRoutingStatusRequest(), timeout=5)
    return {v.venue for v in reply.venues if v.silent}


async def test_a_silent_venue_times_out_and_its_late_answers_end_the_order(tmp_path: Path) -> None:
    desk = DeskProcess(write_desk(tmp_path, short_ack_timeout))
    desk.wait_up(timeout=180)
    try:
        # 1% under the bid: inside the price collar, and no print reaches it while the venue holds its answers
        # (a fill would end the order FILLED, as it must, instead of the cancel this test follows)
        price = await resting_price(desk)
        async with desk.aio_channel("routing", "operations") as ops_ch, desk.aio_channel("routing") as admin_ch:
            ops = orders_pb2_grpc.OrderServiceStub(ops_ch)
            orders = orders_pb2_grpc.OrderServiceStub(admin_ch)
            set_fault = orders_pb2.SetVenueFaultRequest
            assert "mode: 5 is not a venue fault mode" in await refused(
                ops.SetVenueFault, set_fault(venue="xnys", mode=5), grpc.StatusCode.INVALID_ARGUMENT
            )

            reply = await ops.SetVenueFault(set_fault(venue="xnys", mode=TIMEOUT, reason="drill"), timeout=10)
            assert modes(reply) == {"xnys": TIMEOUT, "xnas": NONE, "bats": NONE}
            ack = await orders.SubmitOrder(order(price, venue="xnys"), timeout=10)
            assert ack.status == common_pb2.ORDER_STATUS_PENDING_NEW
            reports = orders.StreamExecutions(
                orders_pb2.StreamExecutionsRequest(account=ACCOUNT, from_seq=ack.journal_seq)
            )
            seen: list[orders_pb2.ExecutionReport] = []
            async with asyncio.timeout(STREAM_WAIT_S):
                async for report in reports:
                    if report.order_id == ack.order_id:
                        seen.append(report)
                        if report.status == PENDING_CANCEL:
                            break
            assert seen[-1].text == (
                f"venue xnys did not acknowledge the order within {TIMEOUT_MS} ms (venue ack timeout); cancel sent"
            )
            assert seen[-1].exec_type == common_pb2.EXEC_TYPE_PENDING_CANCEL
            # still open: only the venue knows whether it rests there and can fill
            got = await orders.GetOrder(orders_pb2.GetOrderRequest(account=ACCOUNT, order_id=ack.order_id))
            assert got.status == PENDING_CANCEL
            assert await wait_for(lambda: ack_timeouts(desk, "xnys") >= 1, timeout=20, what="the timeout counted")
            # silent from that timeout on: smart routing sends it nothing new (oms/venue_silence.py)
            assert await silent_venues(orders) == {"xnys"}
            assert venue_metric(desk, "tradingdesk_venue_silent", "xnys") == 1
            for _ in range(3):
                smart = await orders.SubmitOrder(order(price), timeout=10)
                got = await orders.GetOrder(orders_pb2.GetOrderRequest(account=ACCOUNT, order_id=smart.order_id))
                assert got.venue in ("xnas", "bats"), got
            # a cancel of a PENDING_CANCEL order waits for the venue's answer
            assert "PENDING_CANCEL" in await refused(
                orders.CancelOrder,
                orders_pb2.CancelOrderRequest(account=ACCOUNT, order_id=ack.order_id),
                grpc.StatusCode.FAILED_PRECONDITION,
            )

            # The fault cleared: the venue's held answers arrive late, the order's cancel ends it.
            await ops.SetVenueFault(set_fault(venue="xnys", mode=NONE), timeout=10)
            async with asyncio.timeout(STREAM_WAIT_S):
                async for report in reports:
                    if report.order_id == ack.order_id:
                        seen.append(report)
                        if report.status == CANCELED:
                            break
            reports.cancel()
            late_ack, canceled = seen[-2:]
            assert (late_ack.exec_type, late_ack.status) == (common_pb2.EXEC_TYPE_NEW, PENDING_CANCEL)
            assert late_ack.text == (
                "venue xnys acknowledged the order after the ack timeout; the cancel sent then is pending"
            )
            assert (canceled.exec_type, canceled.cum_quantity in ("", "0")) == (common_pb2.EXEC_TYPE_CANCELED, True)
            assert await silent_venues(orders) == set(), "its answers put it back in the routing"

        # A routing killed while a timed-out order waits for its cancel's answer and the venue is still silent.
        wait_until(lambda: len(status(desk).get("services", {})) == 5, timeout=30, what="the supervisor's status")
        async with desk.aio_channel("routing", "operations") as ops_ch, desk.aio_channel("routing") as admin_ch:
            ops = orders_pb2_grpc.OrderServiceStub(ops_ch)
            orders = orders_pb2_grpc.OrderServiceStub(admin_ch)
            await ops.SetVenueFault(orders_pb2.SetVenueFaultRequest(venue="xnys", mode=TIMEOUT), timeout=10)
            stranded = await orders.SubmitOrder(order(price, venue="xnys"), timeout=10)
            await until_status(orders, stranded.order_id, PENDING_CANCEL)
        sigkill(desk, "routing")
        await wait_for(lambda: restarted(desk, "routing"), timeout=60, what="routing restarted")
        async with desk.aio_channel("routing", "operations") as ops_ch, desk.aio_channel("routing") as admin_ch:
            ops = orders_pb2_grpc.OrderServiceStub(ops_ch)
            orders = orders_pb2_grpc.OrderServiceStub(admin_ch)
            got = await until_status(orders, stranded.order_id, PENDING_CANCEL)  # replayed as it was
            assert got.text.startswith("venue xnys did not acknowledge the order within")
            reply = await ops.SetVenueFault(orders_pb2.SetVenueFaultRequest(venue="xnas", mode=NONE), timeout=10)
            assert modes(reply)["xnys"] == TIMEOUT, "the fault is replayed from the journal"
            # The restarted venue never had the order (only its cancel was sent again): once it answers, the
            # cancel is refused as unknown and the order ends CANCELED, never resting there.
            await ops.SetVenueFault(orders_pb2.SetVenueFaultRequest(venue="xnys", mode=NONE), timeout=10)
            got = await until_status(orders, stranded.order_id, CANCELED)
            assert got.text == (
                "venue xnys never acknowledged the order and refused its cancel (unknown order): not at the venue"
            )
            assert got.cum_quantity in ("", "0")

        # The mode changes and the timeouts are in the audit trail, with who and why.
        async def audited(kind: str, count: int) -> list[dict]:
            async with desk.aio_channel("compliance") as ch:
                resp = await compliance_pb2_grpc.ComplianceServiceStub(ch).QueryAudit(
                    compliance_pb2.QueryAuditRequest(kind=kind, limit=100)
                )
            return (
                [json.loads(e.payload_json) | {"order_id": e.order_id} for e in resp.events]
                if len(resp.events) >= count
                else []
            )

        changes = await wait_for(lambda: audited("venue_fault", 5), timeout=30, what="the fault changes audited")
        assert [(c["venue"], c["mode"], c["reason"]) for c in changes] == [
            ("xnys", "timeout", "drill"),
            ("xnys", "none", ""),
            ("xnys", "timeout", ""),
            ("xnas", "none", ""),
            ("xnys", "none", ""),
        ]
        timed_out = await wait_for(lambda: audited("venue_ack_timeout", 2), timeout=30, what="the timeouts audited")
        assert [(t["order_id"], t["status"], t["venue"]) for t in timed_out] == [
            (ack.order_id, "PENDING_CANCEL", "xnys"),
            (stranded.order_id, "PENDING_CANCEL", "xnys"),
        ]
    finally:
        if desk.proc.poll() is None:
            assert desk.stop() == 0, desk.log.read_text()[-3000:]
