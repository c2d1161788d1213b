"""What security costs on the order path, measured in one run: the same desk with mutual TLS and
authorization (``spec.access.tls: true``, the default) against one without (``false``).

- ``order_unary_p50_us_tls``: SubmitOrder p50 with TLS and authorization; baseline the same without.
- ``order_session_rate_tls``: OrderSession orders/s with TLS and authorization; baseline the same without.
- ``flood_victim_p50_us``: one identity's GetQuote p50 while another identity floods the same service past its
  rate limit; baseline the same identity's p50 with nobody flooding.

``python -m bench.security_bench`` runs these alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc

from bench.order_path import (
    SESSION_N,
    UNARY_N,
    WARMUP,
    _all_bids,
    percentile,
    resting_orders,
    session_rate,
    unary_latencies,
)
from bench.report import figure, write
from tests import access
from tests.desk_runner import RunningDesk, wait_for, write_desk
from tradingdesk.v1 import market_data_pb2, market_data_pb2_grpc

FLOOD_CALLS = 400


def _desk_doc(tls: bool):
    def mutate(doc: dict) -> None:
        doc["spec"]["risk"]["maxSubmitsPerSecond"] = 1_000_000
        doc["spec"]["risk"]["maxOrderQuantity"] = "1000000"
        doc["spec"]["risk"]["gateStreamTimeoutMs"] = 60_000  # a starved machine must not fail the gate closed
        doc["spec"]["risk"]["referenceMaxAgeMs"] = 3_600_000  # nor refuse orders because a quote came late
        doc["spec"]["access"]["tls"] = tls
        doc["spec"]["access"]["rateLimit"] = {"requestsPerSecond": 100_000, "burst": 100_000}
        if tls:
            flooder = {"name": "flooder", "roles": ["trader"], "accounts": ["*"], "requestsPerSecond": 50}
            doc["spec"]["access"]["identities"] = [
                *access.test_identities([a["name"] for a in doc["spec"]["accounts"]]),
                flooder,
            ]

    return mutate


ROUNDS = 4


async def order_figures(plain: RunningDesk, tls: RunningDesk) -> dict[str, tuple[float, float]]:
    """Both desks run at once and take turns, round after round, so a busy machine slows both alike; each
    figure is the median over the rounds."""
    desks = {"plain": plain, "tls": tls}
    bids = {name: await wait_for(lambda d=d: _all_bids(d), timeout=30) for name, d in desks.items()}
    p50s: dict[str, list[float]] = {name: [] for name in desks}
    rates: dict[str, list[float]] = {name: [] for name in desks}
    for r in range(ROUNDS):
        for name, desk in desks.items():
            creds = access.credentials(desk.desk)
            routing = desk.address("routing")
            orders = resting_orders(bids[name], UNARY_N // ROUNDS + WARMUP, f"u{r}")
            lat = await asyncio.to_thread(unary_latencies, routing, orders, creds)
            p50s[name].append(percentile(lat, 0.5))
            orders = resting_orders(bids[name], SESSION_N // ROUNDS, f"s{r}")
            rates[name].append(await session_rate(routing, orders, creds))
    return {name: (statistics.median(p50s[name]), statistics.median(rates[name])) for name in desks}


async def victim_p50(desk: RunningDesk, *, flood: bool) -> float:
    """The trader's GetQuote p50 over FLOOD_CALLS calls, with or without the flooder hammering feeds."""
    request = market_data_pb2.GetQuoteRequest(symbol="AAPL")
    stop = asyncio.Event()

    async def hammer() -> None:
        async with desk.channel("feeds", "flooder") as ch:
            stub = market_data_pb2_grpc.MarketDataServiceStub(ch)
            while not stop.is_set():
                with contextlib.suppress(grpc.aio.AioRpcError):  # refused past its rate: that is the point
                    await stub.GetQuote(request, timeout=5)

    flooders = [asyncio.create_task(hammer()) for _ in range(4 if flood else 0)]
    out = []
    async with desk.channel("feeds", "trader") as ch:
        stub = market_data_pb2_grpc.MarketDataServiceStub(ch)
        for _ in range(FLOOD_CALLS):
            t0 = time.perf_counter()
            await stub.GetQuote(request, timeout=5)
            out.append((time.perf_counter() - t0) * 1e6)
    stop.set()
    await asyncio.gather(*flooders)
    return percentile(out, 0.5)


async def run_async() -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="td-bench-sec-") as tmp:
        started = []
        try:
            for tls in (False, True):
                root = Path(tmp) / ("tls" if tls else "plain")
                root.mkdir()
                started.append(await RunningDesk(write_desk(root, _desk_doc(tls))).start())
            plain, secured = started
            figures = await order_figures(plain, secured)
            calm = await victim_p50(secured, flood=False)
            flooded = await victim_p50(secured, flood=True)
        finally:
            for desk in started:
                await desk.stop()
    (plain_p50, plain_rate), (tls_p50, tls_rate) = figures["plain"], figures["tls"]
    return [
        figure("order_unary_p50_us_tls", tls_p50, "us", plain_p50),
        figure("order_session_rate_tls", tls_rate, "orders/s", plain_rate, lower_is_better=False),
        figure("flood_victim_p50_us", flooded, "us", calm),
    ]


def run() -> list[dict]:
    return asyncio.run(run_async())


if __name__ == "__main__":
    rows = run()
    if "--write" in sys.argv:
        names = {row["name"] for row in rows}
        write(rows, owns=names.__contains__)  # this suite's figures replaced, the other benchmarks' kept
