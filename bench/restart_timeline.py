"""The timeline of a SIGKILLed routing in an embedded desk, from the kill to the first order acknowledged again.

Not one of ``make bench``'s suites (it runs a whole desk for a minute or more): run it by hand,
``python -m bench.restart_timeline [--orders N] [--runs R] [--postgres]``. It starts ``tradingdesk up`` on the
example desk (SQLite, or with ``--postgres`` a PostgreSQL cluster of its own, as the simulated day with a database
fault; the throttles and the order-to-trade ratio off so one client can fill the journal), sends ``N`` resting
orders and cancels nine in ten (about four journal records an order: with the default
``spec.routing.snapshots.everyRecords`` of 25,000, 10,000 orders leave a snapshot and ~13,000 records after it),
then ``R`` times: SIGKILLs routing while a client retries ``SubmitOrder`` every ``PROBE_EVERY_S`` and prints,
in milliseconds after the kill, when the supervisor recorded the new process, each line routing's new process
logged (``<service>: starting``, the schema check, the snapshot, the replay, ``started in`` with its phases,
serving; from its ``started in`` line, when ``RoutingService.start`` began and each of its phases ended), the first
answer of any kind and the first acknowledgement. The client measures wall time: say how
loaded the machine was (``uptime``) beside any figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import tempfile
import time
from datetime import datetime
from pathlib import Path

import grpc

from tests.desk_runner import DeskProcess, wait_for, wait_until, write_desk
from tests.integration.test_kill_switch import bids, resting
from tests.integration.test_supervision import service, status
from tradingdesk.runtime.local_postgres import PostgresServer, find_postgres
from tradingdesk.v1 import orders_pb2, orders_pb2_grpc

PROBE_EVERY_S = 0.005
WINDOW_S = 20
PROBE_RECONNECT = (
    ("grpc.initial_reconnect_backoff_ms", 5),
    ("grpc.min_reconnect_backoff_ms", 5),
    ("grpc.max_reconnect_backoff_ms", 10),
)
CLIENTS = 8
LOGGED = re.compile(
    r"starting \(pid|Context impl|snapshot at seq \d+ loaded|recovered \d+ journal|active from|started in"
    r"|serving on|cannot serve|first picture|Traceback"
)


def relaxed(doc: dict) -> None:
    doc["spec"]["risk"].update(
        maxSubmitsPerSecond=1_000_000, maxCancelsPerSecond=1_000_000, maxOrderToTradeRatio=0, creditLimit="0"
    )
    # each restart counted alone, so each waits the initial backoff (the runs are further apart than this)
    doc["spec"]["supervision"] = {"restartWindowSeconds": WINDOW_S}


def spare_waiting(desk: DeskProcess) -> bool:
    """Whether the warm spare has imported everything and waits for its order (blocked reading its input:
    asyncio gives it a socket pair, not a pipe)."""
    pid = status(desk).get("spare", {}).get("pid")
    try:
        return bool(pid) and any(
            re.search(r"pipe_read|unix_stream_read", t.read_text()) for t in Path(f"/proc/{pid}/task").glob("*/wchan")
        )
    except FileNotFoundError:
        return False


async def fill_journal(desk: DeskProcess, prices: dict[str, int], orders: int) -> None:
    """``orders`` resting orders from ``CLIENTS`` clients, nine in ten cancelled once acknowledged."""
    async with desk.aio_channel("routing") as channel:
        stub = orders_pb2_grpc.OrderServiceStub(channel)

        async def client(n: int) -> None:
            for i, req in enumerate(resting(prices, orders // CLIENTS, f"fill-{n}-{time.monotonic_ns()}")):
                ack = await stub.SubmitOrder(req, timeout=30)
                if i % 10:
                    cancel = orders_pb2.CancelOrderRequest(account=req.account, order_id=ack.order_id)
                    for _ in range(200):
                        try:
                            await stub.CancelOrder(cancel, timeout=30)
                            break
                        except grpc.aio.AioRpcError as exc:
                            if "PENDING_NEW" not in (exc.details() or ""):
                                raise
                            await asyncio.sleep(0.002)

        await asyncio.gather(*(client(n) for n in range(CLIENTS)))


async def probe_until_acked(desk: DeskProcess, prices: dict[str, int], killed_at: float) -> dict[str, float]:
    """Retry SubmitOrder until one is acknowledged; the first time each kind of answer came, in ms after the kill."""
    seen: dict[str, float] = {}
    # gRPC's default reconnect backoff (1 s, then 1.6x) or even the desk's own clients' FAST_RECONNECT (100-250 ms)
    # would measure the client: this one dials again every few ms, so the figure is when the server answers
    async with desk.aio_channel("routing", options=PROBE_RECONNECT) as channel:
        stub = orders_pb2_grpc.OrderServiceStub(channel)
        n = 0
        while True:
            n += 1
            req = resting(prices, 1, f"probe-{n}-{time.monotonic_ns()}")[0]
            try:
                await stub.SubmitOrder(req, timeout=0.5, wait_for_ready=False)
                seen.setdefault("acknowledged", (time.time() - killed_at) * 1e3)
                return seen
            except grpc.aio.AioRpcError as exc:
                meta = dict(exc.trailing_metadata() or ())
                what = meta.get("td-reject-code") or exc.code().name
                seen.setdefault(f"answered {what}: {(exc.details() or '')[:80]}", (time.time() - killed_at) * 1e3)
            await asyncio.sleep(PROBE_EVERY_S)


def process_cpu_ms(pid: int) -> float:
    """User and system CPU time of ``pid`` so far (every thread), in ms."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1e3 / os.sysconf("SC_CLK_TCK")


