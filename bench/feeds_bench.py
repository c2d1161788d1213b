"""Feed benchmarks, each against a baseline measured in the same run.

* ``feed_ingest_rate`` (ticks/s): the same pre-encoded frames of a synthetic session sent as fast as possible
  on an A/B pair of WebSocket lines into a running MarketDataService (decode, line checks, arbitration,
  outlier filter, state); baseline: a raw TCP reader of the same frames on two connections.
* ``feed_fanout_p99_us`` / ``feed_fanout_10_p99_us``: from a tick's receipt by the feed handler (the quote's
  ``receive_time_ns``) to its arrival at 1 / 10 ``SubscribeBatches`` subscribers in another process, ticks
  paced at ``FANOUT_RATE`` on each line; ``feed_fanout_events_p99_us`` / ``feed_fanout_events_10_p99_us`` /
  ``feed_fanout_events_100_p99_us``: the same through ``Subscribe`` (one gRPC message per event) with 1 / 10 /
  100 subscribers. Baseline for each: a raw socket relay that stamps each frame on receipt and writes it to
  as many plain TCP subscribers in another process, measured just before. A subscriber that falls behind is
  conflated (fanout.py), and a latency measured only on what survived would flatter the service: each
  service figure says on stderr how many quotes were conflated and trades dropped.
* ``..._cpu_us`` beside each fan-out figure: CPU of the service process per event a subscriber received
  (from its start to the end of the measurement, so ingest is included); baseline: the relay's CPU per frame
  a subscriber received. On a shared machine latency is mostly queueing behind other work; CPU per delivery
  is the cost that queueing is made of, and load barely moves it.
* ``feed_failover_ms``: the primary line stalls silently (connected, nothing sent, the hardest failure to
  see); time from the stall to the backup line becoming active, worst of ``FAILOVER_TRIALS``; baseline:
  the configured ``failoverAfterMs``.

The sender (a WebSocket or raw TCP server) and the subscribers run in processes of their own, as a vendor and
clients would. ``python -m bench.feeds_bench`` runs this module alone, ``python -m bench.feeds_bench fanout``
the fan-out figures only.
"""

from __future__ import annotations

import asyncio
import json
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc

from bench.report import figure
from tests.desk_runner import free_ports
from tradingdesk.feeds import wire
from tradingdesk.feeds.events import FeedMessage, MarketEvent
from tradingdesk.feeds.service import MarketDataService
from tradingdesk.feeds.synthetic import generate_session
from tradingdesk.feeds.vendor import VendorServer
from tradingdesk.runtime.loop import run as run_loop
from tradingdesk.runtime.service import start_service
from tradingdesk.spec import TradingDesk, parse_desk
from tradingdesk.spec.domain import instruments_of
from tradingdesk.v1 import market_data_pb2 as pb
from tradingdesk.v1 import market_data_pb2_grpc as pb_grpc

INGEST_TICKS = 200_000
INGEST_BATCH = 100
FANOUT_RATE = 2_000
FANOUT_SECONDS = 4.0
FANOUT_WARMUP = 500
FAILOVER_TRIALS = 5
FAILOVER_MS = 250
SYMBOLS = (
    ("AAPL", "189.50"),
    ("MSFT", "415.20"),
    ("NVDA", "121.40"),
    ("AMZN", "182.30"),
    ("GOOGL", "171.10"),
    ("META", "502.60"),
    ("JPM", "198.70"),
    ("XOM", "114.90"),
    ("JNJ", "152.40"),
    ("PG", "166.80"),
    ("KO", "62.35"),
    ("SPY", "548.20"),
)
HEADER = struct.Struct("<qI")  # receipt stamp (relay) or 0, frame length


def desk(feed: dict[str, Any]) -> TradingDesk:
    return parse_desk(
        {
            "apiVersion": "tradingdesk.io/v1alpha1",
            "kind": "TradingDesk",
            "metadata": {"name": "feeds-bench"},
            "spec": {
                "instruments": [{"symbol": s, "referencePrice": p} for s, p in SYMBOLS],
                "accounts": [{"name": "ACC-1"}],
                "feeds": [feed],
                "venues": [{"name": "xnys"}],
            },
        }
    )


