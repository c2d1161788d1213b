"""The probe in a process of its own: its own interpreter and GIL, so the load it measures cannot make it late.

On a thread of the simulation's process the probe shared the GIL with the strategy clients, the supervisor and the
alert watch: when they were busy its metronome ran late, sent its overdue probes in a bunch stamped with the current
market second, and the seconds between had none (212 of the 1,370 seconds a full day at 100x lost were
``NO_PROBE``). The measuring instrument must not be starved by the load generator it measures.

The simulation starts ``python -m tradingdesk.simulate.probe_process`` (``ProbeProcess``) once the desk is up and
talks to it through the child's standard streams and one file:

* stdin: one JSON line, its ``ProbeConfig``; then ``go`` when the session starts; then end of file when the run
  is over (the probe waits for the answers of the probes in flight, up to their timeout, and exits 0).
* stdout: ``ready`` once it has the price of every instrument from its own market-data subscription (or gave up
  waiting, as the simulation does), before the session starts; nothing else.
* ``records``: one JSON line per probe as it is answered, ``{"probe": {...}, "ack": {...} | null}``, written and
  flushed at once; the simulation reads the file when the child has exited, into the same ``ClientLog`` the strategy
  clients write (``probes.jsonl``, ``acks.jsonl``): the verdict reads exactly what it read before. A file rather
  than a pipe, so that the probe never waits on a simulation too busy to read, and what a probe process that died
  had recorded is still there.
* stderr: its log (``logs/probe.log`` of the run), with a line for each market-data snapshot that failed.

The probe prices its orders from its own snapshots of the feeds service (``GetSnapshot`` every 0.1 s, a 2 s
timeout): the bid of each symbol (the order is 1% under it) and the symbol the feed updated last (the one it
probes). A snapshot that fails leaves the last answer's prices in place: the probe of that second is still sent,
priced from them, and counted by its answer (acknowledged, or lost with the code it got; ``NO_PRICE`` only before
any snapshot answered), never skipped and never ``NO_PROBE``. Each failure during the run is said in the log with
its market time and code, and written to ``records`` as ``{"snapshot_failed": {"market_ns", "code", "why"}}``:
the simulation counts them by code (``clients.json``'s ``probe_snapshot_failures``, a figure and a note of the
report). Until December 2026 they were swallowed without a trace.

The child dies with the simulation however that one ends (``runtime/lifeline.py``, as the desk's services do). A
child that exits before the run is over, or with a status other than 0, is said at once and is a crashed client
(``clients.json``, and the verdict's ``clients_ran_to_the_end`` fails): its seconds are not silently counted as
``NO_PROBE``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from tradingdesk.edge.clock import REPLAY_ORIGIN_ENV, desk_clock
from tradingdesk.runtime.lifeline import SUPERVISOR_PID_ENV, die_with_parent
from tradingdesk.security import channels
from tradingdesk.security.channels import ClientCredentials
from tradingdesk.simulate.clients import Acked, ClientLog, OrderFactory, Prices, Probe
from tradingdesk.spec.domain import instruments_of
from tradingdesk.spec.load import load_desk

GO = "go"
READY = "ready"
STOP_GRACE_S = 10.0
"""Wall seconds a probe process may take, beyond its probes' timeout, to exit once told the run is over."""
STDERR_TAIL_CHARS = 600
SNAPSHOT_FAILED = "snapshot_failed"
"""The key of a record line that is a failed market-data snapshot, not a probe."""


class ProbeProcessDied(RuntimeError):
    """The probe process exited before the run was over: from then on no probe was sent."""


