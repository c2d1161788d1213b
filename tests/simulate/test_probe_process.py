"""The probe in a process of its own (``simulate/probe_process.py``), against real gRPC servers on loopback that
stand in for feeds (a snapshot of every instrument) and routing (acknowledges probes, refuses one in three): its
records reach the simulation's log as ``probes.jsonl`` and ``acks.jsonl`` were written before, and a probe process
that dies is said and raised, not counted silently as seconds without a probe."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from tests.desk_runner import free_ports, wait_for, wait_until, write_desk
from tradingdesk.core.clock import NS_PER_SECOND, ManualClock
from tradingdesk.core.fixed import parse_fixed
from tradingdesk.simulate.clients import ClientLog, OrderFactory, Prices, Probe
from tradingdesk.simulate.probe_process import ProbeConfig, ProbeProcess, ProbeProcessDied
from tradingdesk.spec.domain import instruments_of
from tradingdesk.spec.load import load_desk
from tradingdesk.v1 import common_pb2, market_data_pb2, market_data_pb2_grpc, orders_pb2, orders_pb2_grpc

START_TIMEOUT_S = 60.0
"""Bounds the wait for a child interpreter to import the desk's code on a loaded machine."""
REFUSE_EVERY = 3


class Feeds(market_data_pb2_grpc.MarketDataServiceServicer):
    def __init__(self, symbols: list[str]) -> None:
        self.symbols = symbols
        self.failing = False
        """While set, every snapshot is refused UNAVAILABLE, as a feeds process that is restarting would be."""
        self.refused = 0
        self.answered = 0

    async def GetSnapshot(self, request, context):
        if self.failing:
            self.refused += 1
            await context.abort(grpc.StatusCode.UNAVAILABLE, "feeds is restarting")
        self.answered += 1
        now = time.time_ns()
        quotes = [
            market_data_pb2.Quote(symbol=s, bid_price="100", last_price="100", vendor_time_ns=now + i)
            for i, s in enumerate(self.symbols)
        ]
        return market_data_pb2.Snapshot(quotes=quotes)


class Routing(orders_pb2_grpc.OrderServiceServicer):
    def __init__(self) -> None:
        self.received: list[orders_pb2.SubmitOrderRequest] = []

    async def SubmitOrder(self, request, context):
        self.received.append(request)
        if len(self.received) % REFUSE_EVERY == 0:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "HALTED: the desk is halted")
        return orders_pb2.OrderAck(order_id=f"o-{request.client_order_id}", client_order_id=request.client_order_id)


@pytest.fixture
async def desk(tmp_path: Path):
    """Fake feeds and routing on loopback, and a probe process pointed at them (started, not yet probing)."""
    spec = write_desk(tmp_path)
    symbols = sorted(instruments_of(load_desk(spec)))
    feeds_port, routing_port = free_ports(2)
    routing = Routing()
    feeds = Feeds(symbols)
    server = grpc.aio.server()
    market_data_pb2_grpc.add_MarketDataServiceServicer_to_server(feeds, server)
    orders_pb2_grpc.add_OrderServiceServicer_to_server(routing, server)
    server.add_insecure_port(f"127.0.0.1:{feeds_port}")
    server.add_insecure_port(f"127.0.0.1:{routing_port}")
    await server.start()
    config = ProbeConfig(
        routing=f"127.0.0.1:{routing_port}",
        feeds=f"127.0.0.1:{feeds_port}",
        spec_path=str(spec),
        origin_ns=time.time_ns(),
        account="acct",
        run_id="simtest",
        speed=20,
        timeout_s=1.0,
        records=str(tmp_path / "logs" / "probe.jsonl"),
        prices_timeout_s=START_TIMEOUT_S,
    )
    said: list[str] = []
    log = ClientLog()
    probe = ProbeProcess(config, log=log, stderr_path=tmp_path / "logs" / "probe.log", say=said.append)
    await probe.start()
    assert await asyncio.wait_for(probe.ready(), START_TIMEOUT_S)
    try:
        yield probe, routing, log, said, feeds
    finally:
        await probe.kill()
        await server.stop(None)