def ws_feed(port: int) -> dict[str, Any]:
    lines = [{"name": line, "url": f"ws://127.0.0.1:{port}/{line}"} for line in "AB"]
    return {"name": "bench", "kind": "websocket", "lines": lines, "failoverAfterMs": FAILOVER_MS}


def session_events() -> Iterator[MarketEvent]:
    instruments = list(instruments_of(desk(ws_feed(1))).values())
    return generate_session(instruments, seed=7, session_seconds=23_400)


def frames(ticks: int, batch: int) -> list[bytes]:
    """The first ``ticks`` events of the session as wire frames of ``batch`` messages, numbered from 1."""
    start = 1_700_000_000 * 10**9
    out: list[bytes] = []
    msgs: list[FeedMessage] = []
    for seq, event in enumerate(session_events(), start=1):
        msgs.append(FeedMessage("", seq, start + event.ts_ns, event))
        if len(msgs) == batch:
            out.append(wire.encode_frame(msgs).encode())
            msgs = []
        if seq == ticks:
            break
    if msgs:
        out.append(wire.encode_frame(msgs).encode())
    return out


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p * len(s)))]


# -- processes ---------------------------------------------------------------------------------------------


def spawn(*args: object) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.feeds_bench", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # a killed sender's connection errors are not news
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", "helper process failed to start"
    return proc


