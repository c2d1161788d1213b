"""A silent venue that speaks again does not stall new orders (routing/venue_pacing.py), on a real embedded desk.

xnys is silent while ORDERS orders sent to it time out; each then owes two answers (the late acknowledgement and
the answer to the cancel sent at the timeout), which it releases all at once when the fault is cleared. New orders
sent to xnas meanwhile are journaled between the late answers, not after all of them, and each one's record has at
most about ``spec.routing.venueAnswersMaxBacklog`` records ahead of it not yet durable (routing's
``tradingdesk_order_journal_records_ahead``, counted in seqs). Without the pacing, the whole release is taken in
one turn of routing's loop: the new orders come after every late answer and wait for all of them to commit."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests import access
from tests.desk_runner import DeskProcess, wait_for, write_desk
from tests.integration.test_venue_faults import resting_price
from tests.integration.test_venue_timeout import ack_timeouts
from tradingdesk.v1 import common_pb2, orders_pb2, orders_pb2_grpc

pytestmark = pytest.mark.slow
ACCOUNT = "ACC-EQ-1"
ORDERS = 600
MAX_BACKLOG = 32
AHEAD_BOUND = 100
"""A bucket bound of the histogram: ``MAX_BACKLOG``, plus the records of the answer that crossed it and of the new
orders in flight together. Taken all at once, the release puts about 2 x ``ORDERS`` records ahead."""
NEW_ORDERS_MAX = 400
TIMEOUT = orders_pb2.VENUE_FAULT_MODE_TIMEOUT
NONE = orders_pb2.VENUE_FAULT_MODE_NONE


def paced_desk(doc: dict) -> None:
    routing = doc["spec"].setdefault("routing", {})
    routing["venueAckTimeoutMs"] = 300
    routing["venueAnswersMaxBacklog"] = MAX_BACKLOG
    doc["spec"]["risk"]["maxSubmitsPerSecond"] = 1_000_000


def new_order(price: str, venue: str) -> orders_pb2.SubmitOrderRequest:
    return orders_pb2.SubmitOrderRequest(
        client_order_id=f"rp-{uuid.uuid4().hex[:12]}",
        account=ACCOUNT,
        strategy="manual",
        symbol="AAPL",
        side=common_pb2.SIDE_BUY,
        order_type=common_pb2.ORDER_TYPE_LIMIT,
        quantity="1",
        limit_price=price,
        time_in_force=common_pb2.TIME_IN_FORCE_DAY,
        venue=venue,
    )


async def place(orders: orders_pb2_grpc.OrderServiceStub, requests: list[orders_pb2.SubmitOrderRequest]) -> list:
    """Every request in one session; their acknowledgements. The session's execution reports are not answers to
    a request: on a loaded machine the first orders' venue ack timeouts (and their cancels) are reported before
    the last orders are acknowledged."""

    async def sent():
        for start in range(0, len(requests), 300):
            chunk = requests[start : start + 300]
            yield orders_pb2.SessionRequests(
                requests=[orders_pb2.SessionRequest(submit=r, request_id=start + i + 1) for i, r in enumerate(chunk)]
            )

    acks, errors = [], []
    async for batch in orders.OrderSession(sent()):
        for resp in batch.responses:
            kind = resp.WhichOneof("response")
            if kind != "execution":
                (acks if kind == "ack" else errors).append(resp)
        if len(acks) + len(errors) == len(requests):
            break
    assert not errors, errors[:3]
    return [r.ack for r in acks]


def records_ahead(desk: DeskProcess) -> dict[str, float]:
    """Routing's ``tradingdesk_order_journal_records_ahead`` buckets: upper bound -> observations at or under it."""
    port = desk.desk.spec.monitoring.metrics_ports()["routing"]
    for family in text_string_to_metric_families(access.metrics_text(desk.desk, port)):
        if family.name == "tradingdesk_order_journal_records_ahead":
            return {s.labels["le"]: s.value for s in family.samples if s.name.endswith("_bucket")}
    return {}


async def journal_kinds(orders: orders_pb2_grpc.OrderServiceStub, from_seq: int, upto_seq: int) -> list:
    """(seq, kind, order id) of the journal's records from ``from_seq`` through ``upto_seq``."""
    found: list = []
    stream = orders.StreamJournal(orders_pb2.StreamJournalRequest(from_seq=from_seq))
    async for batch in stream:
        found.extend((e.seq, e.kind, e.order_id) for e in batch.events)
        if found and found[-1][0] >= upto_seq:
            break
    stream.cancel()
    return [f for f in found if f[0] <= upto_seq]


async def test_new_orders_are_journaled_among_a_released_backlog_with_few_records_ahead(tmp_path: Path) -> None:
    desk = DeskProcess(write_desk(tmp_path, paced_desk))
    desk.wait_up(timeout=180)
    try:
        price = await resting_price(desk)
        async with desk.aio_channel("routing", "operations") as ops_ch, desk.aio_channel("routing") as admin_ch:
            ops = orders_pb2_grpc.OrderServiceStub(ops_ch)
            orders = orders_pb2_grpc.OrderServiceStub(admin_ch)
            await ops.SetVenueFault(orders_pb2.SetVenueFaultRequest(venue="xnys", mode=TIMEOUT), timeout=10)
            silent = await place(orders, [new_order(price, "xnys") for _ in range(ORDERS)])
            silent_ids = {a.order_id for a in silent}
            await wait_for(
                lambda: ack_timeouts(desk, "xnys") >= ORDERS, timeout=60, what="every order at xnys timed out"
            )
            before = records_ahead(desk)

            # The release, with new orders to xnas sent one after another from just before it until it is over.
            released = asyncio.Event()
            taken: list[orders_pb2.OrderAck] = []

            async def trade_on() -> None:
                while not released.is_set() and len(taken) < NEW_ORDERS_MAX:
                    taken.append(await orders.SubmitOrder(new_order(price, "xnas"), timeout=10))

            trader = asyncio.create_task(trade_on())
            await wait_for(lambda: taken, what="new orders flowing")
            await ops.SetVenueFault(orders_pb2.SetVenueFaultRequest(venue="xnys", mode=NONE), timeout=10)

            async def all_answered() -> bool:
                listed = await orders.ListOrders(
                    orders_pb2.ListOrdersRequest(account=ACCOUNT, open_only=True, limit=10_000)
                )
                return not any(o.order_id in silent_ids for o in listed.orders)

            await wait_for(all_answered, timeout=60, what="every late answer booked")
            released.set()
            await trader
            after = records_ahead(desk)

            observed = after["+Inf"] - before.get("+Inf", 0)
            within = after[str(float(AHEAD_BOUND))] - before.get(str(float(AHEAD_BOUND)), 0)
            assert observed >= len(taken)
            assert within == observed, json.dumps({"before": before, "after": after})

            late = [
                r
                for r in await journal_kinds(orders, silent[-1].journal_seq + 1, taken[-1].journal_seq)
                if r[2] in silent_ids and r[1] in ("new", "canceled")
            ]
            first_late, last_late = late[0][0], late[-1][0]
            among = [a for a in taken if first_late < a.journal_seq < last_late]
            assert among, (
                f"no new order was journaled among the {len(late)} late answers (seqs {first_late}..{last_late}); "
                f"new orders at seqs {[a.journal_seq for a in taken][:20]}"
            )

    finally:
        if desk.proc.poll() is None:
            assert desk.stop() == 0, desk.log.read_text()[-3000:]