async def test_the_probe_processs_records_reach_the_simulations_log(desk) -> None:
    probe, routing, log, said, _ = desk
    running = asyncio.create_task(probe.run())
    await wait_for(lambda: len(routing.received) >= 2 * REFUSE_EVERY, START_TIMEOUT_S, what="probes at routing")
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert said == [] and log.crashed == []

    # every probe routing answered is in the log, and nothing else (none was in flight once it stopped)
    assert len(log.probes) == len(routing.received)
    sent = {r.client_order_id: r for r in routing.received}
    assert all(r.time_in_force == common_pb2.TIME_IN_FORCE_IOC for r in sent.values())
    assert all(cid.startswith("simtest-probe-") for cid in sent)
    acked = [p for p in log.probes if p["acked"]]
    refused = [p for p in log.probes if not p["acked"]]
    assert len(refused) == len(routing.received) // REFUSE_EVERY
    assert all(p.keys() == {"market_ns", "acked", "ms", "code"} and p["code"] == "OK" for p in acked)
    assert all(p["ms"] >= 0 for p in acked)
    for p in refused:  # the same record as in the simulation's process: code, symbol, and why
        assert p.keys() == {"market_ns", "acked", "ms", "code", "symbol", "why"}
        assert (p["code"], p["why"], p["ms"]) == ("FAILED_PRECONDITION", "HALTED: the desk is halted", None)
    # each acknowledged probe is an acknowledged order, for the verdict's lost-order line
    assert len(log.acked) == len(acked)
    for ack in log.acked:
        assert ack.via == "probe" and ack.order_id == f"o-{ack.client_order_id}" and ack.client_order_id in sent
    assert sorted(a.market_ns for a in log.acked) == sorted(p["market_ns"] for p in acked)


async def test_a_probe_process_that_dies_is_said_and_raised(desk) -> None:
    probe, routing, log, said, _ = desk
    running = asyncio.create_task(probe.run())
    await wait_for(lambda: len(routing.received) >= 2, START_TIMEOUT_S, what="probes at routing")
    os.kill(probe.pid, signal.SIGKILL)
    with pytest.raises(ProbeProcessDied, match="killed by SIGKILL"):
        await asyncio.wait_for(running, START_TIMEOUT_S)
    assert len(said) == 1 and said[0].startswith("SIMULATION PROBE FAILED: the probe process exited during the run")
    assert log.probes, "what it recorded before it died is kept"


async def test_failed_snapshots_are_said_in_the_log_and_counted_and_the_probes_go_on(desk) -> None:
    """The probe prices its orders from its own market-data snapshots: while they fail it probes on with the last
    answer's prices, each failure a line of probe.log and a count by code in the simulation's log (for
    clients.json and the report), where they used to be swallowed without a trace."""
    probe, routing, log, said, feeds = desk
    running = asyncio.create_task(probe.run())
    await wait_for(lambda: len(routing.received) >= 2, START_TIMEOUT_S, what="probes at routing")
    feeds.failing = True
    sent = len(routing.received)
    await wait_for(lambda: feeds.refused >= 3, START_TIMEOUT_S, what="snapshots refused")
    await wait_for(lambda: len(routing.received) >= sent + 3, START_TIMEOUT_S, what="probes while snapshots fail")
    feeds.failing = False
    refused, answered = feeds.refused, feeds.answered
    # the probe process asks one snapshot at a time: one answered after them, it has taken every refusal in
    await wait_for(lambda: feeds.answered > answered, START_TIMEOUT_S, what="a snapshot answered again")
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert said == [] and log.crashed == []

    assert log.probe_snapshot_failures == {"UNAVAILABLE": refused}
    assert len(log.probes) == len(routing.received), "a probe second is neither skipped nor NO_PROBE"
    lines = probe.stderr_path.read_text().splitlines()
    failed = [line for line in lines if line.startswith("GetSnapshot failed at market ")]
    assert len(failed) == refused and all("during the run: UNAVAILABLE: feeds is restarting" in f for f in failed)
    assert lines[-1] == f"GetSnapshot failed {refused} time(s) in all: UNAVAILABLE {refused}"


