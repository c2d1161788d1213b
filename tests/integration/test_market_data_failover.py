"""Line failover on a running MarketDataService (real gRPC server and client, replay lines at speed 100).

Each test subscribes to everything and checks, by sequence numbers, that the subscriber saw every update
exactly once and in order, whatever happened to the lines in between.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.integration.test_market_data_service import Starter, eventually, running_services
from tradingdesk.spec import TradingDesk, parse_desk
from tradingdesk.v1 import market_data_pb2 as pb
from tradingdesk.v1 import market_data_pb2_grpc as pb_grpc

BOUND_MS = 250


@pytest.fixture
async def start() -> AsyncIterator[Starter]:
    async with running_services() as starter:
        yield starter


SERVICE = "tradingdesk.v1.MarketDataService"


def ab_desk(*, speed: str = "100", failover_ms: int = BOUND_MS) -> TradingDesk:
    feed: dict[str, Any] = {
        "name": "vendor-a",
        "lines": [{"name": "A"}, {"name": "B"}],
        "replay": {"seed": 11, "speed": speed, "loop": True},
        "failoverAfterMs": failover_ms,
        "staleAfterMs": 1000,
    }
    return parse_desk(
        {
            "apiVersion": "tradingdesk.io/v1alpha1",
            "kind": "TradingDesk",
            "metadata": {"name": "failover"},
            "spec": {
                "instruments": [
                    {"symbol": "AAPL", "referencePrice": "189.50"},
                    {"symbol": "MSFT", "referencePrice": "415.20"},
                    {"symbol": "KO", "referencePrice": "62.35"},
                ],
                "accounts": [{"name": "ACC-1"}],
                "feeds": [feed],
                "venues": [{"name": "xnys"}],
            },
        }
    )


class Tape:
    """A subscriber to every symbol that records each live update's sequence number and arrival time."""

    def __init__(self, stub: pb_grpc.MarketDataServiceStub) -> None:
        self.seqs: list[int] = []
        self.times: list[float] = []
        self.snapshots = 0
        self._call = stub.Subscribe(pb.SubscribeRequest())
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for event in self._call:
            if event.snapshot:
                self.snapshots += 1
                continue
            which = event.WhichOneof("event")
            self.seqs.append(getattr(event, which).seq)
            self.times.append(time.monotonic())

    async def wait_for(self, count: int, timeout: float = 10.0) -> None:
        await eventually(lambda: len(self.seqs) >= count, timeout)

    def assert_complete(self) -> None:
        """Every sequence number from the first live one to the last, once each, in order."""
        assert self.seqs, "no live updates"
        first, last = self.seqs[0], self.seqs[-1]
        assert self.seqs == list(range(first, last + 1)), self.describe_holes()

    def describe_holes(self) -> str:
        holes = [(a, b) for a, b in zip(self.seqs, self.seqs[1:], strict=False) if b != a + 1]
        return f"{len(holes)} breaks in the sequence, first ones: {holes[:5]}"

    async def close(self) -> None:
        self._call.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def status(stub: pb_grpc.MarketDataServiceStub) -> pb.FeedStatus:
    report = await stub.GetFeedStatus(pb.GetFeedStatusRequest())
    return report.feeds[0]


async def test_killing_the_primary_mid_session_the_backup_takes_over_inside_the_bound(start: Starter) -> None:
    service, _, stub = await start(ab_desk(), subscriber_bound=1_000_000)
    handler = service.handlers["vendor-a"]
    tape = Tape(stub)
    await tape.wait_for(2_000)
    assert (await status(stub)).active_line == "A"

    killed_at = time.monotonic()
    handler.disable_line("A", "failover test: primary killed")
    seen_at_kill = len(tape.seqs)
    await eventually(lambda: handler.monitor.active == "B", BOUND_MS / 1000)
    switched_at = time.monotonic()
    await tape.wait_for(seen_at_kill + 2_000)

    st = await status(stub)
    assert st.active_line == "B" and st.failovers == 1
    assert st.health == pb.FEED_HEALTH_DEGRADED
    line_a = next(line for line in st.lines if line.name == "A")
    assert line_a.state == pb.LINE_STATE_DISABLED and "primary killed" in line_a.detail
    assert (switched_at - killed_at) * 1000 < BOUND_MS
    assert st.lost == 0 and st.held == 0
    # Data never waited for the switch: the longest pause in the tape around the kill is short.
    after = [t for t in tape.times if t >= killed_at][:200]
    assert after and after[0] - killed_at < BOUND_MS / 1000
    await tape.close()
    tape.assert_complete()


