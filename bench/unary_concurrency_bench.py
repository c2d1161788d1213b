"""``order_unary_c8_rate``: unary ``SubmitOrder`` from 8 concurrent clients, driven by ghz (a third-party gRPC load
tool, bench/build_ghz.sh), against the bare grpcio echo (bench/echo_server.py) under the same load in the same
run; ``order_unary_c8_p50_us`` and ``order_unary_c8_p99_us`` beside it, with the echo's as baselines.

Every acknowledgement of the desk is durable (group commit); the echo's answers nothing. Orders rest 1% under
the bid (one order's work each, nothing fills), on one account, each with a client order id of its own. The
desk runs with ``spec.access.tls: false`` here, like the echo: this figure is the desk's own work under
concurrency; what mutual TLS and authorization add is ``order_unary_p50_us_tls`` (bench/security_bench.py).

``python -m bench.unary_concurrency_bench`` runs it alone. It also prints (stderr) how many journal commits the
desk's run took for how many records (routing's ``tradingdesk_journal_batch_records`` before and after): with
group commit working, far fewer commits than orders.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bench.order_path import SYMBOLS, best_bids, start_echo
from bench.report import figure
from tests import access
from tests.desk_runner import RunningDesk, free_ports, wait_for, write_desk
from tradingdesk.core.fixed import format_fixed

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 8
ORDERS = 20_000
WARMUP = 1_000


def ghz_binary() -> str:
    out = subprocess.run(
        ["bash", str(ROOT / "bench" / "build_ghz.sh")], check=True, capture_output=True, text=True
    ).stdout
    return out.strip().splitlines()[-1]


def ghz(binary: str, address: str, *, symbol: str, price: int, total: int, prefix: str) -> dict:
    """ghz's JSON summary of ``total`` resting buys from ``CONCURRENCY`` workers; fails when any call failed."""
    data = {
        "client_order_id": f"{prefix}-{{{{.WorkerID}}}}-{{{{.RequestNumber}}}}",
        "account": "ACC-EQ-2",
        "symbol": symbol,
        "side": "SIDE_BUY",
        "order_type": "ORDER_TYPE_LIMIT",
        "quantity": "1",
        "limit_price": format_fixed(price),
        "time_in_force": "TIME_IN_FORCE_DAY",
    }
    run = subprocess.run(
        [
            binary,
            "--insecure",
            "--proto",
            str(ROOT / "proto" / "tradingdesk" / "v1" / "orders.proto"),
            "--import-paths",
            str(ROOT / "proto"),
            "--call",
            "tradingdesk.v1.OrderService.SubmitOrder",
            "--concurrency",
            str(CONCURRENCY),
            "--connections",
            str(CONCURRENCY),
            "--total",
            str(total),
            "--timeout",
            "10s",
            "--data",
            json.dumps(data),
            "--format",
            "json",
            address,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    summary = json.loads(run.stdout)
    codes = summary.get("statusCodeDistribution", {})
    if set(codes) != {"OK"}:
        raise RuntimeError(f"ghz against {address}: {codes} {summary.get('errorDistribution')}")
    return summary


def latency_us(summary: dict, percentage: int) -> float:
    return next(p["latency"] for p in summary["latencyDistribution"] if p["percentage"] == percentage) / 1e3


def journal_batches(desk: RunningDesk) -> tuple[float, float]:
    """Routing's journal commits and the records they held, so far."""
    port = desk.desk.spec.monitoring.metrics_ports()["routing"]
    found = {"tradingdesk_journal_batch_records_count": 0.0, "tradingdesk_journal_batch_records_sum": 0.0}
    for family in text_string_to_metric_families(access.metrics_text(desk.desk, port)):
        for sample in family.samples:
            if sample.name in found:
                found[sample.name] = sample.value
    return found["tradingdesk_journal_batch_records_count"], found["tradingdesk_journal_batch_records_sum"]


async def run_async() -> list[dict]:
    binary = await asyncio.to_thread(ghz_binary)

    def tune(doc: dict) -> None:
        doc["spec"]["risk"]["maxSubmitsPerSecond"] = 1_000_000
        doc["spec"]["access"] = {**doc["spec"].get("access", {}), "tls": False}

    with tempfile.TemporaryDirectory(prefix="td-bench-c8-") as tmp:
        (echo_port,) = free_ports(1)
        echo = start_echo(echo_port)
        try:
            echo_addr = f"127.0.0.1:{echo_port}"
            ghz(binary, echo_addr, symbol="AAPL", price=1, total=WARMUP, prefix="warm")
            base = ghz(binary, echo_addr, symbol="AAPL", price=1, total=ORDERS, prefix="echo")
        finally:
            echo.terminate()
            echo.wait(10)
        desk = await RunningDesk(write_desk(Path(tmp), tune)).start()
        try:

            async def bids() -> dict[str, int] | None:
                found = await best_bids(desk.address("feeds"))
                return found if all(s in found for s in SYMBOLS) else None

            prices = await wait_for(bids, timeout=30)
            symbol = SYMBOLS[0]
            price = prices[symbol] * 99 // 100 // 10_000_000 * 10_000_000  # 1% under the bid, on the 0.01 grid
            routing = desk.address("routing")
            ghz(binary, routing, symbol=symbol, price=price, total=WARMUP, prefix="warm")
            commits, records = journal_batches(desk)
            desk_run = ghz(binary, routing, symbol=symbol, price=price, total=ORDERS, prefix="c8")
            commits_after, records_after = journal_batches(desk)
            print(
                f"unary c8: {ORDERS} orders, {records_after - records:.0f} journal records in "
                f"{commits_after - commits:.0f} commits",
                file=sys.stderr,
            )
        finally:
            await desk.stop()
    return [
        figure("order_unary_c8_rate", desk_run["rps"], "orders/s", base["rps"], lower_is_better=False),
        figure("order_unary_c8_p50_us", latency_us(desk_run, 50), "us", latency_us(base, 50)),
        figure("order_unary_c8_p99_us", latency_us(desk_run, 99), "us", latency_us(base, 99)),
    ]


def run() -> list[dict]:
    return asyncio.run(run_async())


if __name__ == "__main__":
    run()