async def sender_main(kind: str, port: int, ticks: int, batch: int, rate: float) -> None:
    """Serves the frames to every connection (WebSocket path /A or /B, or raw TCP), at ``rate`` ticks/s or
    as fast as possible (``rate`` 0)."""
    data = frames(ticks, batch)
    interval = batch / rate if rate else 0.0

    async def pace(send) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for i, frame in enumerate(data):
            if interval:
                delay = t0 + i * interval - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            await send(frame)

    if kind == "ws":
        from websockets.asyncio.server import serve

        async def handler(ws) -> None:
            await ws.recv()  # the subscribe request
            await pace(lambda f: ws.send(f.decode()))
            await ws.wait_closed()

        server = await serve(handler, "127.0.0.1", port, compression=None, max_size=1 << 20)
    else:

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            async def send(frame: bytes) -> None:
                writer.write(HEADER.pack(0, len(frame)) + frame)
                await writer.drain()

            await pace(send)
            writer.close()

        server = await asyncio.start_server(handler, "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await asyncio.Event().wait()


async def subscribers_main(kind: str, address: str, count: int, seconds: float) -> None:
    """``count`` subscribers of one process; prints the latencies (us) of the quotes after the warm-up, how
    many events they received in all (quotes, trades, snapshots; across reconnections) and the CPU of this
    process per event received after the warm-up (us): the subscribers share one process, one core at most, so
    their own cost is part of every latency measured here."""
    latencies: list[float] = []
    received = 0
    print("ready", flush=True)

    def record(event: pb.MarketDataEvent, now: int) -> None:
        nonlocal received
        received += 1
        if not event.snapshot and event.WhichOneof("event") == "quote":
            latencies.append((now - event.quote.receive_time_ns) / 1000)

    async def grpc_one() -> None:
        while True:
            try:
                async with grpc.aio.insecure_channel(address) as channel:
                    stub = pb_grpc.MarketDataServiceStub(channel)
                    if kind == "batches":
                        async for batch in stub.SubscribeBatches(pb.SubscribeRequest()):
                            now = time.time_ns()
                            for event in batch.events:
                                record(event, now)
                    else:
                        async for event in stub.Subscribe(pb.SubscribeRequest()):
                            record(event, time.time_ns())
            except grpc.aio.AioRpcError:
                await asyncio.sleep(0.05)

    async def tcp_one() -> None:
        nonlocal received
        host, port = address.rsplit(":", 1)
        reader, _ = await asyncio.open_connection(host, int(port))
        while True:
            stamp, size = HEADER.unpack(await reader.readexactly(HEADER.size))
            await reader.readexactly(size)
            latencies.append((time.time_ns() - stamp) / 1000)
            received += 1

    tasks = [asyncio.create_task(tcp_one() if kind == "tcp" else grpc_one()) for _ in range(count)]
    while len(latencies) < FANOUT_WARMUP * count:
        await asyncio.sleep(0.01)
    start, received0, cpu0 = len(latencies), received, time.process_time()
    await asyncio.sleep(seconds)
    cpu_us = (time.process_time() - cpu0) * 1e6 / max(1, received - received0)
    print(json.dumps({"latencies": latencies[start:], "received": received, "cpu_us": cpu_us}), flush=True)
    for task in tasks:
        task.cancel()


# -- measurements --------------------------------------------------------------------------------------------


async def ingest_rate() -> tuple[float, float]:
    port, raw_port = free_ports(2)
    ws = spawn("sender", "ws", port, INGEST_TICKS, INGEST_BATCH, 0)
    tcp = spawn("sender", "tcp", raw_port, INGEST_TICKS, INGEST_BATCH, 0)
    try:
        t0 = time.perf_counter()

        async def read_all() -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", raw_port)
            for _ in range((INGEST_TICKS + INGEST_BATCH - 1) // INGEST_BATCH):
                _, size = HEADER.unpack(await reader.readexactly(HEADER.size))
                await reader.readexactly(size)
            writer.close()

        await asyncio.gather(read_all(), read_all())  # two lines' worth, like an A/B pair
        baseline = INGEST_TICKS / (time.perf_counter() - t0)

        service = MarketDataService(desk(ws_feed(port)))
        running = await start_service(service, "127.0.0.1:0")
        handler = service.handlers["bench"]
        while handler.published == 0:
            await asyncio.sleep(0.0005)
        t0 = time.perf_counter()
        while handler.arbitrator.next_seq <= INGEST_TICKS:
            await asyncio.sleep(0.0005)
        rate = (INGEST_TICKS - 1) / (time.perf_counter() - t0)
        assert handler.arbitrator.lost == 0 and handler.published == INGEST_TICKS, "ingest lost ticks"
        await service.stop()
        await running.stop(0.1)
    finally:
        for proc in (ws, tcp):
            proc.kill()
            proc.wait()
    return rate, baseline


@dataclass(frozen=True)
class Fanout:
    p99_us: float
    """Receipt to arrival at a subscriber, 99th percentile."""
    cpu_us: float
    """CPU of the relaying process (every thread) per event a subscriber received: unlike latency, what a
    shared machine's load barely moves, so it shows what a change costs when the latency is all queueing."""


async def relay_p99(count: int) -> Fanout:
    """The baseline: a raw socket relay stamping each frame on receipt and writing it to ``count`` sockets."""
    ticks = int(FANOUT_RATE * (FANOUT_SECONDS + 10))
    relay_port, sender_port = free_ports(2)
    writers: list[asyncio.StreamWriter] = []

    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)

    relay = await asyncio.start_server(accept, "127.0.0.1", relay_port)
    subs = spawn("subscribers", "tcp", f"127.0.0.1:{relay_port}", count, FANOUT_SECONDS)
    sender = spawn("sender", "tcp", sender_port, ticks, 1, FANOUT_RATE)
    try:
        while len(writers) < count:
            await asyncio.sleep(0.01)
        reader, _ = await asyncio.open_connection("127.0.0.1", sender_port)

        async def forward() -> None:
            while True:
                _, size = HEADER.unpack(await reader.readexactly(HEADER.size))
                frame = await reader.readexactly(size)
                out = HEADER.pack(time.time_ns(), size) + frame
                for w in writers:
                    w.write(out)

        cpu0 = time.process_time()
        task = asyncio.create_task(forward())
        latencies, received, subscribers_cpu_us = await read_subscribers(subs)
        cpu = time.process_time() - cpu0
        task.cancel()
        print(f"# relay x{count}: the subscribers' process: {subscribers_cpu_us:.1f} us CPU per frame", file=sys.stderr)
    finally:
        relay.close()
        for proc in (sender, subs):
            proc.kill()
            proc.wait()
    return Fanout(percentile(latencies, 0.99), cpu * 1e6 / received)


async def service_p99(count: int, stream: str) -> Fanout:
    """From receipt by the feed handler to ``count`` gRPC subscribers (``Subscribe`` or ``SubscribeBatches``)."""
    ticks = int(FANOUT_RATE * (FANOUT_SECONDS + 10))
    ws_port, grpc_port = free_ports(2)
    sender = spawn("sender", "ws", ws_port, ticks, 1, FANOUT_RATE)
    subs = spawn("subscribers", stream, f"127.0.0.1:{grpc_port}", count, FANOUT_SECONDS)
    cpu0 = time.process_time()
    service = MarketDataService(desk(ws_feed(ws_port)))
    running = await start_service(service, f"127.0.0.1:{grpc_port}")
    try:
        latencies, received, subscribers_cpu_us = await read_subscribers(subs)
        cpu = time.process_time() - cpu0
        stats = service.subscriber_stats()
        conflated = sum(s.conflated_quotes for s in stats)
        dropped = sum(s.dropped_trades for s in stats)
        print(
            f"# {stream} x{count}: {conflated} quotes conflated, {dropped} trades dropped; the subscribers' process: "
            f"{subscribers_cpu_us:.1f} us CPU per event",
            file=sys.stderr,
        )
        return Fanout(percentile(latencies, 0.99), cpu * 1e6 / received)
    finally:
        await service.stop()
        await running.stop(0.1)
        for proc in (sender, subs):
            proc.kill()
            proc.wait()


async def read_subscribers(proc: subprocess.Popen[str]) -> tuple[list[float], int, float]:
    """The subscribers' latencies (us), how many events they received in all, and their process's CPU per event
    received after the warm-up (us)."""
    assert proc.stdout is not None
    line = await asyncio.to_thread(proc.stdout.readline)
    out = json.loads(line)
    if not out["latencies"]:
        raise RuntimeError("the subscribers received nothing")
    return out["latencies"], out["received"], out["cpu_us"]


async def failover_ms() -> float:
    instruments = list(instruments_of(desk(ws_feed(1))).values())
    vendor = await VendorServer(
        lambda: generate_session(instruments, seed=7, session_seconds=23_400), speed=20, heartbeat_ms=50
    ).start()
    service = MarketDataService(desk(ws_feed(vendor.port)))
    running = await start_service(service, "127.0.0.1:0")
    handler = service.handlers["bench"]
    worst = 0.0
    try:
        for trial in range(FAILOVER_TRIALS):
            while not (handler.health == "LIVE" and handler.monitor.active == "A"):
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)
            stalled_ns = time.time_ns()
            vendor.pause("A")
            while handler.monitor.failovers <= trial:
                await asyncio.sleep(0.001)
            switch = handler.monitor.switches[-1]
            worst = max(worst, (switch.at_ns - stalled_ns) / 1e6)
            await asyncio.sleep(0.1)
            vendor.resume("A")
        if handler.arbitrator.lost:
            raise RuntimeError(f"failover lost {handler.arbitrator.lost} updates")
    finally:
        await service.stop()
        await running.stop(0.1)
        await vendor.stop()
    return worst