PARENT = """
import asyncio, sys
from pathlib import Path
from tradingdesk.simulate.clients import ClientLog
from tradingdesk.simulate.probe_process import ProbeConfig, ProbeProcess

async def main():
    config = ProbeConfig(routing="127.0.0.1:9", feeds="127.0.0.1:9", spec_path=sys.argv[1], origin_ns=0,
        account="acct", run_id="simtest", speed=20, timeout_s=1.0, records=sys.argv[2] + "/probe.jsonl",
        prices_timeout_s=600.0)
    probe = ProbeProcess(config, log=ClientLog(), stderr_path=Path(sys.argv[2]) / "probe.log", say=print)
    await probe.start()
    print(probe.pid, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def _gone(pid: int) -> bool:
    """Exited (a zombie no one reaped counts: it runs no more)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_the_probe_process_dies_with_the_simulation(tmp_path: Path) -> None:
    spec = write_desk(tmp_path)
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(spec), str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        child = int(parent.stdout.readline())
        assert not _gone(child)
        parent.kill()  # SIGKILL: the simulation has no chance to stop its probe
        parent.wait()
        wait_until(lambda: _gone(child), START_TIMEOUT_S, what=f"probe process {child} to die with its parent")
    finally:
        parent.kill()
        parent.wait()


@pytest.mark.parametrize(
    ("market_s", "wall_ms"), [(10.0, 2.0), (10.1, 1.0), (10.1999999, 0.0), (10.2, 10.0), (10.5, 7.0), (10.9, 3.0)]
)
def test_the_metronome_probes_a_fifth_of_a_second_into_each_market_second(market_s: float, wall_ms: float) -> None:
    """At 100x a market second is 10 ms of wall time: from the open (a second's boundary) it waits 2 ms, so that a
    probe up to 8 ms late or 2 ms early is still counted in its own second; from that point on, the next
    second's."""
    clock = ManualClock(round(market_s * NS_PER_SECOND))
    probe = Probe("127.0.0.1:9", None, record=print, clock=clock, speed=100, timeout_s=1.0)
    assert probe._to_next_probe_s() == pytest.approx(wall_ms / 1000, abs=1e-6)


def test_no_order_and_no_probe_after_the_close_of_the_session_simulated() -> None:
    """The replay clock goes from the close to the next session's open: orders then would trade a day the run does
    not judge (the full day of December 5 sent some, and the next open's marks halted the desk under them)."""
    instruments = instruments_of(load_desk(Path(__file__).resolve().parents[2] / "examples" / "desk.yaml"))
    prices = Prices("127.0.0.1:9", instruments)
    prices.bids["AAPL"] = parse_fixed("189.50")
    close = 1_000 * NS_PER_SECOND
    clock = ManualClock(close - NS_PER_SECOND)
    factory = OrderFactory(prices, account="ACC-EQ-2", run_id="sim1", until_ns=close, now=clock.now_ns)
    assert factory.submit("sim-unary", tag="u") is not None and not factory.closed()
    clock.set(close)
    assert factory.closed() and factory.submit("sim-unary", tag="u") is None
    records: list[dict] = []
    probe = Probe("127.0.0.1:9", factory, record=lambda r, _: records.append(r), clock=clock, speed=5, timeout_s=1.0)
    probe._send(None, clock.now_ns())
    assert records == [{"market_ns": close, "acked": False, "ms": None, "code": "SESSION_CLOSED"}]
    assert OrderFactory(prices, account="ACC-EQ-2", run_id="sim1").submit("sim-unary", tag="u") is not None, "no end"