async def test_a_killed_line_that_comes_back_fills_nothing_twice_and_the_feed_fails_back(start: Starter) -> None:
    service, _, stub = await start(ab_desk(), subscriber_bound=1_000_000)
    handler = service.handlers["vendor-a"]
    tape = Tape(stub)
    await tape.wait_for(1_000)
    handler.disable_line("A", "drill")
    await eventually(lambda: handler.monitor.active == "B", 1)
    await tape.wait_for(len(tape.seqs) + 1_000)
    handler.enable_line("A")
    await eventually(lambda: handler.monitor.active == "A" and handler.monitor.failbacks == 1, 3)
    await tape.wait_for(len(tape.seqs) + 1_000)
    st = await status(stub)
    assert st.failovers == 1 and st.failbacks == 1 and st.health == pb.FEED_HEALTH_LIVE
    assert [(s.from_line, s.to_line, s.failback) for s in st.recent_switches] == [("A", "B", False), ("B", "A", True)]
    assert st.lost == 0
    await tape.close()
    tape.assert_complete()


async def test_line_switches_stream_live_and_from_history(start: Starter) -> None:
    """What routing journals for the audit trail: each switch as it happens, and on a new stream the switches the
    feed remembers (so one made while the reader was away is not lost)."""
    service, _, stub = await start(ab_desk())
    handler = service.handlers["vendor-a"]
    live = stub.StreamLineSwitches(pb.StreamLineSwitchesRequest())
    await eventually(lambda: bool(service._switch_listeners), 2)
    handler.disable_line("A", "drill")
    first = await asyncio.wait_for(anext(aiter(live)), 5)
    assert (first.feed, first.history) == ("vendor-a", False)
    s = first.line_switch
    assert (s.from_line, s.to_line, s.failback) == ("A", "B", False) and "disabled" in s.reason and s.time_ns > 0
    live.cancel()

    handler.enable_line("A")
    await eventually(lambda: handler.monitor.failbacks == 1, 3)
    again = stub.StreamLineSwitches(pb.StreamLineSwitchesRequest())
    history = [await asyncio.wait_for(anext(aiter(again)), 5) for _ in range(2)]
    again.cancel()
    assert [(m.history, m.line_switch.to_line, m.line_switch.failback) for m in history] == [
        (True, "B", False),
        (True, "A", True),
    ]
    assert history[0].line_switch == s


