"""Order path benchmarks, each against a baseline measured in the same run.

* ``order_unary_p50_us``/``order_unary_p99_us``: unary SubmitOrder round trips (each acknowledged once durable)
  against a bare grpcio echo of the same messages.
* ``durable_echo_p50_us``/``durable_echo_p99_us``: the echo that appends each request to a file and fdatasyncs
  before answering, the physical floor of a durable acknowledgement on this disk, against the bare echo; and
  ``order_unary_p50_vs_durable_us``: the order path's p50 again, as a ratio to that floor.
* ``order_session_rate``: orders/s through ``OrderSession`` against the echo of the same batches.
* ``exec_report_p50_us``/``exec_report_p99_us``: from a venue fill (the engine taking it, the report's
  ``transact_time_ns``) to the client receiving the execution report on ``StreamExecutions``, for marketable
  orders sent one at a time, the receipt read on the desk's clock (the replay clock of the example desk, at
  speed 1); baselines: ``durable_echo_p50_us`` and ``durable_echo_p99_us`` (a report is published only once
  durable, so the disk's own fdatasync, and its tail, is under each).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report import figure
from tests import access
from tests.desk_runner import RunningDesk, free_ports, wait_for, write_desk
from tradingdesk.core.fixed import format_fixed, parse_fixed
from tradingdesk.edge.clock import desk_clock
from tradingdesk.security import channels
from tradingdesk.security.channels import ClientCredentials
from tradingdesk.v1 import common_pb2, market_data_pb2, market_data_pb2_grpc, orders_pb2, orders_pb2_grpc

UNARY_N = 3000
FILLS_N = 600
SESSION_N = 20000
WARMUP = 300
# A high-rate client sends what it has ready in one message; the echo baseline gets the same batches.
SESSION_CLIENT_BATCH = 50
BORROWABLE = ("AAPL", "MSFT")  # easy to borrow in the example desk: a sale never needs a locate
SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "JPM", "XOM", "JNJ", "PG")


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p * len(s)))]


def resting_orders(bids: dict[str, int], n: int, prefix: str) -> list[orders_pb2.SubmitOrderRequest]:
    """Buy orders 1% under the bid: inside the collar, never filled, so each costs exactly one order's work."""
    out = []
    for i in range(n):
        symbol = SYMBOLS[i % len(SYMBOLS)]
        price = bids[symbol] * 99 // 100 // 10_000_000 * 10_000_000  # on the 0.01 grid
        out.append(
            orders_pb2.SubmitOrderRequest(
                client_order_id=f"{prefix}-{i:09d}",
                account="ACC-EQ-2",
                symbol=symbol,
                side=common_pb2.SIDE_BUY,
                order_type=common_pb2.ORDER_TYPE_LIMIT,
                quantity="1",
                limit_price=format_fixed(price),
                time_in_force=common_pb2.TIME_IN_FORCE_DAY,
            )
        )
    return out


def unary_latencies(
    address: str, requests: list[orders_pb2.SubmitOrderRequest], credentials: ClientCredentials | None = None
) -> list[float]:
    channel = channels.channel(address, credentials=credentials)
    stub = orders_pb2_grpc.OrderServiceStub(channel)
    out = []
    for i, req in enumerate(requests):
        t0 = time.perf_counter()
        stub.SubmitOrder(req, timeout=10)
        if i >= WARMUP:
            out.append((time.perf_counter() - t0) * 1e6)
    channel.close()
    return out


async def session_rate(
    address: str, requests: list[orders_pb2.SubmitOrderRequest], credentials: ClientCredentials | None = None
) -> float:
    async with channels.aio_channel(address, credentials=credentials) as channel:
        stub = orders_pb2_grpc.OrderServiceStub(channel)

        async def gen():
            for start in range(0, len(requests), SESSION_CLIENT_BATCH):
                chunk = requests[start : start + SESSION_CLIENT_BATCH]
                yield orders_pb2.SessionRequests(
                    requests=[
                        orders_pb2.SessionRequest(submit=r, request_id=start + i + 1) for i, r in enumerate(chunk)
                    ]
                )

        acks = errors = 0
        t0 = time.perf_counter()
        async for batch in stub.OrderSession(gen()):
            for resp in batch.responses:
                which = resp.WhichOneof("response")
                if which == "ack":
                    acks += 1
                elif which == "error":
                    errors += 1
                    if errors == 1:
                        print(f"session error: {resp.error.message}", file=sys.stderr)
            if acks + errors == len(requests):
                break
        elapsed = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"{errors} of {len(requests)} session orders were refused")
    return acks / elapsed


async def best_bids(address: str, credentials: ClientCredentials | None = None) -> dict[str, int]:
    async with channels.aio_channel(address, credentials=credentials) as ch:
        snap = await market_data_pb2_grpc.MarketDataServiceStub(ch).GetSnapshot(market_data_pb2.GetSnapshotRequest())
    # Only symbols that have also traded: the gate collars against the last trade.
    return {q.symbol: parse_fixed(q.bid_price) for q in snap.quotes if q.bid_price and q.last_price}


def start_echo(port: int, durable_path: str = "") -> subprocess.Popen:
    extra = ["--durable", durable_path] if durable_path else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.echo_server", str(port), *extra], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


