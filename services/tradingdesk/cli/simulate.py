"""``tradingdesk simulate``: a trading session replayed on an embedded desk with faults, and its verdict
(docs/simulation.md). Exit 0 when every verdict line passes, 1 when one fails, 2 when the run cannot start, 143
when SIGTERM stopped it (no verdict)."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from tradingdesk.runtime import loop as event_loop

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_TERMINATED = 128 + signal.SIGTERM
T = TypeVar("T")


def cmd_simulate(args: argparse.Namespace) -> int:
    from tradingdesk.simulate.faults import FaultScheduleError
    from tradingdesk.simulate.run import SimulationConfig, SimulationError, prepare, simulate

    config = SimulationConfig(
        spec_path=Path(args.file),
        out_dir=Path(args.out),
        speed=args.speed,
        rate=args.rate,
        duration_s=args.duration,
        start_s=args.start,
        faults_path=Path(args.faults) if args.faults else None,
        min_availability=args.min_availability,
        probe_timeout_s=args.probe_timeout,
        warmup_s=args.warmup,
        routing_replicas=args.routing_replicas,
        outage_spool=True if args.outage_spool else None,
    )
    try:
        plan = prepare(config)
    except (SimulationError, FaultScheduleError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    verdict = event_loop.run(_until_sigterm(simulate(plan, say=lambda line: print(line, flush=True))))
    if verdict is None:
        print("stopped by SIGTERM: the run's desk was stopped and its database removed; no verdict", flush=True)
        return EXIT_TERMINATED
    print(verdict.text())
    if args.json:
        print(json.dumps(verdict.as_json(), indent=2))
    print(f"report: {config.out_dir / 'report.txt'}, {config.out_dir / 'verdict.json'}")
    return 0 if verdict.ok else EXIT_FAILED


async def _until_sigterm(run: Coroutine[Any, Any, T]) -> T | None:
    """Await ``run``; on SIGTERM cancel it and return None once its own cleanup is done.

    A run's PostgreSQL is a server of its own, started by ``pg_ctl``: by default SIGTERM (``kill``, a timeout, a
    Job's pod deleted) ended the process at once and the server, with its temporary directory, outlived it. A
    cancelled run stops its desk and removes its database on the way out, as after a verdict."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    terminated = False

    def on_sigterm() -> None:
        nonlocal terminated
        if terminated:  # once: a second SIGTERM must not cut the cleanup short
            return
        terminated = True
        if task is not None:
            task.cancel()

    loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    try:
        return await run
    except asyncio.CancelledError:
        if terminated:
            return None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def _session_offset(text: str) -> int:
    from tradingdesk.simulate.faults import session_offset_s

    try:
        return session_offset_s(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``tradingdesk simulate`` to the CLI."""
    p = sub.add_parser("simulate", help="replay a trading session with faults on an embedded desk; print the verdict")
    p.add_argument("-f", "--file", required=True, help="TradingDesk YAML (replay feeds); copied into --out")
    p.add_argument("--out", required=True, help="new or empty directory for the run's desk, record and report")
    p.add_argument("--speed", type=int, default=100, help="replay speed, 1 to 100 (default 100)")
    p.add_argument("--rate", type=float, default=200.0, help="strategy orders per second, wall time (default 200)")
    p.add_argument(
        "--start",
        type=_session_offset,
        default=0,
        help="where in the session the run starts: market seconds or HH:MM:SS after the open (default 0, the open)",
    )
    p.add_argument("--duration", type=int, help="market seconds to run from the start (default: to the close)")
    p.add_argument("--faults", help="fault schedule YAML (docs/simulation.md)")
    p.add_argument(
        "--min-availability", type=float, default=0.9999, help="the availability verdict's target (default 0.9999)"
    )
    p.add_argument("--probe-timeout", type=float, default=1.0, help="wall seconds a probe may wait for its ack")
    p.add_argument("--warmup", type=float, default=30.0, help="wall seconds allowed for the desk to start")
    p.add_argument(
        "--routing-replicas",
        type=int,
        choices=(1, 2),
        help="routing processes of the run's desk (default: the desk file's spec.services.routing.replicas); 2 runs "
        "a hot standby, which needs a database_down fault in --faults (the run is on PostgreSQL then)",
    )
    p.add_argument(
        "--outage-spool",
        action="store_true",
        help="spec.routing.outageSpool of the run's desk: routing acknowledges orders through a database outage "
        "from its local spool (default: the desk file's); with --routing-replicas 2 the standby takes the spool over "
        "when it takes over",
    )
    p.add_argument("--json", action="store_true", help="also print the verdict as JSON")
    p.set_defaults(func=cmd_simulate)
