"""An OrderSession client that sends without reading: routing stops reading its requests once 20,000 responses
wait unread (HTTP/2 flow control then holds the client's writes back), so routing's memory stays bounded; it
reads on when the client catches up, and every request is answered exactly once, nothing lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.order_path import SYMBOLS, best_bids, resting_orders
from tests import access
from tests.desk_runner import RunningDesk, wait_for, write_desk
from tradingdesk.v1 import orders_pb2, orders_pb2_grpc

pytestmark = pytest.mark.slow
ORDERS = 60_000
PER_MESSAGE = 1_000


def high_rate(doc: dict) -> None:
    doc["spec"]["risk"]["maxSubmitsPerSecond"] = 1_000_000
    doc["spec"]["risk"]["maxOrderQuantity"] = "1000000"
    # The client and routing's gRPC buffers hold megabytes of answers before routing's own queue fills: the
    # test needs more orders than the example desk's order-to-trade ratio allows one account. Once the client
    # reads, routing takes the rest in one burst: on a loaded two-core machine the risk stream and the market
    # data were once starved past their bounds then (2 s and 5 s), and the gate refused orders (failing closed,
    # as it should). Those controls are not what this test is about.
    doc["spec"]["risk"]["maxOrderToTradeRatio"] = 0
    doc["spec"]["risk"]["gateStreamTimeoutMs"] = 60_000
    doc["spec"]["risk"]["referenceMaxAgeMs"] = 600_000


def routing_metric(desk: RunningDesk, name: str) -> float:
    port = desk.desk.spec.monitoring.metrics_ports()["routing"]
    for family in text_string_to_metric_families(access.metrics_text(desk.desk, port)):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    return 0.0


async def test_a_session_that_does_not_read_is_held_back_and_loses_nothing(tmp_path: Path) -> None:
    desk = await RunningDesk(write_desk(tmp_path, high_rate)).start()
    try:

        async def all_bids() -> dict[str, int] | None:
            bids = await best_bids(desk.address("feeds"), access.credentials(desk.desk))
            return bids if all(s in bids for s in SYMBOLS) else None

        requests = resting_orders(await wait_for(all_bids, timeout=30), ORDERS, "bp")
        async with desk.channel("routing") as channel:
            call = orders_pb2_grpc.OrderServiceStub(channel).OrderSession()

            async def send() -> None:
                for start in range(0, ORDERS, PER_MESSAGE):
                    chunk = requests[start : start + PER_MESSAGE]
                    batch = [orders_pb2.SessionRequest(submit=r, request_id=start + i + 1) for i, r in enumerate(chunk)]
                    await call.write(orders_pb2.SessionRequests(requests=batch))
                await call.done_writing()

            sender = asyncio.create_task(send())
            # Nothing read yet: routing must stop reading requests rather than hold every answer in memory.
            await wait_for(
                lambda: routing_metric(desk, "tradingdesk_session_reads_paused_total") >= 1,
                timeout=120,
                what="routing pausing the session's reads",
            )
            # Paused for as long as nothing is read: the requests routing took stop short of what was sent.
            taken = routing_metric(desk, "tradingdesk_orders_open")
            assert 0 < taken < ORDERS, f"routing took {taken} of {ORDERS} orders while nothing was read"

            answered: dict[int, str] = {}
            async for message in call:
                for response in message.responses:
                    which = response.WhichOneof("response")
                    if which in ("ack", "error"):
                        assert response.request_id not in answered, f"request {response.request_id} answered twice"
                        answered[response.request_id] = which if which == "ack" else response.error.message
                if len(answered) == ORDERS:
                    break
            await sender
        assert sorted(answered) == list(range(1, ORDERS + 1))
        refused = sorted(set(answered.values()) - {"ack"})
        assert not refused, f"a resting order inside every limit is acknowledged: {refused[:3]}"
    finally:
        await desk.stop()
