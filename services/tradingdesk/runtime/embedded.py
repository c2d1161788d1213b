"""The embedded runtime: all five services on one machine, each in its own process and port.

Each child runs exactly what a pod runs (``tradingdesk serve <service>``), so the embedded desk exercises
the production code path. Processes rather than threads also let routing use a core of its own. A child dies
with the process that started it (``runtime/lifeline.py``); ``runtime/supervisor.py`` restarts one that crashes.

With ``spec.services.routing.replicas`` 2 or more, routing runs twice: the active process and a hot standby, the
code a routing pod's standby runs (``routing/service.py``): it follows the journal and takes over when the active
process's database session ends, which is when that process dies. Both report their health on a unix socket of
their own (``--own-address``) and only the active one listens on routing's address and metrics port, so every
client keeps dialing the one address and never reaches the standby. The fence that makes one of them the writer
is PostgreSQL's (``storage/fence.py``): a standby needs the desk on PostgreSQL.

``stop`` leaves the audit trail sealed with everything journaled even when compliance is down or restarting at
that moment (SIGKILLed, its restart still in the supervisor's backoff): it brings compliance back first, which
records the journals from where it stopped, and seals through its ``Seal``; then it stops routing first as
always. When compliance cannot come back within the bound, the stop says so loudly, never silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy.engine import make_url

from tradingdesk.edge.clock import REPLAY_ORIGIN_ENV
from tradingdesk.edge.directory import ServiceDirectory
from tradingdesk.markets.calendar_source import desk_calendars
from tradingdesk.monitoring.restarts import SUPERVISION_STATUS_ENV, SUPERVISION_STATUS_FILE
from tradingdesk.runtime.lifeline import SUPERVISOR_PID_ENV
from tradingdesk.security import channels
from tradingdesk.security.channels import ClientCredentials
from tradingdesk.security.local import RUNTIME_IDENTITY, client_of, ensure_local
from tradingdesk.spec.domain import data_dir, dsn_for
from tradingdesk.spec.model import SERVICE_NAMES, TradingDesk, clock_source
from tradingdesk.v1 import compliance_pb2, compliance_pb2_grpc

# Routing stops first so no order arrives while the others drain; monitoring last to watch it all.
STOP_ORDER = ("routing", "compliance", "feeds", "risk", "monitoring")
READY_TIMEOUT_S = 60.0  # five interpreters start in ~3 s on an idle machine; a loaded one can take far longer
"""How long the services get to answer SERVING; TD_READY_TIMEOUT_S overrides it."""
REPLAY_ORIGIN_FILE = "replay-clock-origin"
SEAL_ON_STOP_TIMEOUT_S = 60.0
"""How long a stop gives a compliance process that is down or was restarted to serve, record the journals from
where it stopped and seal them, before the services stop (routing keeps taking orders meanwhile)."""
SEAL_ACTOR = "runtime"
"""The ``actor`` of the seal the embedded runtime asks for as it stops (a ``seal`` record in the audit log)."""
SPAWN_SETTLE_S = 10.0
"""How long a stop waits for a start of a process already under way (the supervisor's, cancelled mid-spawn)."""


STANDBY_CAPABLE = ("routing",)
"""Services the embedded desk runs a hot standby of when their ``replicas`` is 2 or more: routing, whose restart
costs the most (its snapshot and journal replay, seconds of refused orders). Other services run one process."""


def describe_exit(returncode: int) -> str:
    """``killed by SIGKILL`` or ``exit code 3``: how a child ended, as a person reads it."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class Child:
    name: str
    address: str
    process: asyncio.subprocess.Process
    own_address: str = ""
    """Where the process reports its health when its service has a standby (a unix socket); else empty."""


def standbys_of(desk: TradingDesk, env: dict[str, str]) -> tuple[str, ...]:
    """The services that run a hot standby in the embedded desk. Raises ValueError when one is asked for on SQLite:
    the standby's fence, the journal's writer lock, is PostgreSQL's (``storage/fence.py``); on SQLite both
    processes would append to one journal."""
    wanted = tuple(name for name in STANDBY_CAPABLE if getattr(desk.spec.services, name).replicas >= 2)
    for name in wanted:
        if make_url(dsn_for(desk, name, env)).get_backend_name() != "postgresql":
            raise ValueError(
                f"spec.services.{name}.replicas: {getattr(desk.spec.services, name).replicas}: a {name} standby in "
                "the embedded desk needs PostgreSQL (TD_DSN or TD_DSN_FILE), whose writer lock lets only one process "
                f"write the journal; on SQLite set it to 1"
            )
    return wanted


def replay_origin(desk: TradingDesk, env: dict[str, str]) -> int:
    """The origin of the desk's replay clock (``edge/clock.py``): given in the environment, else the one stored
    with the desk's data, else now (then stored). Every child gets the same one, and a restarted desk goes on
    from where its clock was, so time never runs back in its journal; delete the file to start again from
    today's session."""
    if env.get(REPLAY_ORIGIN_ENV):
        return int(env[REPLAY_ORIGIN_ENV])
    path = data_dir(desk, env) / REPLAY_ORIGIN_FILE
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        origin = time.time_ns()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{origin}\n")
        return origin


# The health name each service reports ready on, when not the whole process (""): routing's OrderService is
# SERVING once its risk gate has the risk service's picture, so an "up" desk's kill switch reaches every gate.
READINESS_NAMES = {"routing": "tradingdesk.v1.OrderService"}


async def wait_serving(
    address: str, deadline: float, *, service: str = "", credentials: ClientCredentials | None = None
) -> bool:
    # A child listens only once its imports are done (seconds on a busy machine); gRPC's default reconnect backoff
    # would grow to tens of seconds meanwhile and report the desk up long after every child serves.
    if address.startswith("unix:"):  # a process's own health socket: plaintext (``runtime/service.py``)
        channel = grpc.aio.insecure_channel(address, options=list(channels.FAST_RECONNECT))
    else:
        channel = channels.aio_channel(address, options=channels.FAST_RECONNECT, credentials=credentials)
    async with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                resp = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=0.5)
                if resp.status == health_pb2.HealthCheckResponse.SERVING:
                    return True
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.05)
    return False