async def run_async() -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="td-bench-") as tmp:

        def relax(doc: dict) -> None:
            doc["spec"]["risk"]["maxSubmitsPerSecond"] = 1_000_000
            doc["spec"]["risk"]["maxOrderQuantity"] = "1000000"
            # The execution-report figure crosses the spread back and forth: every round trip loses it, which
            # the loss and slippage breakers would (rightly) halt.
            doc["spec"]["risk"]["circuitBreakers"] = {"maxConsecutiveLosses": 0, "slippageSpikeBps": 0}

        desk = await RunningDesk(write_desk(Path(tmp), relax)).start()
        echo_port, durable_port = free_ports(2)
        echo = start_echo(echo_port)
        durable = start_echo(durable_port, str(Path(tmp) / "durable-echo.log"))
        try:
            bids = await wait_for(lambda: _all_bids(desk), timeout=15)
            routing = desk.address("routing")
            echo_addr = f"127.0.0.1:{echo_port}"
            unary_reqs = resting_orders(bids, UNARY_N + WARMUP, "u")
            base = await asyncio.to_thread(unary_latencies, echo_addr, unary_reqs)
            creds = access.credentials(desk.desk)
            durable_lat = await asyncio.to_thread(unary_latencies, f"127.0.0.1:{durable_port}", unary_reqs)
            desk_lat = await asyncio.to_thread(unary_latencies, routing, unary_reqs, creds)
            durable_p50 = percentile(durable_lat, 0.5)
            rows.append(figure("order_unary_p50_us", percentile(desk_lat, 0.5), "us", percentile(base, 0.5)))
            rows.append(figure("order_unary_p99_us", percentile(desk_lat, 0.99), "us", percentile(base, 0.99)))
            durable_p99 = percentile(durable_lat, 0.99)
            rows.append(figure("durable_echo_p50_us", durable_p50, "us", percentile(base, 0.5)))
            rows.append(figure("durable_echo_p99_us", durable_p99, "us", percentile(base, 0.99)))
            rows.append(figure("order_unary_p50_vs_durable_us", percentile(desk_lat, 0.5), "us", durable_p50))
            session_reqs = resting_orders(bids, SESSION_N, "s")
            base_rate = await session_rate(echo_addr, session_reqs)
            rate = await session_rate(routing, session_reqs, creds)
            rows.append(figure("order_session_rate", rate, "orders/s", base_rate, lower_is_better=False))
            report_lat = await exec_report_latencies(desk)
            rows.append(figure("exec_report_p50_us", percentile(report_lat, 0.5), "us", durable_p50))
            rows.append(figure("exec_report_p99_us", percentile(report_lat, 0.99), "us", durable_p99))
        finally:
            for proc in (echo, durable):
                proc.terminate()
                proc.wait()
            await desk.stop()
    return rows


async def exec_report_latencies(desk: RunningDesk) -> list[float]:
    """Marketable orders, one at a time (a buy at the ask, then a sell at the bid, so the position stays flat):
    for each fill, the time from the engine taking it to this client holding its execution report. The
    report is stamped on the desk's clock, so the receipt is read on the same clock (same origin)."""
    assert desk.embedded is not None
    clock = desk_clock(desk.desk, desk.embedded.env)
    async with (
        desk.channel("routing") as channel,
        desk.channel("feeds") as feeds,
    ):
        stub = orders_pb2_grpc.OrderServiceStub(channel)
        market = market_data_pb2_grpc.MarketDataServiceStub(feeds)
        latencies: list[float] = []
        submitted: set[str] = set()
        finished: set[str] = set()
        terminal = {common_pb2.ORDER_STATUS_FILLED, common_pb2.ORDER_STATUS_CANCELED, common_pb2.ORDER_STATUS_REJECTED}
        stream = stub.StreamExecutions(orders_pb2.StreamExecutionsRequest(account="ACC-EQ-2"))

        async def read() -> None:
            async for report in stream:
                received = clock.now_ns()
                if report.exec_type == common_pb2.EXEC_TYPE_TRADE:
                    latencies.append((received - report.transact_time_ns) / 1_000)
                if report.status in terminal:
                    finished.add(report.order_id)

        reader = asyncio.create_task(read())
        try:
            for i in range(FILLS_N):
                symbol = BORROWABLE[i // 2 % len(BORROWABLE)]
                quote = await market.GetQuote(market_data_pb2.GetQuoteRequest(symbol=symbol))
                buy = i % 2 == 0
                price = parse_fixed(quote.ask_price if buy else quote.bid_price)
                # One tick through the touch: marketable at once, well inside the collar.
                price = price + 10_000_000 if buy else price - 10_000_000
                ack = await stub.SubmitOrder(
                    orders_pb2.SubmitOrderRequest(
                        client_order_id=f"x-{i:06d}",
                        account="ACC-EQ-2",
                        symbol=symbol,
                        # Marked short: should a buy not have filled, the sale is a (borrowable) short sale.
                        side=common_pb2.SIDE_BUY if buy else common_pb2.SIDE_SELL_SHORT,
                        order_type=common_pb2.ORDER_TYPE_LIMIT,
                        quantity="1",
                        limit_price=format_fixed(price),
                        time_in_force=common_pb2.TIME_IN_FORCE_IOC,
                    ),
                    timeout=10,
                )
                submitted.add(ack.order_id)
            await wait_for(lambda: submitted <= finished, timeout=30)
        finally:
            reader.cancel()
    if len(latencies) < FILLS_N // 2:
        raise RuntimeError(f"only {len(latencies)} of {FILLS_N} marketable orders filled")
    return latencies[FILLS_N // 20 :]  # the first few warm the path


async def _all_bids(desk: RunningDesk) -> dict[str, int] | None:
    bids = await best_bids(desk.address("feeds"), access.credentials(desk.desk))
    return bids if all(s in bids for s in SYMBOLS) else None


def run() -> list[dict]:
    return asyncio.run(run_async())