def new_pid_seen(desk: DeskProcess, old: int) -> int | None:
    pid = service(desk, "routing").get("pid")
    return pid if pid and pid != old else None


def routing_lines(desk: DeskProcess, pid: int, killed_at: float) -> list[tuple[float, str]]:
    out = []
    for line in (desk.spec_path.parent / "logs" / "routing.log").read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if rec.get("pid") == pid and LOGGED.search(rec.get("message", "")):
            at = datetime.fromisoformat(rec["ts"]).timestamp()
            out.append(((at - killed_at) * 1e3, rec["message"][:150]))
            out += start_phases(rec["message"], (at - killed_at) * 1e3)
    return out


STARTED = re.compile(r"started in (\d+) ms, (\d+) ms CPU \(wall/CPU ms: (.*)\)")


def start_phases(message: str, logged_ms: float) -> list[tuple[float, str]]:
    """From routing's ``started in`` line, when ``RoutingService.start`` began (what came before it is ``serve``'s
    own set-up: the spec, telemetry, TLS, the service object and its server) and when each of its phases ended."""
    found = STARTED.search(message)
    if found is None:
        return []
    at = logged_ms - int(found[1])
    out = [(at, "routing: RoutingService.start begins")]
    for phase in found[3].split(", "):
        name, _, ms = phase.rpartition(" ")
        wall, cpu = (int(x) for x in ms.split("/"))
        at += wall
        out.append((at, f"  {name} done ({wall} ms, {cpu} ms CPU)"))
    return out


async def one_restart(desk: DeskProcess, prices: dict[str, int], run: int) -> None:
    old = service(desk, "routing")["pid"]
    spare = spare_waiting(desk)
    restarts = service(desk, "routing").get("restarts", 0)
    killed_at = time.time()
    os.kill(old, signal.SIGKILL)
    probing = asyncio.create_task(probe_until_acked(desk, prices, killed_at))
    pid = await wait_for(lambda: new_pid_seen(desk, old), timeout=60, what="a new pid", interval=0.001)
    pid_at = (time.time() - killed_at) * 1e3
    seen = await probing
    cpu_ms = process_cpu_ms(pid)
    await wait_for(lambda: service(desk, "routing").get("restarts") == restarts + 1, timeout=60, what="status")
    events = [(pid_at, f"supervisor status shows the new pid {pid}")]
    events += routing_lines(desk, pid, killed_at)
    events += [(ms, f"probe: first {what}") for what, ms in seen.items()]
    events.append((seen["acknowledged"], f"routing's process CPU so far: {cpu_ms:.0f} ms (its imports' included)"))
    print(f"\n== run {run}: routing pid {old} SIGKILLed; load {os.getloadavg()[0]:.2f}; spare used: {spare}")
    for ms, what in sorted(events):
        print(f"{ms:8.0f} ms  {what}")


async def main(orders: int, runs: int, keep: Path | None, postgres: bool) -> None:
    tmp = keep or Path(tempfile.mkdtemp(prefix="restart-timeline-"))
    tmp.mkdir(parents=True, exist_ok=True)
    server = None
    if postgres:  # as the simulated day with a database fault: a cluster of its own, TD_DSN of the five services
        server = PostgresServer(find_postgres(auto_install=False), base_dir=str(tmp / "pg")).start()
        os.environ["TD_DSN"] = server.dsn
    desk = DeskProcess(write_desk(tmp, relaxed))
    try:
        desk.wait_up()
        wait_until(lambda: len(status(desk).get("services", {})) == 5, timeout=30, what="the supervisor's status")
        prices = await wait_for(lambda: bids(desk), timeout=60, what="prices")
        started = time.monotonic()
        await fill_journal(desk, prices, orders)
        print(f"{orders} orders in {time.monotonic() - started:.1f}s; state under {tmp}")
        killed = 0.0
        for run in range(1, runs + 1):
            await wait_for(lambda: spare_waiting(desk), timeout=60, what="a warm spare waiting")
            if run > 1:  # a restart alone in its window waits the initial backoff, as the first in a day does
                await asyncio.sleep(max(0.0, killed + WINDOW_S + 1 - time.monotonic()))
            killed = time.monotonic()
            await one_restart(desk, prices, run)
            await fill_journal(desk, prices, orders // 10)  # some records after the restart's snapshot too
    finally:
        if desk.proc.poll() is None:
            desk.stop()
        print((tmp / "up.log").read_text()[-1500:])
        if server is not None:
            server.destroy()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="the desk's directory (default: a new temp dir)")
    parser.add_argument("--postgres", action="store_true", help="state in a PostgreSQL cluster of its own")
    args = parser.parse_args()
    asyncio.run(main(args.orders, args.runs, args.keep, args.postgres))
