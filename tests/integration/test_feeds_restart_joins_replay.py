"""A SIGKILLed feeds process, restarted by the supervisor, joins the desk's replay where the desk's clock is: its
first numbers continue past where the killed one stopped, instead of starting the session's data again from
its opening (which, at 100x, sent the busy opening at once and held routing's loop for seconds)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.desk_runner import DeskProcess, RunningDesk, wait_for, wait_until, write_desk
from tests.integration.test_supervision import restarted, sigkill, status
from tradingdesk.core.clock import NS_PER_SECOND
from tradingdesk.edge.clock import REPLAY_ORIGIN_ENV, desk_clock
from tradingdesk.v1 import market_data_pb2, market_data_pb2_grpc

pytestmark = pytest.mark.slow
SPEED = "20"
FEED = "vendor-a"


def fast_replay(doc: dict) -> None:
    for feed in doc["spec"]["feeds"]:
        feed["replay"]["speed"] = SPEED
    doc["spec"]["supervision"] = {"restartBackoffInitialMs": 200}


async def test_a_restarted_feeds_process_continues_where_the_replay_is(tmp_path: Path) -> None:
    desk = DeskProcess(write_desk(tmp_path, fast_replay))
    try:
        desk.wait_up()
        wait_until(lambda: len(status(desk).get("services", {})) == 5, timeout=30, what="the supervisor's status")

        async def next_seq() -> int:
            async with desk.aio_channel("feeds") as channel:
                report = await market_data_pb2_grpc.MarketDataServiceStub(channel).GetFeedStatus(
                    market_data_pb2.GetFeedStatusRequest(), timeout=5
                )
            return next(f.next_seq for f in report.feeds if f.feed == FEED)

        async def at_least(n: int) -> int | None:
            try:
                seq = await next_seq()
            except Exception:  # restarting: not serving yet
                return None
            return seq if seq > n else None

        # past edge.clock.JOIN_AFTER_WALL_S (10 s) of the desk's replay: about 4,700 messages a second at 20x
        before = await wait_for(lambda: at_least(80_000), timeout=180, what="the replay's first 80,000 messages")
        sigkill(desk, "feeds")
        await wait_for(lambda: restarted(desk, "feeds"), timeout=60, what="feeds restarted")
        first = await wait_for(lambda: at_least(1), timeout=60, what="the restarted feed's first messages")
        assert first > before, f"the restarted feed started again at {first}, behind {before} where it was killed"
    finally:
        desk.stop()


async def test_a_feed_started_before_the_replay_begins_starts_with_the_desks_clock(tmp_path: Path) -> None:
    """``tradingdesk simulate`` sets the replay's origin past the desk's warm-up. The feeds process starts before it
    and must wait for it: playing from its own start, its data ran ahead of the desk's clock by the whole warm-up
    (50 market minutes at 100x), so the close's busy minutes met the strategy clients' closing burst."""
    origin = time.time_ns() + 25 * NS_PER_SECOND
    env = {REPLAY_ORIGIN_ENV: str(origin)}
    desk = RunningDesk(write_desk(tmp_path, fast_replay), env=env)
    await desk.start()
    try:
        clock = desk_clock(desk.desk, env)
        async with desk.channel("feeds") as channel:
            feeds = market_data_pb2_grpc.MarketDataServiceStub(channel)

            async def quotes() -> list[market_data_pb2.Quote] | None:
                snapshot = await feeds.GetSnapshot(market_data_pb2.GetSnapshotRequest(), timeout=5)
                return list(snapshot.quotes) or None

            async def quiet_until_near_the_origin() -> bool:  # the desk is up: its feed waits for the replay
                assert await quotes() is None, "the feed sent data before the desk's replay began"
                return time.time_ns() >= origin - 2 * NS_PER_SECOND

            await wait_for(quiet_until_near_the_origin, timeout=40, interval=0.5, what="the replay's origin")
            first = await wait_for(quotes, timeout=60, what="the feed's first quotes")
            now = clock.now_ns()
        assert time.time_ns() >= origin
        newest = max(q.vendor_time_ns for q in first)
        ahead_s = (newest - now) / NS_PER_SECOND
        assert ahead_s < 60, f"the feed's data is {ahead_s:.0f} s of market time ahead of the desk's clock"
    finally:
        await desk.stop()
