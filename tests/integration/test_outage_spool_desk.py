"""``spec.routing.outageSpool`` under a running desk whose PostgreSQL goes away (sessions cut and refused, as the
simulation's ``database_down`` does): new orders are acknowledged through the outage, routing says it acknowledges
from its spool and the desk pages JournalWriteFailing; routing SIGKILLed in the middle of it comes back, once the
database is back, with every order it acknowledged, and the journal holds each once, in order, with no gap."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from tests.desk_runner import DeskProcess, wait_for, wait_until, write_desk
from tests.integration.test_database_down import alerted, submit
from tests.integration.test_embedded_standby_spool import journaled
from tests.integration.test_kill_switch import bids, resting
from tests.integration.test_supervision import service, status, supervised
from tradingdesk.simulate.database import SimulationDatabase
from tradingdesk.v1 import orders_pb2, orders_pb2_grpc

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def database():
    """A cluster of the test's own: its sessions are cut and refused under the desk."""
    db = SimulationDatabase().start()
    yield db
    db.destroy()


def spooling(doc: dict) -> None:
    supervised()(doc)
    doc["spec"]["routing"] = {**doc["spec"].get("routing", {}), "outageSpool": True}


async def test_orders_are_acknowledged_through_a_database_outage_and_survive_a_kill(
    tmp_path: Path, database, monkeypatch
) -> None:
    monkeypatch.setenv("TD_DSN", database.dsn)
    desk = DeskProcess(write_desk(tmp_path, spooling))
    try:
        desk.wait_up()
        wait_until(lambda: len(status(desk).get("services", {})) == 5, timeout=30, what="the supervisor's status")
        prices = await wait_for(lambda: bids(desk), timeout=30)
        before, during, after = (resting(prices, 10, f"spool-{when}") for when in ("before", "during", "after"))
        acked: dict[str, tuple[str, str]] = {}
        async with desk.aio_channel("routing") as routing:
            orders = orders_pb2_grpc.OrderServiceStub(routing)
            for req in before:
                outcome, order_id = await submit(orders, req)
                assert outcome == "ok", order_id
                acked[req.client_order_id] = (req.account, order_id)

            await asyncio.to_thread(database.down)
            await wait_for(lambda: asyncio.to_thread(lambda: database.desk_sessions() == 0), timeout=60)
            for req in during:
                outcome, order_id = await submit(orders, req)
                assert outcome == "ok", f"refused while the database was down: {order_id}"
                acked[req.client_order_id] = (req.account, order_id)
            journal = (await orders.GetRoutingStatus(orders_pb2.GetRoutingStatusRequest(), timeout=5)).journal
            assert not journal.writable, journal
            assert journal.error.startswith("orders acknowledged from the outage spool meanwhile;"), journal
            await wait_for(lambda: alerted(desk, "JournalWriteFailing"), timeout=30, what="JournalWriteFailing listed")
            spools = list(tmp_path.glob("var/**/routing-journal-spool"))
            assert len(spools) == 1 and spools[0].stat().st_size > 0

        killed = service(desk, "routing")["pid"]
        os.kill(killed, signal.SIGKILL)  # the acknowledged records are in the spool only
        await asyncio.to_thread(database.up)
        wait_until(
            lambda: service(desk, "routing").get("state") == "serving" and service(desk, "routing")["pid"] != killed,
            timeout=120,
            what="routing restarted and serving",
        )
        assert not spools[0].exists(), "the restarted routing did not write the spool into the journal"
        async with desk.aio_channel("routing") as routing:
            orders = orders_pb2_grpc.OrderServiceStub(routing)
            for client_order_id, (account, order_id) in acked.items():
                got = await orders.GetOrder(orders_pb2.GetOrderRequest(order_id=order_id, account=account), timeout=5)
                assert got.client_order_id == client_order_id
            again = await orders.SubmitOrder(during[0], timeout=5)  # a client resending: no second order
            assert again.duplicate and again.order_id == acked[during[0].client_order_id][1]
            first = await wait_for(lambda: _acked(orders, after[0]), timeout=60, what="an order after the outage")
            assert first not in {oid for _, oid in acked.values()}
    finally:
        if desk.proc.poll() is None:
            assert desk.stop() == 0, desk.log.read_text()[-3000:]

    seqs, created = journaled(database.dsn)
    assert seqs == list(range(1, len(seqs) + 1))
    ids = [oid for _, oid in acked.values()]
    assert sorted(oid for oid in created if oid in set(ids)) == sorted(ids)  # every acknowledged order, once


async def _acked(orders, req) -> str | None:
    outcome, order_id = await submit(orders, req)
    return order_id if outcome == "ok" else None
