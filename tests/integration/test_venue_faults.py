"""SetVenueFault on a real embedded desk: operations switch a simulated venue to rejecting every order or to
being away, the order path shows it (venue rejects with a reason; smart routing around an away venue, and
UNAVAILABLE for an order that can only go there), bad requests get clear codes, and every change is journaled
and survives a restart of routing (the journal replays it)."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path

import grpc
import pytest

from tests.desk_runner import DeskProcess, wait_for, wait_until, write_desk
from tests.integration.test_supervision import restarted, sigkill, status
from tradingdesk.edge.door import door_metadata
from tradingdesk.v1 import (
    common_pb2,
    compliance_pb2,
    compliance_pb2_grpc,
    market_data_pb2,
    market_data_pb2_grpc,
    monitoring_pb2,
    monitoring_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
)

pytestmark = pytest.mark.slow
ACCOUNT = "ACC-EQ-1"
REJECT_ALL = orders_pb2.VENUE_FAULT_MODE_REJECT_ALL
AWAY = orders_pb2.VENUE_FAULT_MODE_AWAY
NONE = orders_pb2.VENUE_FAULT_MODE_NONE


async def bid(desk: DeskProcess, symbol: str = "AAPL") -> str:
    async with desk.aio_channel("feeds") as ch:
        try:
            q = await market_data_pb2_grpc.MarketDataServiceStub(ch).GetQuote(
                market_data_pb2.GetQuoteRequest(symbol=symbol), timeout=1
            )
        except grpc.aio.AioRpcError:
            return ""
        return q.bid_price if q.bid_price not in ("", "0") else ""


async def resting_price(desk: DeskProcess, symbol: str = "AAPL") -> str:
    """1% under the bid, on the cent grid: inside the price collar, and out of reach of the replayed market's
    next prints (an order at the bid itself fills whenever the market ticks down: then it is not resting)."""
    bid_price = await wait_for(lambda: bid(desk, symbol), timeout=30, what=f"a bid for {symbol}")
    return str((Decimal(bid_price) * 99 / 100).quantize(Decimal("0.01")))


def order(price: str, venue: str = "") -> orders_pb2.SubmitOrderRequest:
    """One share bought at ``price`` (``resting_price``: inside the price collar, resting)."""
    return orders_pb2.SubmitOrderRequest(
        client_order_id=f"vf-{uuid.uuid4().hex[:12]}",
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


async def refused(call, request, code: grpc.StatusCode) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call(request, timeout=10)
    assert err.value.code() == code, err.value.details()
    return err.value.details()


def modes(reply: orders_pb2.VenueFaults) -> dict[str, int]:
    return {v.venue: v.mode for v in reply.venues}


def quick_restarts(doc: dict) -> None:
    doc["spec"]["supervision"] = {"restartBackoffInitialMs": 200}


async def test_venue_faults_reject_route_around_refuse_and_survive_a_restart(tmp_path: Path) -> None:
    desk = DeskProcess(write_desk(tmp_path, quick_restarts))
    desk.wait_up(timeout=180)
    try:
        wait_until(lambda: len(status(desk).get("services", {})) == 5, timeout=30, what="the supervisor's status")
        price = await resting_price(desk)
        async with (
            desk.aio_channel("routing", "operations") as ops_ch,
            desk.aio_channel("routing", "trader") as trader_ch,
            desk.aio_channel("routing") as admin_ch,
        ):
            ops = orders_pb2_grpc.OrderServiceStub(ops_ch)
            trader = orders_pb2_grpc.OrderServiceStub(trader_ch)
            orders = orders_pb2_grpc.OrderServiceStub(admin_ch)
            set_fault = orders_pb2.SetVenueFaultRequest

            # Refused, each with its code and the field or reason: a trader may not; unknown venue; no mode.
            denied = await refused(
                trader.SetVenueFault, set_fault(venue="xnys", mode=AWAY), grpc.StatusCode.PERMISSION_DENIED
            )
            assert "operations" in denied
            assert "venue: 'nope'" in await refused(
                ops.SetVenueFault, set_fault(venue="nope", mode=AWAY), grpc.StatusCode.INVALID_ARGUMENT
            )
            assert "mode:" in await refused(
                ops.SetVenueFault, set_fault(venue="xnys"), grpc.StatusCode.INVALID_ARGUMENT
            )
            assert "mode:" in await refused(
                ops.SetVenueFault, set_fault(venue="xnys", mode=99), grpc.StatusCode.INVALID_ARGUMENT
            )
            assert "reason:" in await refused(
                ops.SetVenueFault,
                set_fault(venue="xnys", mode=AWAY, reason="x" * 201),
                grpc.StatusCode.INVALID_ARGUMENT,
            )

            # reject_all: the venue answers every new order with a reject and its reason.
            reply = await ops.SetVenueFault(
                set_fault(venue="xnys", mode=REJECT_ALL, actor="sre-anna", reason="drill"),
                metadata=door_metadata("cli"),
                timeout=10,
            )
            assert modes(reply) == {"xnys": REJECT_ALL, "xnas": NONE, "bats": NONE}
            ack = await orders.SubmitOrder(order(price, venue="xnys"), timeout=10)
            reports = orders.StreamExecutions(
                orders_pb2.StreamExecutionsRequest(account=ACCOUNT, from_seq=ack.journal_seq)
            )
            async for report in reports:
                if report.order_id == ack.order_id and report.status == common_pb2.ORDER_STATUS_REJECTED:
                    assert report.text == "venue xnys rejects every order (venue fault)"
                    break
            reports.cancel()

            # away: smart routing sends orders elsewhere; an order for that venue alone is refused UNAVAILABLE.
            # The venue smart routing picks now (all venues quote the feed: the lowest taker fee wins) goes away.
            ack = await orders.SubmitOrder(order(price), timeout=10)
            chosen = (await orders.GetOrder(orders_pb2.GetOrderRequest(account=ACCOUNT, order_id=ack.order_id))).venue
            assert chosen != "xnys"
            reply = await ops.SetVenueFault(set_fault(venue=chosen, mode=AWAY), timeout=10)
            assert modes(reply)[chosen] == AWAY
            away = await refused(orders.SubmitOrder, order(price, venue=chosen), grpc.StatusCode.UNAVAILABLE)
            assert away == f"venue {chosen} is away (disconnected) and no other venue takes AAPL"
            for _ in range(5):
                ack = await orders.SubmitOrder(order(price), timeout=10)
                placed = await orders.GetOrder(orders_pb2.GetOrderRequest(account=ACCOUNT, order_id=ack.order_id))
                assert placed.venue not in (chosen, "xnys"), placed.venue  # xnys still rejects everything

            # Routing's status says so, and the desk's own checks page for both venues, naming them.
            routing = await ops.GetRoutingStatus(orders_pb2.GetRoutingStatusRequest(), timeout=10)
            by_venue = {v.venue: v for v in routing.venues}
            assert [v.venue for v in routing.venues] == ["xnys", "xnas", "bats"]
            assert not by_venue[chosen].connected and by_venue[chosen].fault == AWAY
            assert by_venue["xnys"].connected and by_venue["xnys"].rejects == 1
            assert routing.journal.writable and not routing.journal.error
            await refused(
                trader.GetRoutingStatus, orders_pb2.GetRoutingStatusRequest(), grpc.StatusCode.PERMISSION_DENIED
            )

            async def paged() -> set[tuple[str, str]]:
                async with desk.aio_channel("monitoring", "operations") as ch:
                    listed = await monitoring_pb2_grpc.MonitoringServiceStub(ch).ListAlerts(
                        monitoring_pb2.ListAlertsRequest(), timeout=10
                    )
                venues = {(a.name, a.labels.get("venue", "")) for a in listed.alerts if a.name.startswith("Venue")}
                return venues if ("VenueDisconnected", chosen) in venues else set()

            alerts = await wait_for(paged, timeout=30, what=f"VenueDisconnected for {chosen}")
            # one reject is the odd reject of a normal day, under venueRejectsPerMinute: no VenueRejecting
            assert alerts == {("VenueDisconnected", chosen)}

        # The changes are in the journal: a routing killed and restarted replays them.
        sigkill(desk, "routing")
        await wait_for(lambda: restarted(desk, "routing"), timeout=60, what="routing restarted")

        (other,) = {"xnys", "xnas", "bats"} - {"xnys", chosen}

        async def restarted_and_still_away() -> bool:
            async with desk.aio_channel("routing", "operations") as ch:
                try:  # setting the third venue to none (as it is) answers every venue's fault
                    reply = await orders_pb2_grpc.OrderServiceStub(ch).SetVenueFault(
                        orders_pb2.SetVenueFaultRequest(venue=other, mode=NONE), timeout=2
                    )
                except grpc.aio.AioRpcError:
                    return False
            return modes(reply) == {"xnys": REJECT_ALL, chosen: AWAY, other: NONE}

        await wait_for(restarted_and_still_away, timeout=60, what="routing back with both faults replayed")
        async with desk.aio_channel("routing", "operations") as ch:
            routing = await orders_pb2_grpc.OrderServiceStub(ch).GetRoutingStatus(
                orders_pb2.GetRoutingStatusRequest(), timeout=10
            )
        # the replayed fault keeps the venue away; the counts are this process's own (the replay counts nothing)
        assert {v.venue: (v.connected, v.rejects) for v in routing.venues} == {
            "xnys": (True, 0),
            chosen: (False, 0),
            other: (True, 0),
        }

        # The audit trail has each change with who, why and through which door.
        async def audited() -> list[dict]:
            async with desk.aio_channel("compliance") as ch:
                resp = await compliance_pb2_grpc.ComplianceServiceStub(ch).QueryAudit(
                    compliance_pb2.QueryAuditRequest(kind="venue_fault", limit=100)
                )
            return [json.loads(e.payload_json) for e in resp.events] if len(resp.events) >= 3 else []

        changes = await wait_for(audited, timeout=30, what="the venue fault changes in the audit trail")
        assert changes[0] | {"v": 0} == {
            "v": 0,
            "account": "",
            "symbol": "",
            "venue": "xnys",
            "mode": "reject_all",
            "reason": "drill",
            "actor": "sre-anna",
            "door": "cli",
        }
        assert [(c["venue"], c["mode"]) for c in changes] == [("xnys", "reject_all"), (chosen, "away"), (other, "none")]
    finally:
        if desk.proc.poll() is None:
            assert desk.stop() == 0, desk.log.read_text()[-3000:]
