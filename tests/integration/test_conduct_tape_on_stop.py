"""The market tape at a stop: compliance's conduct watch, reading market data from a real gRPC server on loopback
that stands in for feeds, into a real SQLite store. A watch behind on the stream (each event it reads was taken in
by feeds two seconds earlier, as on a loaded machine) goes on reading on a stop until the tape reaches the stop's
instant; before, it stopped at once and the tape ended two seconds early, a hole the market never had (the
simulation's verdict counted one as a market data gap and orders against stale data). A silent stream does not
hold the stop up, and one too far behind is given up after the bound, with a line saying how far the tape got."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import grpc
import pytest

from tests.desk_runner import free_ports
from tests.waiting import wait_for
from tradingdesk.compliance import conduct
from tradingdesk.compliance.conduct import ConductWatch
from tradingdesk.core.clock import NS_PER_SECOND, WallClock
from tradingdesk.edge.directory import ServiceDirectory
from tradingdesk.markets.calendar_source import load_calendar
from tradingdesk.spec import parse_desk
from tradingdesk.storage.conduct_store import ConductStore
from tradingdesk.storage.db import make_engine, migrate
from tradingdesk.v1 import market_data_pb2, market_data_pb2_grpc

PACE_S = 0.02


class Feeds(market_data_pb2_grpc.MarketDataServiceServicer):
    """A quote of AAPL every ``PACE_S``, each with a new top of book, stamped ``lag_s`` before it is sent: what a
    subscriber that far behind the feeds service reads. ``quiet``: one quote, then nothing."""

    def __init__(self, *, lag_s: float, quiet: bool = False) -> None:
        self.lag_ns = int(lag_s * NS_PER_SECOND)
        self.quiet = quiet

    async def SubscribeBatches(self, request, context):
        n = 0
        while True:
            n += 1
            quote = market_data_pb2.Quote(
                symbol="AAPL", bid_price=f"100.{n % 100:02d}", ask_price="101", bid_quantity="100", ask_quantity="100"
            )
            event = market_data_pb2.MarketDataEvent(quote=quote, desk_time_ns=time.time_ns() - self.lag_ns)
            yield market_data_pb2.MarketDataBatch(events=[event])
            if self.quiet:
                await asyncio.Event().wait()  # until the subscriber goes away
            await asyncio.sleep(PACE_S)


def desk():
    return parse_desk(
        {
            "apiVersion": "tradingdesk.io/v1alpha1",
            "kind": "TradingDesk",
            "metadata": {"name": "tape"},
            "spec": {
                "instruments": [{"symbol": "AAPL"}],
                "accounts": [{"name": "ACC"}],
                "feeds": [{"name": "f"}],
                "venues": [{"name": "xnys"}],
            },
        }
    )


@pytest.fixture
async def watch_of(tmp_path: Path):
    """Starts a conduct watch whose feeds is the given stand-in (its routing is a port nobody listens on: the
    journal's subscription just retries); stops what it started."""
    servers: list[grpc.aio.Server] = []
    watches: list[ConductWatch] = []

    async def start(feeds: Feeds) -> tuple[ConductWatch, ConductStore]:
        feeds_port, routing_port = free_ports(2)
        server = grpc.aio.server()
        market_data_pb2_grpc.add_MarketDataServiceServicer_to_server(feeds, server)
        server.add_insecure_port(f"127.0.0.1:{feeds_port}")
        await server.start()
        servers.append(server)
        engine = make_engine(f"sqlite:///{tmp_path / 'conduct.db'}")
        migrate(engine)
        store = ConductStore(engine)
        spec = desk()
        directory = ServiceDirectory({"feeds": f"127.0.0.1:{feeds_port}", "routing": f"127.0.0.1:{routing_port}"})
        calendar = load_calendar("XNYS")
        watch = ConductWatch(spec, store=store, clock=WallClock(), calendars={"AAPL": calendar}, directory=directory)
        await watch.start()
        watches.append(watch)
        await watch.wait_ready()
        await wait_for(lambda: store.tape(), what="the first quotes on the tape")
        return watch, store

    yield start
    for watch in watches:
        await watch.stop()
    for server in servers:
        await server.stop(None)


def last_on_tape(store: ConductStore) -> int:
    return max(ev.ts_ns for ev in store.tape())


async def test_a_watch_behind_on_market_data_reads_it_to_the_stop_before_stopping(watch_of) -> None:
    watch, store = await watch_of(Feeds(lag_s=2.0))
    stop_asked = time.time_ns()
    await watch.stop()
    # before: the tape ended with what had been read, all of it taken in by feeds two seconds before the stop
    assert last_on_tape(store) >= stop_asked


async def test_a_silent_stream_does_not_hold_the_stop(watch_of) -> None:
    watch, store = await watch_of(Feeds(lag_s=0.0, quiet=True))
    await watch.stop()
    assert len(store.tape()) == 1


async def test_a_stream_too_far_behind_is_given_up_after_the_bound_and_said(watch_of, monkeypatch, caplog) -> None:
    monkeypatch.setattr(conduct, "DRAIN_BOUND_S", 1.0)
    watch, store = await watch_of(Feeds(lag_s=30.0))
    stop_asked = time.time_ns()
    with caplog.at_level(logging.WARNING, logger=conduct.__name__):
        await watch.stop()
    assert last_on_tape(store) < stop_asked
    said = [r.getMessage() for r in caplog.records if "market data unread" in r.getMessage()]
    assert len(said) == 1 and said[0].endswith("s before the stop"), said
