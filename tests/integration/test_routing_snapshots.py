"""Routing's journal snapshots in a running desk: taken while orders flow (no acknowledgement waits for one or is
lost), and a SIGKILLed routing restarts from the newest one, replaying only the journal after it."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import grpc
import pytest

from tests.desk_runner import DeskProcess, wait_for, wait_until, write_desk
from tests.integration.test_kill_switch import bids, resting
from tests.integration.test_supervision import restarted, service, sigkill, status
from tradingdesk.v1 import common_pb2, orders_pb2, orders_pb2_grpc

pytestmark = pytest.mark.slow
SNAPSHOT_TAKEN = re.compile(r"routing: journal snapshot at seq (\d+) \(")
SNAPSHOT_LOADED = re.compile(r"routing: journal snapshot at seq (\d+) loaded")


def snapshot_often(doc: dict) -> None:
    doc["spec"]["risk"].update(maxSubmitsPerSecond=1_000_000)
    doc["spec"]["routing"]["snapshots"] = {"everyRecords": 25, "everySeconds": 0}
    doc["spec"]["supervision"] = {"restartBackoffInitialMs": 200}


def routing_log(desk: DeskProcess) -> str:
    path = desk.spec_path.parent / "logs" / "routing.log"
    return path.read_text() if path.exists() else ""


@pytest.fixture
def desk(tmp_path: Path):
    d = DeskProcess(write_desk(tmp_path, snapshot_often))
    d.wait_up()
    wait_until(lambda: len(status(d).get("services", {})) == 5, timeout=30, what="the supervisor's status")
    yield d
    if d.proc.poll() is None:
        d.stop()


async def test_snapshots_taken_while_orders_flow_and_a_sigkilled_routing_restarts_from_the_newest(desk) -> None:
    prices = await wait_for(lambda: bids(desk), timeout=30)
    async with desk.aio_channel("routing") as channel:
        orders = orders_pb2_grpc.OrderServiceStub(channel)

        async def client(n: int) -> list[orders_pb2.SubmitOrderResponse]:
            acks = []
            for req in resting(prices, 40, f"snap-{n}-{time.monotonic_ns()}"):
                ack = await orders.SubmitOrder(req, timeout=10)
                acks.append((req, ack))
                if len(acks) % 3 == 0:  # some cancelled: orders in more than one state
                    cancel = orders_pb2.CancelOrderRequest(account=req.account, order_id=ack.order_id)
                    await wait_for(lambda c=cancel: cancelled(c), timeout=10, what="a cancel accepted")
            return acks

        async def cancelled(req: orders_pb2.CancelOrderRequest) -> bool:
            try:
                await orders.CancelOrder(req, timeout=10)
            except grpc.aio.AioRpcError as exc:
                if "PENDING_NEW" in (exc.details() or ""):
                    return False  # the venue has not acknowledged it yet
                raise
            return True

        # four clients at once: snapshots (every 25 records) are taken while they submit and cancel
        acked = [a for acks in await asyncio.gather(*(client(n) for n in range(4))) for a in acks]
        # more than one while the clients were sending (the last one's log line may land just after they end)
        await wait_for(lambda: len(SNAPSHOT_TAKEN.findall(routing_log(desk))) >= 2, timeout=30, what="two snapshots")

        async def statuses() -> dict[str, int] | None:
            out = {}
            for req, ack in acked:
                got = await orders.GetOrder(
                    orders_pb2.GetOrderRequest(account=req.account, order_id=ack.order_id), timeout=10
                )
                out[ack.order_id] = got.status
            settled = all(s != common_pb2.ORDER_STATUS_PENDING_CANCEL for s in out.values())
            return out if settled else None

        before = await wait_for(statuses, timeout=30, what="every cancel answered")
        assert sum(s == common_pb2.ORDER_STATUS_CANCELED for s in before.values()) == 4 * (40 // 3)
        newest = int(SNAPSHOT_TAKEN.findall(routing_log(desk))[-1])

        sigkill(desk, "routing")
        await wait_for(lambda: restarted(desk, "routing"), timeout=60, what="routing restarted")
        loaded = [int(seq) for seq in SNAPSHOT_LOADED.findall(routing_log(desk))]
        assert loaded and loaded[-1] >= newest, routing_log(desk)[-3000:]
        # every acknowledged order is back, in the state it had
        assert await statuses() == before
    assert service(desk, "routing")["restarts"] == 1
    assert desk.stop() == 0
