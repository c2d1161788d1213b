"""``spec.services.routing.replicas: 2`` in the embedded desk, supervised, on a real PostgreSQL: the standby stands
by behind the one routing address; a SIGKILL of the active routing process is a takeover (the next order is
acknowledged by the standby, before the killed one is even restarted) with every acknowledged order kept and none
journaled twice, and the monitoring service lists ``RoutingFailover``; the killed process comes back as the standby,
and a second kill fails over back to it (a new ``RoutingFailover``)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
import uuid
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.desk_runner import RunningDesk, wait_for, write_desk
from tests.integration.test_kill_switch import bids, resting
from tradingdesk.runtime.supervisor import STATUS_FILE, Supervisor
from tradingdesk.simulate.database import SimulationDatabase
from tradingdesk.storage.db import make_engine
from tradingdesk.storage.fence import FENCED_EXIT_CODE, WRITER_LOCK_CLASS
from tradingdesk.v1 import monitoring_pb2, monitoring_pb2_grpc, orders_pb2, orders_pb2_grpc

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(400)]
ORDER_SERVICE = "tradingdesk.v1.OrderService"
RESTART_BACKOFF_MS = 5_000
"""Long enough that an order acknowledged while the killed process waits for its restart proves the standby took
it (the supervisor's status says the restart is still pending when the order is acknowledged)."""


def two_routers(doc: dict) -> None:
    doc["spec"]["services"]["routing"]["replicas"] = 2
    doc["spec"]["risk"].update(maxSubmitsPerSecond=1_000_000)
    doc["spec"]["supervision"] = {"restartBackoffInitialMs": RESTART_BACKOFF_MS, "restartBackoffMaxMs": 5_000}


def routing_status(desk: RunningDesk) -> dict:
    path = desk.spec_path.parent / "logs" / STATUS_FILE
    return json.loads(path.read_text())["services"]["routing"] if path.exists() else {}


async def own_status(address: str, service: str) -> int:
    """What a routing process reports on its own health socket (plaintext, ``runtime/service.py``)."""
    async with grpc.aio.insecure_channel(address) as ch:
        reply = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    return reply.status


async def submit(desk: RunningDesk, request: orders_pb2.SubmitOrderRequest) -> orders_pb2.OrderAck | None:
    """One try on a fresh channel to routing's one address (no reconnect backoff carried over a kill)."""
    async with desk.channel("routing") as ch:
        try:
            return await orders_pb2_grpc.OrderServiceStub(ch).SubmitOrder(request, timeout=5)
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.UNAVAILABLE, exc.details()  # nobody listens for a moment
            return None


async def listed(desk: RunningDesk) -> dict[str, orders_pb2.Order]:
    async with desk.channel("routing") as ch:
        reply = await orders_pb2_grpc.OrderServiceStub(ch).ListOrders(orders_pb2.ListOrdersRequest(), timeout=10)
    return {o.client_order_id: o for o in reply.orders}


async def failovers(desk: RunningDesk) -> list[monitoring_pb2.Alert]:
    """The ``RoutingFailover`` alerts the monitoring service lists now (the desk's own checks)."""
    async with desk.channel("monitoring") as ch:
        listed = await monitoring_pb2_grpc.MonitoringServiceStub(ch).ListAlerts(
            monitoring_pb2.ListAlertsRequest(), timeout=10
        )
    assert listed.source == "desk"
    return [a for a in listed.alerts if a.name == "RoutingFailover"]


async def failover_alerted(desk: RunningDesk, *, after_ns: int) -> monitoring_pb2.Alert:
    """Wait for ``RoutingFailover`` of a takeover after ``after_ns`` (wall clock), and check what it says."""

    async def listed() -> monitoring_pb2.Alert | None:
        return next((a for a in await failovers(desk) if a.starts_ns >= after_ns), None)

    alert = await wait_for(listed, timeout=30, what="RoutingFailover among the desk's alerts")
    assert (alert.severity, alert.service, alert.labels["service"]) == ("warning", "routing", "routing")
    assert alert.runbook_url.endswith("runbooks/routing-failover.md")
    assert "took the journal over" in alert.summary
    return alert


async def fail_over(desk: RunningDesk, request: orders_pb2.SubmitOrderRequest) -> tuple[int, orders_pb2.OrderAck]:
    """SIGKILL the active routing process; returns its pid and the ack of ``request``, sent right after. Asserts
    the restart of the killed one was still pending when the order was acknowledged: the standby took it."""
    embedded = desk.embedded
    assert embedded is not None
    active, standby = embedded.children["routing"].process.pid, embedded.standbys["routing"].process.pid
    restarts = routing_status(desk)["restarts"]
    os.kill(active, signal.SIGKILL)
    killed = time.monotonic()
    ack = await wait_for(lambda: submit(desk, request), timeout=60, interval=0.01, what="the order acknowledged")
    took_ms = (time.monotonic() - killed) * 1000
    assert routing_status(desk)["restarts"] == restarts, "the killed one was restarted before the order's ack"
    print(f"\n[embedded standby] routing killed to the next order acknowledged: {took_ms:.0f} ms")
    await wait_for(lambda: routing_status(desk).get("pid") == standby, timeout=30, what="the standby as routing")
    return active, ack


SNAPSHOT_BY = re.compile(r'"pid": (\d+), "message": "routing: journal snapshot at seq (\d+) \((\w+) replica')
SNAPSHOT_LOADED = re.compile(r'"pid": (\d+), "message": "routing: journal snapshot at seq (\d+) loaded')


def snapshots_taken(desk: RunningDesk) -> list[tuple[int, int, str]]:
    """(pid, seq, "standby" or "active") of each journal snapshot routing's processes logged taking."""
    path = desk.spec_path.parent / "logs" / "routing.log"
    text = path.read_text() if path.exists() else ""
    return [(int(pid), int(seq), role) for pid, seq, role in SNAPSHOT_BY.findall(text)]


def two_routers_snapshotting(doc: dict) -> None:
    two_routers(doc)
    doc["spec"]["routing"]["snapshots"] = {"everyRecords": 25, "everySeconds": 0}


async def test_a_sigkilled_active_router_fails_over_to_its_standby_and_back(postgres_server, tmp_path: Path) -> None:
    env = {"TD_DSN": postgres_server.create_database(f"es_{uuid.uuid4().hex[:8]}")}
    (tmp_path / "desk").mkdir()
    desk = await RunningDesk(write_desk(tmp_path / "desk", two_routers_snapshotting), env).start()
    assert desk.embedded is not None
    reports: list[str] = []
    supervision = asyncio.create_task(Supervisor(desk.embedded, report=reports.append).run())
    try:
        first = desk.embedded.standbys["routing"]
        assert any("standing by" in line for line in desk.lines), desk.lines
        await wait_for(lambda: routing_status(desk).get("standby", {}).get("state") == "standby", timeout=30)
        assert await own_status(first.own_address, ORDER_SERVICE) == health_pb2.HealthCheckResponse.NOT_SERVING

        prices = await wait_for(lambda: bids(desk), timeout=60, what="prices and routing's gate")
        orders = resting(prices, 30, f"sb-{uuid.uuid4().hex[:6]}")
        before = [await wait_for(lambda r=r: submit(desk, r), timeout=30) for r in orders[:20]]
        assert len({a.order_id for a in before}) == 20
        # the standby takes the journal's snapshots, of the state it follows; the active process forks for none
        await wait_for(lambda: snapshots_taken(desk) or None, timeout=60, what="a journal snapshot")
        taken = snapshots_taken(desk)
        assert {(pid, role) for pid, _, role in taken} == {(first.process.pid, "standby")}, taken

        assert not await failovers(desk)  # the first routing process was active from its start
        killed_ns = time.time_ns()
        killed, ack = await fail_over(desk, orders[20])
        first_failover = await failover_alerted(desk, after_ns=killed_ns)
        assert ack.order_id not in {a.order_id for a in before}
        again = await submit(desk, orders[3])  # a client resending: the original acknowledgement, no second order
        assert again is not None and again.duplicate and again.order_id == before[3].order_id
        after = await listed(desk)
        assert all(after[r.client_order_id].order_id == a.order_id for r, a in zip(orders, before, strict=False))

        def back_as_standby() -> bool:
            s = routing_status(desk)
            return s.get("restarts") == 1 and s.get("state") == "serving" and s["standby"]["state"] == "standby"

        await wait_for(back_as_standby, timeout=120, what="the killed process back as the standby")
        status = routing_status(desk)
        assert status["standby"]["pid"] not in (killed, first.process.pid)
        log = (desk.spec_path.parent / "logs" / "routing.log").read_text()
        loaded = {int(pid): int(seq) for pid, seq in SNAPSHOT_LOADED.findall(log)}
        assert loaded.get(status["standby"]["pid"], 0) >= taken[0][1], loaded  # the standby's snapshot restores
        assert status["lastExit"] == "killed by SIGKILL"
        restarted = desk.embedded.standbys["routing"]
        assert await own_status(restarted.own_address, ORDER_SERVICE) == health_pb2.HealthCheckResponse.NOT_SERVING

        # the second kill: over to the restarted process
        killed_ns = time.time_ns()
        killed_again, ack = await fail_over(desk, orders[21])
        second_failover = await failover_alerted(desk, after_ns=killed_ns)
        assert second_failover.fingerprint != first_failover.fingerprint  # a new alert, not the first going on
        assert killed_again == first.process.pid and routing_status(desk)["pid"] == restarted.process.pid
        after = await listed(desk)
        assert {r.client_order_id for r in orders[:22]} <= set(after)
        await wait_for(
            lambda: routing_status(desk).get("restarts") == 2 and routing_status(desk)["standby"]["state"] == "standby",
            timeout=120,
            what="the second killed process back as the standby",
        )

        # orders the standby, restarted before them, saw only by following the journal: once it takes over, a
        # journal reader is told they are durable (it was told the seq of the standby's start, until its first
        # commit, and compliance refused the journal as gone backwards)
        assert all([await wait_for(lambda r=r: submit(desk, r), timeout=30) for r in orders[22:26]])
        journaled_upto = max_seq(env["TD_DSN"])
        standby = desk.embedded.standbys["routing"].process.pid
        os.kill(routing_status(desk)["pid"], signal.SIGKILL)
        await wait_for(lambda: routing_status(desk).get("pid") == standby, timeout=30, what="the standby as routing")
        header = await wait_for(lambda: journal_header(desk), timeout=30, what="StreamJournal's first message")
        assert header.durable_seq >= journaled_upto, (header.durable_seq, journaled_upto)
        assert not supervision.done(), reports
    finally:
        supervision.cancel()
        await asyncio.gather(supervision, return_exceptions=True)
        await desk.stop()

    engine = make_engine(env["TD_DSN"], schema="us_equities_routing")
    try:
        with engine.connect() as conn:
            seqs = [r[0] for r in conn.exec_driver_sql("SELECT seq FROM journal ORDER BY seq")]
            created = conn.exec_driver_sql("SELECT order_id FROM journal WHERE kind = 'pending_new'").all()
    finally:
        engine.dispose()
    assert seqs == list(range(1, len(seqs) + 1))  # three writers in turn: no gap, no seq given twice
    ids = {after[r.client_order_id].order_id for r in orders[:22]}
    assert sorted(r[0] for r in created if r[0] in ids) == sorted(ids)  # every order journaled once


def max_seq(dsn: str) -> int:
    engine = make_engine(dsn, schema="us_equities_routing")
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql("SELECT max(seq) FROM journal").scalar() or 0
    finally:
        engine.dispose()


async def journal_header(desk: RunningDesk) -> orders_pb2.JournalEvents | None:
    """The first message of routing's ``StreamJournal`` (it says up to where the journal is durable), or None
    while routing does not answer yet."""
    try:
        async with desk.channel("routing") as ch:
            call = orders_pb2_grpc.OrderServiceStub(ch).StreamJournal(orders_pb2.StreamJournalRequest(), timeout=10)
            async for message in call:
                call.cancel()
                return message
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.UNAVAILABLE:
            raise
    return None


def queued_behind_holder(engine) -> bool:
    """Whether one session holds a writer lock (``storage/fence.py``) and another waits for it."""
    with engine.connect() as conn:
        granted = {
            row[0]
            for row in conn.exec_driver_sql(
                "SELECT granted FROM pg_locks WHERE locktype = 'advisory' AND classid = %(c)s::int4::oid",
                {"c": WRITER_LOCK_CLASS},
            )
        }
    return granted == {True, False}


async def test_a_database_outage_is_no_takeover(tmp_path: Path) -> None:
    """The outage cuts both routing processes' sessions, and with them the writer lock: the standby outlives it (it
    used to end its wait for the lock with the database's error, and never took over again) and queues for the lock
    again behind the active process, which took it back at its next write and trades on. With orders flowing the
    active process writes at once; the standby's grace after the outage (``TAKEOVER_AFTER_OUTAGE_S``) is for an
    active process in its write backoff, which this test does not pin down."""
    database = SimulationDatabase().start()  # a cluster of the test's own: it is crashed under the desk
    (tmp_path / "desk").mkdir()
    desk = await RunningDesk(write_desk(tmp_path / "desk", two_routers), {"TD_DSN": database.dsn}).start()
    assert desk.embedded is not None
    supervision = asyncio.create_task(Supervisor(desk.embedded, report=[].append).run())
    try:
        active, standby = desk.embedded.children["routing"], desk.embedded.standbys["routing"]
        prices = await wait_for(lambda: bids(desk), timeout=60, what="prices and routing's gate")
        orders = iter(resting(prices, 400, f"db-{uuid.uuid4().hex[:6]}"))
        assert await wait_for(lambda: submit(desk, next(orders)), timeout=30)
        engine = make_engine(database.dsn)
        queued = lambda: asyncio.to_thread(queued_behind_holder, engine)  # noqa: E731
        try:  # the outage finds the standby standing by (waiting for the lock), not still starting
            await wait_for(queued, timeout=60, what="the standby queued behind the active process before the outage")
        finally:
            engine.dispose()
        await asyncio.to_thread(database.down)
        # Up only once both processes' sessions are gone: in an outage of milliseconds the session holding the lock
        # can end before the standby's, whose queued wait is then granted, and it takes over.
        await wait_for(
            lambda: asyncio.to_thread(lambda: database.desk_sessions() == 0), timeout=60, what="no desk sessions"
        )
        await asyncio.to_thread(database.up)

        async def acknowledged() -> orders_pb2.OrderAck | None:
            try:
                return await submit(desk, next(orders))
            except AssertionError:  # refused while the journal cannot write (FAILED_PRECONDITION or the like)
                return None

        await wait_for(acknowledged, timeout=60, interval=0.1, what="an order acknowledged after the outage")
        engine = make_engine(database.dsn)
        queued = lambda: asyncio.to_thread(queued_behind_holder, engine)  # noqa: E731
        try:  # the standby queues for the writer lock again, behind the active process that holds it
            await wait_for(queued, timeout=60, what="the standby queued behind the active process")
        finally:
            engine.dispose()
        assert await wait_for(acknowledged, timeout=30, interval=0.1)
        assert active.process.returncode is None and desk.embedded.children["routing"] is active  # it traded on
        # Now and then the active process's session is cut a moment before the standby's, whose queued wait is
        # granted: it takes over, finds its session gone and the lock held by the active process again, and exits
        # fenced off without having served (``Journal`` checks an idle writer's session), to stand by again.
        standing_by, restarts = desk.embedded.standbys["routing"], routing_status(desk)["restarts"]
        if standing_by is standby:
            assert restarts == 0 and standby.process.returncode is None
        else:
            assert standby.process.returncode == FENCED_EXIT_CODE and restarts == 1
        assert await own_status(standing_by.own_address, ORDER_SERVICE) == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        supervision.cancel()
        await asyncio.gather(supervision, return_exceptions=True)
        await desk.stop()
        database.destroy()