class EmbeddedDesk:
    def __init__(
        self, desk: TradingDesk, spec_path: Path, *, log_dir: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.desk = desk
        self.spec_path = spec_path
        self.directory = ServiceDirectory.for_desk(desk, env or dict(os.environ))
        self.log_dir = log_dir
        # Each child dies with this process, even a SIGKILLed one (runtime/lifeline.py).
        self.env = {**os.environ, **(env or {}), SUPERVISOR_PID_ENV: str(os.getpid())}
        self.children: dict[str, Child] = {}
        """Each service's process; of a service with a standby, the active one (what a client of it reaches)."""
        self.standbys: dict[str, Child] = {}
        """The standby process of each service that has one (``standbys_of``), while there is one."""
        self.with_standby = standbys_of(desk, self.env)
        self._sockets: Path | None = None
        self._spawned = 0
        self.spare: asyncio.subprocess.Process | None = None
        """The warm spare, while there is one (``start_spare``)."""
        self._spare_lock = asyncio.Lock()
        self.credentials: ClientCredentials | None = None
        """The runtime's own client identity (``svc:runtime``), once ``start`` made the desk's certificates."""
        self._first_pids: dict[str, int] = {}
        """The pid ``start`` started each service with: another pid is a restart (``stop`` seals after one)."""
        self._spawning: set[asyncio.Future[None]] = set()
        """One future per ``spawn`` under way, done when it returns."""
        if clock_source(desk) == "replay":
            self.env[REPLAY_ORIGIN_ENV] = str(replay_origin(desk, self.env))
        if log_dir is not None:  # the supervisor's status, where the monitoring service reads restarts
            self.env[SUPERVISION_STATUS_ENV] = str(log_dir / SUPERVISION_STATUS_FILE)

    async def spawn(self, name: str, *, warm: bool = False, standby: bool = False) -> Child:
        """Start (or start again) one service's process; its output is appended to ``<log_dir>/<name>.log``.

        With ``warm``, the warm spare (``start_spare``) becomes the service when there is one alive: it has the
        services' code imported already, which is most of a fresh interpreter's start. With ``standby``, the process
        is the service's standby (``standbys``): started while the active one holds the writer lock, it stands by."""
        done = asyncio.get_running_loop().create_future()
        self._spawning.add(done)  # a stop waits for it: the child it starts is in ``children`` by then
        try:
            argv = ["serve", name, "-f", str(self.spec_path)]
            own_address = self._own_address(name) if name in self.with_standby else ""
            if own_address:
                argv += ["--own-address", own_address]
            nice = self.desk.spec.services.nice_of(name)
            if nice:
                argv += ["--nice", str(nice)]
            proc = await self._hand_to_spare(argv, name) if warm else None
            if proc is None:
                proc = await self._start_process([sys.executable, "-m", "tradingdesk.cli.main", *argv], name)
            child = Child(name, self.directory.address(name), proc, own_address)
            (self.standbys if standby else self.children)[name] = child
            return child
        finally:
            self._spawning.discard(done)
            done.set_result(None)

    def _own_address(self, name: str) -> str:
        """A new unix socket for one process of a service with a standby, in a directory only this user can enter
        (the health it serves there is plaintext)."""
        if self._sockets is None:
            self._sockets = Path(tempfile.mkdtemp(prefix="td-replicas-"))  # mode 0700
        self._spawned += 1
        return f"unix:{self._sockets / f'{name}-{self._spawned}.sock'}"

    async def _hand_to_spare(self, argv: list[str], name: str) -> asyncio.subprocess.Process | None:
        """The warm spare, told to run ``argv`` with its output in ``name``'s log; None when there is none alive."""
        spare, self.spare = self.spare, None
        if spare is None or spare.returncode is not None or spare.stdin is None:
            return None
        log = str(self.log_dir / f"{name}.log") if self.log_dir is not None else ""
        # It waits at nice 19 where it may raise its priority again itself (``cli/spare.py``), but it would do so
        # only once it runs, and on a loaded machine a nice-19 process waits its turn for tens of milliseconds
        # before it even reads its order. Raised here first (it is our child: the pid is still its); where this
        # process may not (no CAP_SYS_NICE), the spare raises its own as before.
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, spare.pid, os.getpriority(os.PRIO_PROCESS, 0))
        try:
            spare.stdin.write(json.dumps({"argv": argv, "log": log}).encode() + b"\n")
            await spare.stdin.drain()
            spare.stdin.close()
        except (BrokenPipeError, ConnectionResetError):  # it died just now: the service starts afresh
            return None
        return spare

    async def start_spare(self) -> None:
        """Start a warm spare (``tradingdesk/cli/spare.py``) unless one is alive: a Python process that imports
        every service's code and waits for ``spawn(..., warm=True)`` to make it one. Its own output (an import
        that failed) goes to ``<log_dir>/spare.log``."""
        async with self._spare_lock:  # two callers at once must not start two spares, one of them untracked
            if self.spare is not None and self.spare.returncode is None:
                return
            self.spare = await self._start_process(
                [sys.executable, "-m", "tradingdesk.cli.spare"], "spare", stdin=asyncio.subprocess.PIPE
            )

    async def _start_process(self, cmd: list[str], log_name: str, *, stdin: int | None = None):
        out = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{log_name}.log", "ab")  # noqa: SIM115 - closed once the child has its copy
        try:
            return await asyncio.create_subprocess_exec(*cmd, env=self.env, stdin=stdin, stdout=out, stderr=out)
        finally:
            if out is not None:
                out.close()  # the child holds its own copy of the descriptor

    async def stop_spare(self, timeout: float = 5.0) -> None:
        """End the warm spare: the end of its input tells it no service needs it."""
        spare, self.spare = self.spare, None
        if spare is None or spare.returncode is not None:
            return
        if spare.stdin is not None:
            spare.stdin.close()
        try:
            async with asyncio.timeout(timeout):
                await spare.wait()
        except TimeoutError:
            spare.kill()
            await spare.wait()

    async def start(self, print_line=print, ready_timeout: float = READY_TIMEOUT_S) -> None:
        if self.desk.spec.access.tls:  # the desk's CA and certificates, created on the first start
            pki = await asyncio.to_thread(ensure_local, self.desk, self.env)
            self.credentials = client_of(pki, RUNTIME_IDENTITY)
        # Computed once here, the calendars are read from their cache by every child (no pandas at start).
        await asyncio.to_thread(desk_calendars, self.desk)
        if self.log_dir is not None:  # a previous run's restarts are not this one's
            (self.log_dir / SUPERVISION_STATUS_FILE).unlink(missing_ok=True)
        for name in SERVICE_NAMES:
            self._first_pids[name] = (await self.spawn(name)).process.pid
        deadline = time.monotonic() + float(self.env.get("TD_READY_TIMEOUT_S") or ready_timeout)
        children = list(self.children.values())
        results = await asyncio.gather(
            *(
                wait_serving(c.address, deadline, service=READINESS_NAMES.get(c.name, ""), credentials=self.credentials)
                for c in children
            )
        )
        failed = [c.name for c, ok in zip(self.children.values(), results, strict=True) if not ok]
        # The standbys once their services serve: the active process holds the writer lock by then, so the one
        # started now stands by (and its replay of the journal does not slow the desk's start).
        for name in self.with_standby:
            if name not in failed:
                standby = await self.spawn(name, standby=True)
                if not await wait_serving(standby.own_address, deadline):
                    failed.append(f"{name} (standby)")
        if failed:
            await self.stop(seal_timeout=0)  # nothing traded yet: no wait for a compliance that did not start
            raise RuntimeError(f"services did not become ready: {', '.join(failed)}")
        for c in self.children.values():
            print_line(f"{c.name:<11} serving on {c.address}  (grpc.health.v1 SERVING, pid {c.process.pid})")
        for c in self.standbys.values():
            print_line(
                f"{c.name:<11} standing by (pid {c.process.pid}): takes {c.address} over if pid "
                f"{self.children[c.name].process.pid} ends"
            )

    async def stop(
        self,
        timeout: float = 15.0,
        *,
        seal_timeout: float = SEAL_ON_STOP_TIMEOUT_S,
        report: Callable[[str], None] = to_stderr,
    ) -> None:
        """Stop every process: first make sure the audit trail is sealed with everything journaled
        (``seal_before_stop``, at most ``seal_timeout`` seconds; 0 skips it), then routing first, so no order
        arrives while the others drain, and monitoring last. Stop supervision before: a process stopped here must
        not be restarted."""
        if self._spawning:  # a restart under way (supervision cancelled mid-spawn): its child is stopped too
            await asyncio.wait(set(self._spawning), timeout=SPAWN_SETTLE_S)
        if seal_timeout > 0:
            await self.seal_before_stop(seal_timeout, report=report)
        await self.stop_spare()
        for name in STOP_ORDER:
            # a standby first: stopped after its active process, it would take over, only to drain at once
            for child in (self.standbys.get(name), self.children.get(name)):
                if child is None or child.process.returncode is not None:
                    continue
                child.process.send_signal(signal.SIGTERM)
                try:
                    async with asyncio.timeout(timeout):
                        await child.process.wait()
                except TimeoutError:
                    child.process.kill()
                    await child.process.wait()
        if self._sockets is not None:
            shutil.rmtree(self._sockets, ignore_errors=True)

    async def seal_before_stop(self, timeout: float, *, report: Callable[[str], None] = to_stderr) -> bool:
        """When compliance is down (crashed, its restart pending) or is not the process the desk started with (a
        restart, perhaps still recording what it missed), have it record the journals and seal before anything
        stops: a down one is started again (through the warm spare when there is one), and once it serves, its
        ``Seal`` waits until it has recorded what routing and risk journaled so far, then seals. Routing still
        stops first, and compliance's own stop seals what routing journaled while it drained. A compliance that
        started with the desk and still runs has recorded as it went: nothing to do. False, after a line saying
        the trail is not sealed and what to do, when compliance does not serve or seal within ``timeout``
        seconds."""
        child = self.children.get("compliance")
        if child is None:
            return True
        deadline = time.monotonic() + timeout
        if child.process.returncode is not None:
            why = f"compliance (pid {child.process.pid}) {describe_exit(child.process.returncode)} and was down"
            report(
                f"stopping the desk: {why}; starting it again to record the journals and seal the audit trail "
                f"(at most {timeout:.0f}s; routing takes orders until then)"
            )
            child = await self.spawn("compliance", warm=True)
        elif child.process.pid == self._first_pids.get("compliance"):
            return True
        else:
            why = f"compliance was restarted (pid {child.process.pid})"
            report(f"stopping the desk: {why}; sealing the audit trail once it recorded the journals")
        serving = asyncio.ensure_future(wait_serving(child.address, deadline, credentials=self.credentials))
        ended = asyncio.ensure_future(child.process.wait())
        done, pending = await asyncio.wait({serving, ended}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if child.process.returncode is not None:
            log = f"; its log: {self.log_dir / 'compliance.log'}" if self.log_dir is not None else ""
            return self._not_sealed(f"compliance exited ({describe_exit(child.process.returncode)}{log})", report)
        if serving not in done or not serving.result():
            return self._not_sealed(f"compliance did not serve within {timeout:.0f}s", report)
        request = compliance_pb2.SealRequest(actor=SEAL_ACTOR, reason=f"the desk stops; {why}")
        async with channels.aio_channel(child.address, credentials=self.credentials) as channel:
            try:
                sealed = await compliance_pb2_grpc.ComplianceServiceStub(channel).Seal(
                    request, timeout=max(1.0, deadline - time.monotonic())
                )
            except grpc.aio.AioRpcError as err:
                return self._not_sealed(f"compliance's Seal answered {err.code().name}: {err.details()}", report)
        report(
            f"audit trail sealed at {sealed.tree_size} records (routing's journal to seq {sealed.journal_seq}); "
            "stopping the desk, routing first"
        )
        return True

    def _not_sealed(self, why: str, report: Callable[[str], None]) -> bool:
        spec = self.desk.spec.compliance.audit_bucket
        bucket = f"s3://{spec.bucket}/{self.desk.name}" if spec.kind == "s3" else f"{spec.path}/{self.desk.name}"
        report(
            f"AUDIT TRAIL NOT SEALED as the desk stops: {why}. What routing and risk journaled since compliance's "
            f"last seal is kept in their journals (and compliance's spool) but is not in the audit bucket "
            f"{bucket}. Fix compliance (its log), start the desk again "
            "(tradingdesk up): compliance records the journals from where it stopped, and a stop or "
            "spec.compliance.checkpoints.everySeconds later seals them; check with tradingdesk audit verify "
            "(docs/runbooks/audit-seal.md)"
        )
        return False
