"""A whole embedded desk with routing's clock stepped back, as when its host's NTP fails: the monitoring service
raises ClockSkew naming routing (over its gRPC API); with market data gone quiet, routing keeps refusing orders
against its old references (a clock 30 s back would otherwise make 2-30 s old data look fresh); once the clock
is back the alert clears, and once data flows again orders are accepted."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest

from tests.desk_runner import RunningDesk, wait_for, write_desk
from tests.integration.test_kill_switch import SYMBOLS, bids, resting
from tradingdesk.core.clock import NS_PER_MS, NS_PER_SECOND
from tradingdesk.edge.clock import REPLAY_ORIGIN_ENV
from tradingdesk.edge.clock_skew import SKEW_DIR_ENV, set_skew
from tradingdesk.v1 import market_data_pb2, market_data_pb2_grpc, monitoring_pb2, monitoring_pb2_grpc, orders_pb2_grpc

pytestmark = pytest.mark.slow

SKEW_MS = -30_000
"""Far past the reference age limit (1 s here): routing refuses for about 29 s after the step."""


async def test_a_skewed_routing_clock_is_alerted_and_fails_closed(tmp_path: Path) -> None:
    def tune(doc: dict) -> None:
        doc["spec"]["risk"].update(referenceMaxAgeMs=1_000, maxSubmitsPerSecond=1_000_000)

    skew_dir = tmp_path / "clock-skew"
    # the replayed session began two minutes ago, so a clock 30 s behind is still in market hours (the
    # stale-reference check is what must refuse, not the market-hours one)
    origin = time.time_ns() - 120 * NS_PER_SECOND
    env = {SKEW_DIR_ENV: str(skew_dir), REPLAY_ORIGIN_ENV: str(origin)}
    desk = RunningDesk(write_desk(tmp_path, tune), env=env)
    await desk.start()
    try:
        prices = await wait_for(lambda: bids(desk), timeout=30)
        async with (
            desk.channel("routing") as routing_ch,
            desk.channel("monitoring") as monitoring_ch,
            desk.channel("feeds") as feeds_ch,
        ):
            orders = orders_pb2_grpc.OrderServiceStub(routing_ch)
            feeds = market_data_pb2_grpc.MarketDataServiceStub(feeds_ch)
            monitoring = monitoring_pb2_grpc.MonitoringServiceStub(monitoring_ch)
            requests = iter(resting(prices, 1000, "skew"))

            async def submit() -> str:
                """``accepted``, or the refusal's code and reason."""
                try:
                    await orders.SubmitOrder(next(requests), timeout=5)
                except grpc.aio.AioRpcError as err:
                    return f"{err.code().name}: {err.details()}"
                return "accepted"

            async def skew_alerts() -> list[monitoring_pb2.Alert]:
                listed = await monitoring.ListAlerts(monitoring_pb2.ListAlertsRequest(), timeout=10)
                assert listed.source == "desk"
                return [a for a in listed.alerts if a.name == "ClockSkew"]

            assert await wait_for(lambda: _is(submit, "accepted"), timeout=20)
            assert await skew_alerts() == []

            await _set_lines(feeds, enabled=False)  # market data stops: the references age past 1 s
            # every symbol's, not just the first one asked about: a symbol that printed last a moment before the
            # lines went down is still fresh, and an order for it could pass before routing re-reads its clock
            await wait_for(lambda: _all_say(submit, "is stale", times=len(SYMBOLS)), timeout=15)

            set_skew(skew_dir, "routing", SKEW_MS * NS_PER_MS)
            refusal = await wait_for(lambda: _refused_with(submit, "stepped back"), timeout=10)
            assert refusal == (
                "FAILED_PRECONDITION: the clock stepped back since the reference price for "
                f"{refusal.split('price for ')[1].split(' ')[0]} arrived: its age is unknown until the next tick"
            )
            (alert,) = await wait_for(skew_alerts, timeout=15)
            assert alert.service == "routing" and alert.severity == "critical"
            assert alert.runbook_url.endswith("/clock-skew.md")
            assert "the clock of routing is -29" in alert.summary or "the clock of routing is -30" in alert.summary
            assert "(threshold 100 ms)" in alert.summary
            for _ in range(5):  # never accepted against the old data while the clock is behind
                assert await submit() != "accepted"

            set_skew(skew_dir, "routing", 0)
            await wait_for(lambda: _none(skew_alerts), timeout=15)
            assert await submit() != "accepted"  # on time again, but the data is still old
            await _set_lines(feeds, enabled=True)
            assert await wait_for(lambda: _is(submit, "accepted"), timeout=20)
    finally:
        await desk.stop()


async def _is(submit, expected: str) -> bool:
    return await submit() == expected


async def _all_say(submit, words: str, *, times: int) -> bool:
    """Whether ``times`` submits in a row (one per symbol, as ``resting`` cycles through them) say ``words``."""
    for _ in range(times):
        if words not in await submit():
            return False
    return True


async def _refused_with(submit, words: str) -> str | None:
    """The refusal once it says ``words``; an order accepted meanwhile fails the test."""
    answer = await submit()
    assert answer != "accepted", "an order was accepted against old data"
    return answer if words in answer else None


async def _set_lines(feeds: market_data_pb2_grpc.MarketDataServiceStub, *, enabled: bool) -> None:
    for feed in ("vendor-a", "vendor-b"):
        for line in ("A", "B"):
            request = market_data_pb2.SetLineEnabledRequest(feed=feed, line=line, enabled=enabled, reason="skew test")
            await feeds.SetLineEnabled(request, timeout=5)


async def _none(skew_alerts) -> bool:
    return not await skew_alerts()