FANOUT_CASES = ((1, "", ("batches", "events")), (10, "_10", ("batches", "events")), (100, "_100", ("events",)))
"""(subscribers, name suffix, streams measured): per-event streams are the common case, so they go to 100."""


async def fanout_rows() -> list[dict]:
    rows = []
    for count, suffix, streams in FANOUT_CASES:
        base = await relay_p99(count)
        for stream in streams:
            name = f"feed_fanout{suffix}" if stream == "batches" else f"feed_fanout_events{suffix}"
            measured = await service_p99(count, stream)
            rows.append(figure(f"{name}_p99_us", measured.p99_us, "us", base.p99_us))
            rows.append(figure(f"{name}_cpu_us", measured.cpu_us, "us", base.cpu_us))
    return rows


async def run_async() -> list[dict]:
    rows = []
    rate, base = await ingest_rate()
    rows.append(figure("feed_ingest_rate", rate, "ticks/s", base, lower_is_better=False))
    rows.extend(await fanout_rows())
    rows.append(figure("feed_failover_ms", await failover_ms(), "ms", FAILOVER_MS))
    return rows


def run() -> list[dict]:
    return run_loop(run_async())


def main(argv: list[str]) -> int:
    if not argv:
        run()
        return 0
    if argv == ["fanout"]:
        run_loop(fanout_rows())
        return 0
    role, kind, *rest = argv
    if role == "sender":
        port, ticks, batch, rate = rest
        run_loop(sender_main(kind, int(port), int(ticks), int(batch), float(rate)))
    elif role == "subscribers":
        address, count, seconds = rest
        run_loop(subscribers_main(kind, address, int(count), float(seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
