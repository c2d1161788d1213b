"""Monitoring figures: what metrics cost the order path, and how long a fault takes to page someone.

* ``metrics_order_unary_p50_us`` and ``metrics_order_session_rate``: the order path of a desk with metrics on
  (``value``) against the same desk with ``metricsPort: 0`` (``baseline``), each started twice in this run in the
  order off, on, on, off, with the same orders; each figure is the mean of its two runs. The ratio is the overhead
  (at most 1.10 for latency, at least 0.90 for the rate).
* ``alert_to_page_s``: both lines of a feed cut, to the PagerDuty trigger accepted by the local receiver, through
  real Prometheus and Alertmanager with the spec's default scrape, evaluation and ``for``; the baseline is the
  fault to Prometheus seeing the feed down (its scrape), measured in the same run.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bench.order_path import (
    SESSION_N,
    SYMBOLS,
    UNARY_N,
    WARMUP,
    best_bids,
    percentile,
    resting_orders,
    session_rate,
    unary_latencies,
)
from bench.report import figure
from tests import access
from tests.desk_runner import RunningDesk, wait_for, write_desk
from tests.monitoring.paging import paging_rig
from tests.monitoring.tools import prometheus_query

PAGES = 3
ORDER = (False, True, True, False)
"""Metrics off and on, in this order: a desk started later ran faster in earlier runs (2 cores warming, caches),
which an off-then-on pair counted against one side; ABBA cancels that drift."""


def mean_pair(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """The mean p50 and the mean rate of a side's runs."""
    return statistics.fmean(r[0] for r in runs), statistics.fmean(r[1] for r in runs)


async def order_path(tmp: Path, *, metrics: bool) -> tuple[float, float]:
    def tune(doc: dict) -> None:
        doc["spec"]["risk"]["maxSubmitsPerSecond"] = 1_000_000
        doc["spec"]["risk"]["maxOrderQuantity"] = "1000000"
        if not metrics:
            doc["spec"]["monitoring"]["metricsPort"] = 0

    tmp.mkdir(parents=True)
    desk = await RunningDesk(write_desk(tmp, tune)).start()
    creds = access.credentials(desk.desk)
    try:

        async def bids() -> dict[str, int] | None:
            found = await best_bids(desk.address("feeds"), creds)
            return found if all(s in found for s in SYMBOLS) else None

        prices = await wait_for(bids, timeout=30)
        routing = desk.address("routing")
        unary = resting_orders(prices, UNARY_N + WARMUP, "u")
        latencies = await asyncio.to_thread(unary_latencies, routing, unary, creds)
        rate = await session_rate(routing, resting_orders(prices, SESSION_N, "s"), creds)
        return percentile(latencies, 0.5), rate
    finally:
        await desk.stop()


async def alert_to_page(tmp: Path) -> tuple[float, float]:
    pages, seen = [], []
    tmp.mkdir(parents=True)
    async with paging_rig(tmp) as rig:
        query = f'tradingdesk_feed_up{{desk="{rig.desk.desk.name}",feed="vendor-a"}} == 0'
        for _ in range(PAGES):
            cut = time.time()
            await rig.set_lines("vendor-a", enabled=False)
            await wait_for(lambda: prometheus_query(rig.stack.prometheus_url, query), timeout=30, interval=0.02)
            seen.append(time.time() - cut)
            page = await rig.page("trigger", "FeedDown", after=cut)
            pages.append(page.at - cut)
            restored = time.time()
            await rig.set_lines("vendor-a", enabled=True)
            await rig.page("resolve", "FeedDown", after=restored)
    return statistics.median(pages), statistics.median(seen)


async def run_async() -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="td-bench-mon-") as tmp:
        runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        for n, metrics in enumerate(ORDER):  # off, on, on, off: the desk started later is not favoured
            runs[metrics].append(await order_path(Path(tmp) / f"{n}-{metrics}", metrics=metrics))
        (on_p50, on_rate), (off_p50, off_rate) = (mean_pair(runs[True]), mean_pair(runs[False]))
        rows.append(figure("metrics_order_unary_p50_us", on_p50, "us", off_p50))
        rows.append(figure("metrics_order_session_rate", on_rate, "orders/s", off_rate, lower_is_better=False))
        page, seen = await alert_to_page(Path(tmp) / "paging")
        rows.append(figure("alert_to_page_s", page, "s", seen))
    return rows


def run() -> list[dict]:
    return asyncio.run(run_async())


if __name__ == "__main__":
    run()
