"""Finished orders retired from routing's memory (``spec.routing.finishedOrdersKept``), on a running desk: a
request about one is answered from the journal as it was from memory (GetOrder by either id, a repeated
SubmitOrder unary and in a session, a different order under its client order id, a CancelOrder), ListOrders
lists only the orders in memory, and all of it holds after a SIGKILLed routing restarts from a snapshot."""

from __future__ import annotations

import re
import time
from pathlib import Path

import grpc
import pytest

from tests.desk_runner import DeskProcess, wait_for, wait_until, write_desk
from tests.integration.test_kill_switch import bids, resting
from tests.integration.test_supervision import restarted, sigkill, status
from tradingdesk.v1 import common_pb2, orders_pb2, orders_pb2_grpc

pytestmark = pytest.mark.slow
KEPT = 2
SNAPSHOT_TAKEN = re.compile(r"routing: journal snapshot at seq (\d+) \(")
SNAPSHOT_LOADED = re.compile(r"routing: journal snapshot at seq (\d+) loaded")


def routing_log(desk: DeskProcess) -> str:
    return (desk.spec_path.parent / "logs" / "routing.log").read_text()


def keep_few(doc: dict) -> None:
    doc["spec"]["risk"].update(maxSubmitsPerSecond=1_000_000)
    doc["spec"]["routing"]["finishedOrdersKept"] = KEPT
    doc["spec"]["routing"]["snapshots"] = {"everyRecords": 10, "everySeconds": 0}
    doc["spec"]["supervision"] = {"restartBackoffInitialMs": 200}


@pytest.fixture
def desk(tmp_path: Path):
    d = DeskProcess(write_desk(tmp_path, keep_few))
    d.wait_up()
    wait_until(lambda: len(status(d).get("services", {})) == 5, timeout=30, what="the supervisor's status")
    yield d
    if d.proc.poll() is None:
        d.stop()


async def refusal(call) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call
    return refused.value


async def test_retired_orders_are_answered_from_the_journal_before_and_after_a_restart(desk) -> None:
    prices = await wait_for(lambda: bids(desk), timeout=30)
    requests = resting(prices, 6, f"retired-{time.monotonic_ns()}")
    async with desk.aio_channel("routing") as channel:
        orders = orders_pb2_grpc.OrderServiceStub(channel)
        acks = [await orders.SubmitOrder(req, timeout=10) for req in requests]

        async def cancelled(req: orders_pb2.SubmitOrderRequest, ack: orders_pb2.OrderAck) -> bool:
            try:
                await orders.CancelOrder(orders_pb2.CancelOrderRequest(account=req.account, order_id=ack.order_id))
            except grpc.aio.AioRpcError as exc:
                if "PENDING_NEW" in (exc.details() or ""):
                    return False  # the venue has not acknowledged it yet
                raise
            return True

        for req, ack in zip(requests, acks, strict=True):
            await wait_for(lambda r=req, a=ack: cancelled(r, a), timeout=10, what="a cancel accepted")

        async def all_cancelled() -> bool:
            got = [
                await orders.GetOrder(orders_pb2.GetOrderRequest(account=r.account, order_id=a.order_id), timeout=10)
                for r, a in zip(requests, acks, strict=True)
            ]
            return all(o.status == common_pb2.ORDER_STATUS_CANCELED for o in got)

        await wait_for(all_cancelled, timeout=30, what="every order cancelled")
        await answered_as_before(orders, requests, acks)

        await wait_for(lambda: SNAPSHOT_TAKEN.search(routing_log(desk)), timeout=30, what="a snapshot")

    sigkill(desk, "routing")
    await wait_for(lambda: restarted(desk, "routing"), timeout=60, what="routing restarted")
    assert SNAPSHOT_LOADED.search(routing_log(desk)), routing_log(desk)[-3000:]
    async with desk.aio_channel("routing") as channel:
        await answered_as_before(orders_pb2_grpc.OrderServiceStub(channel), requests, acks)
    assert desk.stop() == 0


async def answered_as_before(orders, requests: list, acks: list) -> None:
    first, first_ack = requests[0], acks[0]
    last, last_ack = requests[-1], acks[-1]
    listed = await orders.ListOrders(orders_pb2.ListOrdersRequest(limit=1000), timeout=10)
    in_memory = {o.order_id for o in listed.orders}
    assert first_ack.order_id not in in_memory and last_ack.order_id in in_memory  # the first one is retired

    by_id = await orders.GetOrder(orders_pb2.GetOrderRequest(account=first.account, order_id=first_ack.order_id))
    by_client = await orders.GetOrder(
        orders_pb2.GetOrderRequest(account=first.account, client_order_id=first.client_order_id)
    )
    assert by_id == by_client
    assert (by_id.order_id, by_id.client_order_id, by_id.status, by_id.symbol) == (
        first_ack.order_id,
        first.client_order_id,
        common_pb2.ORDER_STATUS_CANCELED,
        first.symbol,
    )
    other = "ACC-EQ-2" if first.account == "ACC-EQ-1" else "ACC-EQ-1"
    not_theirs = await refusal(orders.GetOrder(orders_pb2.GetOrderRequest(account=other, order_id=first_ack.order_id)))
    assert not_theirs.code() == grpc.StatusCode.NOT_FOUND

    again = await orders.SubmitOrder(first, timeout=10)
    assert (again.duplicate, again.order_id, again.journal_seq, again.status) == (
        True,
        first_ack.order_id,
        first_ack.journal_seq,
        common_pb2.ORDER_STATUS_CANCELED,
    )
    changed = orders_pb2.SubmitOrderRequest()
    changed.CopyFrom(first)
    changed.quantity = "2"
    in_memory_changed = orders_pb2.SubmitOrderRequest()
    in_memory_changed.CopyFrom(last)
    in_memory_changed.quantity = "2"
    retired_dup = await refusal(orders.SubmitOrder(changed, timeout=10))
    memory_dup = await refusal(orders.SubmitOrder(in_memory_changed, timeout=10))
    assert retired_dup.code() == memory_dup.code() == grpc.StatusCode.ALREADY_EXISTS, retired_dup.details()

    retired_cancel = await refusal(
        orders.CancelOrder(orders_pb2.CancelOrderRequest(account=first.account, order_id=first_ack.order_id))
    )
    memory_cancel = await refusal(
        orders.CancelOrder(orders_pb2.CancelOrderRequest(account=last.account, order_id=last_ack.order_id))
    )
    assert retired_cancel.code() == memory_cancel.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "CANCELED" in retired_cancel.details()

    async def session():
        yield orders_pb2.SessionRequests(requests=[orders_pb2.SessionRequest(submit=first, request_id=1)])

    answers = [r async for batch in orders.OrderSession(session(), timeout=10) for r in batch.responses if r.request_id]
    assert [(a.ack.duplicate, a.ack.order_id, a.ack.journal_seq) for a in answers] == [
        (True, first_ack.order_id, first_ack.journal_seq)
    ]