async def test_both_lines_down_stops_quotes_reports_unhealthy_and_recovery_resumes_without_gaps(
    start: Starter,
) -> None:
    service, running, stub = await start(ab_desk(), subscriber_bound=1_000_000)
    service.bind_health(running.health)  # what the runtime does once the server is up
    handler = service.handlers["vendor-a"]
    async with grpc.aio.insecure_channel(running.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)

        async def health_of(name: str) -> int:
            return (await health.Check(health_pb2.HealthCheckRequest(service=name))).status

        tape = Tape(stub)
        await tape.wait_for(1_000)
        assert await health_of(SERVICE) == health_pb2.HealthCheckResponse.SERVING

        handler.disable_line("A", "outage drill")
        handler.disable_line("B", "outage drill")
        report = await stub.GetFeedStatus(pb.GetFeedStatusRequest())
        assert not report.serving and report.feeds[0].health == pb.FEED_HEALTH_DOWN
        await eventually(lambda: service._serving is False, 1)
        assert await health_of(SERVICE) == health_pb2.HealthCheckResponse.NOT_SERVING
        assert await health_of("") == health_pb2.HealthCheckResponse.SERVING  # the process itself is fine

        await eventually(lambda: tape.seqs[-1] == handler.arbitrator.next_seq - 1)  # what was on its way
        during = len(tape.seqs)
        await asyncio.sleep(1.2)  # longer than staleAfterMs: nothing at all may be sent meanwhile
        assert len(tape.seqs) == during, "updates kept flowing while every line was down"
        report = await stub.GetFeedStatus(pb.GetFeedStatusRequest())
        assert sorted(report.stale_symbols) == ["AAPL", "KO", "MSFT"]
        assert sorted(report.feeds[0].stale_symbols) == ["AAPL", "KO", "MSFT"]
        quote = await stub.GetQuote(pb.GetQuoteRequest(symbol="AAPL"))
        assert quote.stale

        handler.enable_line("B")
        handler.enable_line("A")
        await eventually(lambda: handler.monitor.health == "LIVE", 3)
        await eventually(lambda: service._serving is True, 1)
        assert await health_of(SERVICE) == health_pb2.HealthCheckResponse.SERVING
        await tape.wait_for(during + 3_000)
        report = await stub.GetFeedStatus(pb.GetFeedStatusRequest())
        assert report.serving and not report.stale_symbols
        assert report.feeds[0].lost == 0 and report.feeds[0].gaps == 0
        await tape.close()
        tape.assert_complete()  # the lines resent what was published during the outage


async def test_a_line_losing_messages_is_filled_by_the_other_in_order(start: Starter) -> None:
    def fault(feed: str, line: str, seq: int) -> bool:
        return (line == "A" and seq % 2 == 1) or (line == "B" and seq % 4 == 0)  # never both

    _, _, stub = await start(ab_desk(), subscriber_bound=1_000_000, line_fault=fault)
    tape = Tape(stub)
    await tape.wait_for(3_000)
    st = await status(stub)
    assert st.gaps > 0 and st.recovered > 0 and st.lost == 0
    assert st.health == pb.FEED_HEALTH_LIVE
    await tape.close()
    tape.assert_complete()


async def test_losses_on_both_lines_are_given_up_after_the_bound_and_repaired_by_snapshot(start: Starter) -> None:
    lost = set(range(500, 520))

    def fault(feed: str, line: str, seq: int) -> bool:
        return seq in lost

    service, _, stub = await start(ab_desk(), subscriber_bound=1_000_000, line_fault=fault)
    tape = Tape(stub)
    await eventually(lambda: service.handlers["vendor-a"].snapshot_recoveries == 1, 5)
    st = await status(stub)
    assert st.lost == len(lost) and st.gaps >= 1 and st.snapshot_recoveries == 1
    await tape.wait_for(600)
    await tape.close()
    assert [s for s in tape.seqs if 480 <= s < 560] == [s for s in range(480, 560) if s not in lost]


async def test_batched_subscription_carries_the_same_complete_stream(start: Starter) -> None:
    service, _, stub = await start(ab_desk(), subscriber_bound=1_000_000)
    handler = service.handlers["vendor-a"]
    await eventually(lambda: handler.published > 100)
    call = stub.SubscribeBatches(pb.SubscribeRequest(symbols=["AAPL", "MSFT", "KO"]))
    seqs: list[int] = []
    snapshots = 0
    sizes: list[int] = []
    async for batch in call:
        sizes.append(len(batch.events))
        for event in batch.events:
            if event.snapshot:
                snapshots += 1
                assert not seqs, "the snapshot comes first"
                continue
            seqs.append(event.quote.seq if event.WhichOneof("event") == "quote" else event.trade.seq)
        if len(seqs) >= 3_000:
            break
    call.cancel()
    assert snapshots == 3
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert max(sizes) > 1  # bursts travel as one message