@dataclass(frozen=True, slots=True)
class ProbeConfig:
    """What the probe process needs, sent to it as JSON: where routing and feeds are, the run's desk spec (its
    instruments and clock), the replay's origin, the account and run id of its orders, and its credentials."""

    routing: str
    feeds: str
    spec_path: str
    origin_ns: int
    account: str
    run_id: str
    speed: float
    timeout_s: float
    records: str
    """The file the probe process writes its records to."""
    prices_timeout_s: float
    session_close_ns: int = 0
    """The close of the session simulated: no probe after it (``OrderFactory``); 0 for no end."""
    ca: str | None = None
    cert: str | None = None
    key: str | None = None

    @staticmethod
    def credential_paths(credentials: ClientCredentials | None) -> dict[str, str | None]:
        """The certificate files of ``credentials`` (the simulation's client identity: files, never a token)."""
        if credentials is None:
            return {}
        return {
            name: str(path) if path else None
            for name, path in (
                ("ca", credentials.ca),
                ("cert", credentials.cert),
                ("key", credentials.key),
            )
        }


class ProbeProcess:
    """The simulation's side: starts the probe process, tells it when to start and stop, and takes its records."""

    def __init__(self, config: ProbeConfig, *, log: ClientLog, stderr_path: Path, say: Callable[[str], None]) -> None:
        self.config = config
        self.log = log
        self.stderr_path = stderr_path
        self.say = say
        self._proc: asyncio.subprocess.Process | None = None
        self._collected = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def start(self) -> None:
        """Start the child; it begins by subscribing to market data."""
        self.stderr_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, SUPERVISOR_PID_ENV: str(os.getpid())}
        with self.stderr_path.open("ab") as stderr:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                __name__,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                env=env,
            )
        self._proc.stdin.write(json.dumps(asdict(self.config)).encode() + b"\n")
        await self._proc.stdin.drain()

    async def ready(self) -> bool:
        """Wait until the child has its prices (or gave up waiting for them); False if it exited instead."""
        line = await self._proc.stdout.readline()
        return line.decode().strip() == READY

    async def run(self) -> None:
        """Probe from now until cancelled (then stop the child and take its records); raises ProbeProcessDied if
        the child exits before."""
        proc = self._proc
        try:
            if proc.returncode is None:
                proc.stdin.write(f"{GO}\n".encode())
                await proc.stdin.drain()
            await proc.stdout.read()  # end of file: the child exited
            code = await proc.wait()
        except (BrokenPipeError, ConnectionResetError):
            code = await proc.wait()
        except asyncio.CancelledError:
            await self._stop()
            raise
        self._collect()
        message = f"the probe process exited during the run ({_exit_of(code)}): no probe was sent after its last "
        message += f"record{self._stderr_tail()}"
        self.say(f"SIMULATION PROBE FAILED: {message}")
        raise ProbeProcessDied(message)

    async def kill(self) -> None:
        """For a run that ends before its session started: the child must not outlive it."""
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
            await self._proc.wait()

    async def _stop(self) -> None:
        proc = self._proc
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()  # end of file: the run is over
        try:
            async with asyncio.timeout(self.config.timeout_s + STOP_GRACE_S):
                code = await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()
            code = None
        self._collect()
        if code != 0:
            crash = f"ProbeProcess: did not stop cleanly ({_exit_of(code)}){self._stderr_tail()}"
            self.log.crashed.append(crash)
            self.say(f"SIMULATION PROBE FAILED: {crash}")

    def _collect(self) -> None:
        """The child's records into the log, once (a line cut short by the child's death is skipped)."""
        if self._collected:
            return
        self._collected = True
        path = Path(self.config.records)
        if not path.exists():
            return
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if SNAPSHOT_FAILED in entry:
                self.log.probe_snapshot_failures[entry[SNAPSHOT_FAILED]["code"]] += 1
                continue
            if entry["ack"] is not None:
                self.log.acked.append(Acked(**entry["ack"]))
            self.log.probes.append(entry["probe"])

    def _stderr_tail(self) -> str:
        try:
            tail = self.stderr_path.read_text(errors="replace")[-STDERR_TAIL_CHARS:].strip()
        except OSError:
            return ""
        return f"; its log {self.stderr_path} ends: {tail}" if tail else f"; its log {self.stderr_path} is empty"


def _exit_of(code: int | None) -> str:
    if code is None:
        return f"killed after {STOP_GRACE_S:g} s past its probes' timeout"
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit status {code}"


