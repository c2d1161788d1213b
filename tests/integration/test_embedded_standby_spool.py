"""``spec.routing.outageSpool`` with ``spec.services.routing.replicas: 2`` in the embedded desk, on a PostgreSQL of
the test's own that goes away: orders are acknowledged through the outage from the active routing process's spool;
that process is SIGKILLed in the middle of it; once the database is back its standby takes over, takes the spool
over first (``storage/journal.py``, race 2) and serves every order the killed one acknowledged, once; new orders
are taken, and the journal holds each order once, in seq order, with no gap."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path

import pytest

from tests.desk_runner import RunningDesk, wait_for, write_desk
from tests.integration.test_database_down import submit as submit_outcome
from tests.integration.test_embedded_routing_standby import listed, queued_behind_holder, routing_status, two_routers
from tests.integration.test_kill_switch import bids, resting
from tradingdesk.runtime.supervisor import Supervisor
from tradingdesk.simulate.database import SimulationDatabase
from tradingdesk.storage.db import make_engine
from tradingdesk.v1 import orders_pb2, orders_pb2_grpc

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(400)]


def spooling_pair(doc: dict) -> None:
    two_routers(doc)
    doc["spec"]["routing"] = {**doc["spec"].get("routing", {}), "outageSpool": True}


async def test_the_standby_takes_over_the_spool_of_an_active_router_killed_in_an_outage(tmp_path: Path) -> None:
    database = SimulationDatabase().start()  # a cluster of the test's own: its sessions are cut under the desk
    (tmp_path / "desk").mkdir()
    desk = await RunningDesk(write_desk(tmp_path / "desk", spooling_pair), {"TD_DSN": database.dsn}).start()
    assert desk.embedded is not None
    reports: list[str] = []
    supervision = asyncio.create_task(Supervisor(desk.embedded, report=reports.append).run())
    acked: dict[str, tuple[str, str]] = {}  # client order id: (account, order id)
    try:
        await wait_for(lambda: routing_status(desk).get("standby", {}).get("state") == "standby", timeout=60)
        prices = await wait_for(lambda: bids(desk), timeout=60, what="prices and routing's gate")
        tag = uuid.uuid4().hex[:6]
        before, during, after = (resting(prices, 10, f"ss-{when}-{tag}") for when in ("b", "d", "a"))
        async with desk.channel("routing") as ch:
            orders = orders_pb2_grpc.OrderServiceStub(ch)
            for req in before:
                outcome, order_id = await wait_for(lambda r=req: _ok(orders, r), timeout=30)
                acked[req.client_order_id] = (req.account, order_id)
        engine = make_engine(database.dsn)
        try:  # the outage finds the standby queued for the writer lock, not still starting
            queued = lambda: asyncio.to_thread(queued_behind_holder, engine)  # noqa: E731
            await wait_for(queued, timeout=60, what="the standby queued behind the active process")
        finally:
            engine.dispose()

        await asyncio.to_thread(database.down)
        await wait_for(lambda: asyncio.to_thread(lambda: database.desk_sessions() == 0), timeout=60)
        async with desk.channel("routing") as ch:
            orders = orders_pb2_grpc.OrderServiceStub(ch)
            for req in during:
                outcome, order_id = await submit_outcome(orders, req)
                assert outcome == "ok", f"refused while the database was down: {order_id}"
                acked[req.client_order_id] = (req.account, order_id)
        spools = list(tmp_path.glob("desk/var/**/routing-journal-spool"))
        assert len(spools) == 1 and spools[0].stat().st_size > 0

        active, standby = desk.embedded.children["routing"].process.pid, desk.embedded.standbys["routing"].process.pid
        os.kill(active, signal.SIGKILL)  # the orders acknowledged during the outage are in its spool only
        await asyncio.to_thread(database.up)
        await wait_for(
            lambda: routing_status(desk).get("pid") == standby and routing_status(desk).get("state") == "serving",
            timeout=120,
            what="the standby serving as routing",
        )
        async with desk.channel("routing") as ch:
            orders = orders_pb2_grpc.OrderServiceStub(ch)
            first_after = await wait_for(lambda: _ok(orders, after[0]), timeout=60, what="an order after the outage")
            assert first_after[1] not in {oid for _, oid in acked.values()}
            assert not spools[0].exists(), "the standby did not write the spool into the journal"
            for client_order_id, (account, order_id) in acked.items():
                got = await orders.GetOrder(orders_pb2.GetOrderRequest(order_id=order_id, account=account), timeout=5)
                assert got.client_order_id == client_order_id
            again = await orders.SubmitOrder(during[-1], timeout=5)  # a client resending: no second order
            assert again.duplicate and again.order_id == acked[during[-1].client_order_id][1]
            for req in after[1:]:
                outcome, order_id = await submit_outcome(orders, req)
                assert outcome == "ok", order_id
        orders_listed = await listed(desk)
        assert all(orders_listed[cid].order_id == oid for cid, (_, oid) in acked.items())
        assert not supervision.done(), reports
    finally:
        supervision.cancel()
        await asyncio.gather(supervision, return_exceptions=True)
        await desk.stop()
        try:
            seqs, created = journaled(database.dsn)
        finally:
            database.destroy()
    assert seqs == list(range(1, len(seqs) + 1))  # two writers in turn and the spool between them: no gap
    ids = [oid for _, oid in acked.values()]
    assert sorted(oid for oid in created if oid in set(ids)) == sorted(ids)  # every acknowledged order, once


def journaled(dsn: str) -> tuple[list[int], list[str]]:
    """The routing journal's seqs, and the order ids of its ``pending_new`` records (one per order created)."""
    engine = make_engine(dsn, schema="us_equities_routing")
    try:
        with engine.connect() as conn:
            seqs = [r[0] for r in conn.exec_driver_sql("SELECT seq FROM journal ORDER BY seq")]
            created = [r[0] for r in conn.exec_driver_sql("SELECT order_id FROM journal WHERE kind = 'pending_new'")]
    finally:
        engine.dispose()
    return seqs, created


async def _ok(orders: orders_pb2_grpc.OrderServiceStub, req: orders_pb2.SubmitOrderRequest) -> tuple[str, str] | None:
    """``("ok", order id)`` once acknowledged; None while routing's address has nobody or the journal refuses."""
    outcome, order_id = await submit_outcome(orders, req)
    return (outcome, order_id) if outcome == "ok" else None
