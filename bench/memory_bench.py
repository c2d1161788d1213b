"""Memory of the embedded desk: its five service processes together, at idle and with 100,000 open orders.

- ``desk_rss_mb_idle``: the resident memory (VmRSS) of the five processes once the desk is up and quiet, against
  five bare grpcio echo servers (``bench.echo_server``: an interpreter, grpcio and protobuf, nothing of ours),
  measured in the same run: what the desk adds to five gRPC processes.
- ``desk_rss_mb_100k_open``: the same five after 100,000 resting orders were acknowledged through
  ``OrderSession``, against the idle figure of this run. The issue's target is under 1,024 MB.
- ``desk_pss_mb_100k_open``: the proportional set size of the same state (shared pages counted once, split
  between the processes sharing them), against the same idle figure: RSS counts the interpreter's shared pages
  five times.

The five processes are started as ``tests.desk_runner.RunningDesk`` starts them, without the supervisor of
``tradingdesk up`` and so without its warm spare (``spec.supervision.warmSpare``): a supervised desk holds about
100 MB more while the spare waits, not counted here.

Memory is not timing: a busy machine changes these figures little, unlike the latency benchmarks.
Run alone: ``python -m bench.memory_bench``; ``make bench`` calls ``run()``.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from bench.order_path import _all_bids, resting_orders, session_rate, start_echo
from bench.report import figure
from tests import access
from tests.desk_runner import RunningDesk, free_ports, wait_for, write_desk

OPEN_ORDERS = 100_000
CHUNK = 20_000
PROCESSES = 5


def kib_field(path: Path, name: str) -> int:
    """A ``kB`` field of a /proc status-style file, in KiB."""
    for line in path.read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise KeyError(f"{name} not in {path}")


def rss_mb(pids: list[int]) -> float:
    return sum(kib_field(Path(f"/proc/{pid}/status"), "VmRSS") for pid in pids) / 1024


def pss_mb(pids: list[int]) -> float:
    return sum(kib_field(Path(f"/proc/{pid}/smaps_rollup"), "Pss") for pid in pids) / 1024


def relax(doc: dict) -> None:
    """Room for 100,000 one-share buy orders of one account: exposure and credit controls off, the open-order
    cap above the count, submissions unthrottled, and reference prices good for an hour: routing, busy taking
    20,000 orders a chunk, read its market data over 5 s late and the gate refused thousands as stale (rightly,
    for a desk; this measures memory)."""
    risk = doc["spec"]["risk"]
    risk["maxSubmitsPerSecond"] = 1_000_000
    risk["referenceMaxAgeMs"] = 3_600_000
    for control in ("creditLimit", "maxGrossExposure", "maxNetExposure"):
        risk[control] = "0"
    risk["maxSymbolConcentrationBps"] = 0
    risk["maxSectorConcentrationBps"] = 0
    risk["maxOrderToTradeRatio"] = 0  # 100,000 orders and no trade would trip it (rightly)
    doc["spec"]["routing"]["maxOpenOrders"] = OPEN_ORDERS * 2


async def run_async() -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="td-memory-bench-") as tmp:
        desk = await RunningDesk(write_desk(Path(tmp), relax)).start()
        (echo_port,) = free_ports(1)
        echo = start_echo(echo_port)
        try:
            assert desk.embedded is not None
            pids = [child.process.pid for child in desk.embedded.children.values()]
            assert len(pids) == PROCESSES, pids
            bids = await wait_for(lambda: _all_bids(desk), timeout=30)
            creds = access.credentials(desk.desk)
            idle = rss_mb(pids)
            bare = rss_mb([echo.pid]) * PROCESSES
            rows.append(figure("desk_rss_mb_idle", idle, "MB", bare))
            requests = resting_orders(bids, OPEN_ORDERS, "m")
            for start in range(0, OPEN_ORDERS, CHUNK):
                await session_rate(desk.address("routing"), requests[start : start + CHUNK], creds)
            rows.append(figure("desk_rss_mb_100k_open", rss_mb(pids), "MB", idle))
            rows.append(figure("desk_pss_mb_100k_open", pss_mb(pids), "MB", idle))
        finally:
            echo.terminate()
            echo.wait()
            await desk.stop()
    return rows


def run() -> list[dict]:
    return asyncio.run(run_async())


if __name__ == "__main__":
    run()