class RecordFile:
    """The child's side of the records: one flushed JSON line per probe, from whichever thread answered it."""

    def __init__(self, path: Path) -> None:
        self._out = path.open("a")
        self._lock = threading.Lock()

    def __call__(self, probe: dict, ack: Acked | None) -> None:
        self._write({"probe": probe, "ack": asdict(ack) if ack is not None else None})

    def snapshot_failed(self, *, market_ns: int, code: str, why: str) -> None:
        """A market-data snapshot of the probe's that failed during the run."""
        self._write({SNAPSHOT_FAILED: {"market_ns": market_ns, "code": code, "why": why[:160]}})

    def _write(self, entry: dict) -> None:
        line = json.dumps(entry) + "\n"
        with self._lock:
            self._out.write(line)
            self._out.flush()

    def close(self) -> None:
        with self._lock:
            self._out.close()


async def _probe(config: ProbeConfig) -> None:
    """The child: its own prices, ``ready``, then probe from ``go`` to the end of stdin. A metronome that fails
    raises here, and the process exits 1 with its traceback on stderr."""
    stdin = _stdin_lines()
    desk = load_desk(Path(config.spec_path))
    if config.cert:
        channels.use(
            ClientCredentials(ca=Path(config.ca) if config.ca else None, cert=Path(config.cert), key=Path(config.key))
        )
    instruments = instruments_of(desk)
    clock = desk_clock(desk, {REPLAY_ORIGIN_ENV: str(config.origin_ns)})  # loads the exchange calendar
    record = RecordFile(Path(config.records))
    running = False  # from ``go``: a failed snapshot is recorded, not only said

    def snapshot_failed(code: str, why: str) -> None:
        market_ns = clock.now_ns()
        when = "during the run" if running else "before the session"
        print(
            f"GetSnapshot failed at market {market_ns} {when}: {code}: {why}; probing with the last prices",
            file=sys.stderr,
            flush=True,
        )
        if running:
            record.snapshot_failed(market_ns=market_ns, code=code, why=why)

    prices = Prices(config.feeds, instruments, failed=snapshot_failed)
    refresher = asyncio.create_task(prices.refresh_forever())
    await prices.wait_for_every_symbol(deadline=time.monotonic() + config.prices_timeout_s)
    probe = Probe(  # made now: at ``go`` only its thread starts
        config.routing,
        OrderFactory(
            prices, account=config.account, run_id=config.run_id, until_ns=config.session_close_ns, now=clock.now_ns
        ),
        record=record,
        clock=clock,
        speed=config.speed,
        timeout_s=config.timeout_s,
    )
    print(READY, flush=True)
    sys.stdout = sys.stderr  # stdout carries only ``ready``
    try:
        if await stdin.get() != GO:
            return  # end of file: the run ended before its session started
        running = True
        probing = asyncio.create_task(probe.run())
        over = asyncio.create_task(stdin.get())  # end of file: the run is over
        await asyncio.wait({probing, over}, return_when=asyncio.FIRST_COMPLETED)
        probing.cancel()
        await asyncio.gather(probing, return_exceptions=True)
        if not over.done():
            over.cancel()
            probing.result()  # the metronome failed: raise what stopped it
    finally:
        refresher.cancel()
        await asyncio.gather(refresher, return_exceptions=True)
        record.close()
        if prices.failures:
            failures = ", ".join(f"{code} {n}" for code, n in prices.failures.most_common())
            print(f"GetSnapshot failed {prices.failures.total()} time(s) in all: {failures}", file=sys.stderr)


def _stdin_lines() -> asyncio.Queue[str]:
    """stdin's lines, stripped, then "" at its end, read on a daemon thread (one the process need not wait for
    when it exits on an error while the simulation still holds stdin open)."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line.strip())
        loop.call_soon_threadsafe(lines.put_nowait, "")

    threading.Thread(target=read, name="probe-stdin", daemon=True).start()
    return lines


def main() -> None:
    die_with_parent(dict(os.environ))
    config = ProbeConfig(**json.loads(sys.stdin.readline()))
    asyncio.run(_probe(config))


if __name__ == "__main__":
    main()
