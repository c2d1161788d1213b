"""An OrderSession receives the execution reports of the orders it sent, and of their replacements, whoever
changed them (a cancel through the unary API reaches the session too), and none of other clients' orders; a
finished order leaves the session's follow set (routing/session_orders.py) without costing it a report."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.order_path import SYMBOLS, best_bids, resting_orders
from tests import access
from tests.desk_runner import RunningDesk, wait_for, write_desk
from tradingdesk.v1 import common_pb2, orders_pb2, orders_pb2_grpc

pytestmark = pytest.mark.slow
ACCOUNT = "ACC-EQ-2"


async def test_a_session_hears_of_its_orders_and_their_replacements_only(tmp_path: Path) -> None:
    desk = await RunningDesk(write_desk(tmp_path)).start()
    try:

        async def all_bids() -> dict[str, int] | None:
            bids = await best_bids(desk.address("feeds"), access.credentials(desk.desk))
            return bids if all(s in bids for s in SYMBOLS) else None

        mine_a, mine_b, theirs = resting_orders(await wait_for(all_bids, timeout=30), 3, "sr")
        async with desk.channel("routing") as channel:
            stub = orders_pb2_grpc.OrderServiceStub(channel)
            call = stub.OrderSession()
            reports: list[orders_pb2.ExecutionReport] = []
            acks: dict[int, orders_pb2.OrderAck] = {}

            async def read() -> None:
                async for message in call:
                    for response in message.responses:
                        which = response.WhichOneof("response")
                        if which == "execution":
                            reports.append(response.execution)
                        elif which == "ack":
                            acks[response.request_id] = response.ack
                        else:
                            raise AssertionError(f"request {response.request_id} refused: {response.error}")

            reader = asyncio.create_task(read())
            requests = [orders_pb2.SessionRequest(submit=r, request_id=i) for i, r in enumerate((mine_a, mine_b), 1)]
            await call.write(orders_pb2.SessionRequests(requests=requests))
            await wait_for(lambda: len(acks) == 2 or None, timeout=30, what="both submits acknowledged")
            other = await stub.SubmitOrder(theirs, timeout=10)

            def kinds(order_id: str) -> list[int]:
                return [r.exec_type for r in reports if r.order_id == order_id]

            a_id, b_id = acks[1].order_id, acks[2].order_id
            await wait_for(
                lambda: (common_pb2.EXEC_TYPE_NEW in kinds(a_id) and common_pb2.EXEC_TYPE_NEW in kinds(b_id)) or None,
                timeout=30,
                what="both orders accepted by their venue, reported to the session",
            )
            replace = orders_pb2.ReplaceOrderRequest(
                account=ACCOUNT, order_id=a_id, new_client_order_id="sr-a-r", quantity="2"
            )
            await call.write(
                orders_pb2.SessionRequests(requests=[orders_pb2.SessionRequest(replace=replace, request_id=3)])
            )
            await wait_for(lambda: 3 in acks or None, timeout=30, what="the replace acknowledged")
            new_id = acks[3].new_order_id
            assert new_id and new_id != a_id
            await wait_for(
                lambda: common_pb2.EXEC_TYPE_REPLACED in kinds(new_id) or None,
                timeout=30,
                what="the replacement reported to the session",
            )
            # the replacement is the session's order from here on: a cancel through the unary API reaches it
            await stub.CancelOrder(orders_pb2.CancelOrderRequest(account=ACCOUNT, order_id=new_id), timeout=10)
            cancel = orders_pb2.CancelOrderRequest(account=ACCOUNT, order_id=b_id)
            await call.write(
                orders_pb2.SessionRequests(requests=[orders_pb2.SessionRequest(cancel=cancel, request_id=4)])
            )
            await wait_for(
                lambda: (
                    (common_pb2.EXEC_TYPE_CANCELED in kinds(new_id) and common_pb2.EXEC_TYPE_CANCELED in kinds(b_id))
                    or None
                ),
                timeout=30,
                what="both cancels reported to the session",
            )
            # the other client's order is canceled too: its reports never reach the session
            await stub.CancelOrder(orders_pb2.CancelOrderRequest(account=ACCOUNT, order_id=other.order_id), timeout=10)
            marker = resting_orders(await wait_for(all_bids, timeout=30), 4, "sr-last")[3]
            await call.write(
                orders_pb2.SessionRequests(requests=[orders_pb2.SessionRequest(submit=marker, request_id=5)])
            )
            await wait_for(lambda: 5 in acks or None, timeout=30, what="the last submit acknowledged")
            await wait_for(
                lambda: common_pb2.EXEC_TYPE_NEW in kinds(acks[5].order_id) or None,
                timeout=30,
                what="the last order's report, after every report of the other client's cancel was published",
            )
            await call.done_writing()
            reader.cancel()
        assert {r.order_id for r in reports} == {a_id, b_id, new_id, acks[5].order_id}, "only the session's orders"
        assert kinds(b_id)[-1] == common_pb2.EXEC_TYPE_CANCELED and kinds(new_id)[-1] == common_pb2.EXEC_TYPE_CANCELED
        # the original's end is the replacement's REPLACED report
        assert kinds(a_id) == [common_pb2.EXEC_TYPE_NEW, common_pb2.EXEC_TYPE_PENDING_REPLACE]
    finally:
        await desk.stop()
