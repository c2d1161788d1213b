"""On PostgreSQL routing's journal commits run on its writer thread, never on its event loop. A commit waits on the
database (the server's WAL flush, a busy server; here another session holds a lock on the journal table), and held
inline it held routing's loop with it: in a simulated day, 0.2-0.85 s at a time with no market data read and no
order taken. Now routing answers other calls while a commit waits, and the order waiting for it is acknowledged
once the commit goes through."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.desk_runner import RunningDesk, wait_for, write_desk
from tests.integration.test_kill_switch import bids, resting
from tradingdesk.storage.db import make_engine
from tradingdesk.v1 import orders_pb2, orders_pb2_grpc

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

WAITING_FOR_THE_LOCK = text(
    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relname = 'journal' AND n.nspname = :schema AND NOT l.granted"
)


async def test_a_commit_waiting_on_the_database_does_not_hold_routing(tmp_path: Path, postgres_server) -> None:
    env = {"TD_DSN": postgres_server.create_database(f"cl_{uuid.uuid4().hex[:8]}")}
    desk = await RunningDesk(write_desk(tmp_path), env).start()
    engine = make_engine(env["TD_DSN"], schema="us_equities_routing")
    try:
        prices = await wait_for(lambda: bids(desk), timeout=60, what="prices and routing's gate")
        first, second = resting(prices, 2, f"ol-{uuid.uuid4().hex[:6]}")
        async with desk.channel("routing") as channel:
            orders = orders_pb2_grpc.OrderServiceStub(channel)
            acked = await orders.SubmitOrder(first, timeout=10)
            with engine.connect() as blocker, engine.connect() as watcher:
                blocker.execute(text("LOCK TABLE journal IN EXCLUSIVE MODE"))  # held until the rollback
                waiting = asyncio.ensure_future(orders.SubmitOrder(second, timeout=60))

                def writer_blocked() -> bool:
                    count = watcher.execute(WAITING_FOR_THE_LOCK, {"schema": "us_equities_routing"}).scalar()
                    watcher.rollback()
                    return bool(count)

                await wait_for(writer_blocked, timeout=30, what="routing's journal write waiting for the lock")
                # the commit waits on the database: routing's loop answers all the same
                for _ in range(3):
                    order = await orders.GetOrder(
                        orders_pb2.GetOrderRequest(account=first.account, order_id=acked.order_id), timeout=2
                    )
                    assert order.client_order_id == first.client_order_id
                assert not waiting.done(), "acknowledged before its record could be committed"
                blocker.rollback()
            second_acked = await waiting
        assert second_acked.order_id and second_acked.order_id != acked.order_id
    finally:
        engine.dispose()
        await desk.stop()
