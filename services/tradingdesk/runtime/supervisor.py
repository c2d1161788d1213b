"""Supervision of the embedded runtime: a crashed service process is restarted while the others keep running.

The policy is ``spec.supervision`` (spec/supervision.py): exponential backoff between restarts (x4 a crash), a bound on
restarts per window after which the desk stops, and a halt of the desk when compliance stays down too long.
What trading does meanwhile follows from the services themselves: routing keeps its journal and trades while
compliance is down (compliance records the journal from its last recorded seq once it is back); every routing
gate refuses new orders while risk is down (RISK_STREAM_LOST). The one decision taken here is the compliance
halt: through the risk service, like a person's ``SetTradingState``, with actor ``supervisor`` and a reason
naming the outage. It is latched: nothing here resumes trading; a person does (``tradingdesk resume``).

A service with a standby (routing with ``replicas`` 2 or more, ``runtime/embedded.py``) has two processes. When
the active one ends, the standby takes over by itself; the supervisor only follows: the standby becomes the
service's process (``EmbeddedDesk.children``: what a SIGKILL of "routing" kills next), and the ended one is
restarted as the new standby. Every restart of either counts as one of the service's restarts (so the monitoring
service's ``ServiceRestarted`` reports the crash, which no probe sees when the takeover is quick), within the same
``maxRestarts`` budget.

Every crash and restart is one line on stderr, and ``<log_dir>/supervision.json`` holds each service's pid,
state and restart count (and its standby's pid and state), rewritten on every change.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from tradingdesk.monitoring.restarts import SUPERVISION_STATUS_FILE
from tradingdesk.runtime.embedded import READINESS_NAMES, Child, EmbeddedDesk, describe_exit, wait_serving
from tradingdesk.security import channels
from tradingdesk.spec.supervision import SupervisionSpec
from tradingdesk.v1 import common_pb2, risk_pb2, risk_pb2_grpc

STATUS_FILE = SUPERVISION_STATUS_FILE
SUPERVISOR_ACTOR = "supervisor"
RESTART_READY_TIMEOUT_S = 60.0  # how long a restarted process may take to report SERVING before it is logged
HALT_RETRY_S = 0.5  # between attempts to halt while the risk service does not answer
HALT_CALL_TIMEOUT_S = 5.0
SPARE_DELAY_S = 15.0
"""How long after a restarted service serves the next warm spare starts."""
BACKOFF_GROWTH = 4
"""Each further crash in the window multiplies the delay by this: the first restart comes after a short delay (a
single crash is the common case, and each millisecond of it refuses orders), and a crash loop still waits about as
long in all before the desk gives up (20, 80, 320, 1,280 and 5,120 ms with the defaults: 6.8 s) as it did when
the delay doubled from 200 ms (6.2 s), time for a passing cause (a database restarting) to clear."""


class GiveUp(Exception):
    """A service crashed more often than the policy allows: the desk stops, with this message."""


@dataclass
class RestartPolicy:
    """When to restart a service that crashed at ``now``, from the crashes before it; pure, for unit tests."""

    spec: SupervisionSpec
    crashes: deque[float] = field(default_factory=deque)

    def next_delay(self, name: str, now: float) -> tuple[int, float]:
        """Record a crash; return (restart attempt in the window, delay in seconds), or raise GiveUp."""
        window = self.spec.restart_window_seconds
        while self.crashes and now - self.crashes[0] > window:
            self.crashes.popleft()
        if len(self.crashes) >= self.spec.max_restarts:
            raise GiveUp(
                f"service {name} crashed {len(self.crashes) + 1} times within {window}s "
                f"(spec.supervision.maxRestarts={self.spec.max_restarts}); giving up and stopping the desk"
            )
        self.crashes.append(now)
        attempt = len(self.crashes)
        delay_ms = min(
            self.spec.restart_backoff_initial_ms * BACKOFF_GROWTH ** (attempt - 1), self.spec.restart_backoff_max_ms
        )
        return attempt, delay_ms / 1000


@dataclass
class StandbyState:
    """The standby process of a service that has one (``EmbeddedDesk.standbys``)."""

    pid: int
    state: str = "standby"  # standby (following the journal) | down (ended, restart pending) | starting
    last_exit: str = ""


@dataclass
class ServiceState:
    """A service's process; of one with a standby, the active process, and the standby beside it. ``restarts``
    counts every process of the service started again, the standby's too: each was a crash."""

    pid: int
    state: str = "serving"  # serving | down (crashed, restart pending) | starting (restarted, not SERVING yet)
    # | taking over (its standby became the active process when it ended, not SERVING yet)
    restarts: int = 0
    last_restart_ns: int = 0  # wall clock: the monitoring service (another process) judges it against its own
    last_exit: str = ""
    down_since: float | None = None
    standby: StandbyState | None = None


class Supervisor:
    """Watches the children of an ``EmbeddedDesk`` and restarts them; ``run`` returns only to stop the desk."""

    def __init__(
        self,
        embedded: EmbeddedDesk,
        *,
        report: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.embedded = embedded
        self.spec = embedded.desk.spec.supervision
        self.report = report or (lambda line: print(line, file=sys.stderr, flush=True))
        self.clock = clock
        self.policies = {name: RestartPolicy(self.spec) for name in embedded.children}
        self.services = {name: ServiceState(pid=c.process.pid) for name, c in embedded.children.items()}
        for name, standby in embedded.standbys.items():
            self.services[name].standby = StandbyState(pid=standby.process.pid)
        self.halted_reason = ""
        self._compliance_up = asyncio.Event()
        self._compliance_up.set()
        self._halt_watch: asyncio.Task | None = None
        self._background: set[asyncio.Task] = set()

    async def run(self) -> str:
        """Supervise until a service is given up on; returns why the desk must stop. Cancel it to stop it."""
        if self.spec.warm_spare:  # at once: the desk has only just started, and the market is rarely open yet
            await self.embedded.start_spare()
        self._write_status()
        watchers = [
            asyncio.create_task(self._watch_pair(name) if name in self.embedded.with_standby else self._watch(name))
            for name in self.embedded.children
        ]
        try:
            done, _ = await asyncio.wait(watchers, return_when=asyncio.FIRST_EXCEPTION)
            failure = next(t.exception() for t in done if t.exception() is not None)
            why = str(failure) if isinstance(failure, GiveUp) else f"supervision failed: {failure!r}; stopping the desk"
            self._write_status(gave_up=why)
            return why
        finally:
            tasks = (*watchers, *self._background, *([self._halt_watch] if self._halt_watch else []))
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _watch(self, name: str) -> None:
        while True:
            child = self.embedded.children[name]
            code = await child.process.wait()
            now = self.clock()
            state = self.services[name]
            state.state, state.last_exit = "down", describe_exit(code)
            if state.down_since is None:
                state.down_since = now
            if name == "compliance":
                self._compliance_went_down()
            attempt, delay = self.policies[name].next_delay(name, now)  # raises GiveUp
            self.report(
                f"supervisor: {name} (pid {child.process.pid}) {state.last_exit}; restarting in {delay:.3g}s "
                f"(restart {attempt} of at most {self.spec.max_restarts} in {self.spec.restart_window_seconds}s)"
            )
            self._write_status()
            await asyncio.sleep(delay)  # the backoff itself: a crash loop must not spin
            # shielded: a stop that cancels supervision mid-spawn still finds the new child in embedded.children
            restarted = await asyncio.shield(self.embedded.spawn(name, warm=self.spec.warm_spare))
            state.pid, state.state = restarted.process.pid, "starting"
            state.restarts += 1
            state.last_restart_ns = time.time_ns()
            self._write_status()
            self._in_background(self._until_serving(name, restarted.process.pid))

    async def _watch_pair(self, name: str) -> None:
        """A service with a standby: whichever of its two processes ends is restarted as the standby. When the active
        one ended, the standby takes over by itself (the writer lock is free once the ended process's database
        session is gone) and becomes the service's process here. Only when there is no live standby does the
        restarted process start as the active one, as a service without a standby does."""
        while True:
            processes = [c for c in (self.embedded.children[name], self.embedded.standbys.get(name)) if c is not None]
            waits = {asyncio.ensure_future(c.process.wait()): c for c in processes}
            try:
                done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for wait in waits:
                    wait.cancel()
            await self._replica_ended(name, waits[next(iter(done))])

    async def _replica_ended(self, name: str, ended: Child) -> None:
        now = self.clock()
        state = self.services[name]
        standby = state.standby = state.standby or StandbyState(pid=0, state="down")
        exit_ = describe_exit(ended.process.returncode or 0)
        attempt, delay = self.policies[name].next_delay(name, now)  # raises GiveUp: both processes share the budget
        budget = f"(restart {attempt} of at most {self.spec.max_restarts} in {self.spec.restart_window_seconds}s)"
        as_standby = True
        if ended is self.embedded.children[name]:
            state.last_exit = exit_
            if state.down_since is None:
                state.down_since = now
            survivor = self.embedded.standbys.get(name)
            if survivor is not None and survivor.process.returncode is None:
                del self.embedded.standbys[name]
                self.embedded.children[name] = survivor  # what the injector, the tests and the next crash see
                state.pid, state.state = survivor.process.pid, "taking over"
                standby.pid, standby.state, standby.last_exit = 0, "down", exit_
                self.report(
                    f"supervisor: {name} (pid {ended.process.pid}) {exit_}; its standby (pid {survivor.process.pid}) "
                    f"takes over; the ended one restarts as the standby in {delay:.3g}s {budget}"
                )
                self._in_background(self._until_serving(name, survivor.process.pid))
            else:  # no live standby (an ended one is still in standbys: it is restarted on the next round)
                as_standby = False
                state.state = "down"
                self.report(
                    f"supervisor: {name} (pid {ended.process.pid}) {exit_}; restarting in {delay:.3g}s {budget}"
                )
        else:
            del self.embedded.standbys[name]
            standby.pid, standby.state, standby.last_exit = ended.process.pid, "down", exit_
            self.report(
                f"supervisor: {name} standby (pid {ended.process.pid}) {exit_}; restarting in {delay:.3g}s {budget}"
            )
        self._write_status()
        await asyncio.sleep(delay)  # the backoff itself: a crash loop must not spin
        restarted = await asyncio.shield(self.embedded.spawn(name, warm=self.spec.warm_spare, standby=as_standby))
        state.restarts += 1
        state.last_restart_ns = time.time_ns()
        if as_standby:
            standby.pid, standby.state = restarted.process.pid, "starting"
            self._in_background(self._until_standing_by(name, restarted))
        else:
            state.pid, state.state = restarted.process.pid, "starting"
            self._in_background(self._until_serving(name, restarted.process.pid))
        self._write_status()

    async def _until_standing_by(self, name: str, child: Child) -> None:
        """A restarted standby is ready once it reports its health on its own address: it has replayed the journal
        and follows it."""
        started = self.clock()
        ready = await wait_serving(child.own_address, time.monotonic() + RESTART_READY_TIMEOUT_S)
        if self.spec.warm_spare:
            self._in_background(self._spare_later())
        standby = self.services[name].standby
        if standby is None or standby.pid != child.process.pid or child.process.returncode is not None:
            return  # ended again meanwhile (or took over): its watcher reports it
        if not ready:
            self.report(
                f"supervisor: {name} standby (pid {child.process.pid}) not ready {RESTART_READY_TIMEOUT_S:.0f}s "
                "after its restart"
            )
            return
        standby.state = "standby"
        self.report(
            f"supervisor: {name} standby (pid {child.process.pid}) standing by after {self.clock() - started:.1f}s"
        )
        self._write_status()

    async def _until_serving(self, name: str, pid: int) -> None:
        child = self.embedded.children[name]
        deadline = time.monotonic() + RESTART_READY_TIMEOUT_S
        ready = await wait_serving(
            child.address,
            deadline,
            service=READINESS_NAMES.get(child.name, ""),
            credentials=self.embedded.credentials,
        )
        if self.spec.warm_spare:
            self._in_background(self._spare_later())
        state = self.services[name]
        if state.pid != pid or child.process.returncode is not None:
            return  # crashed again meanwhile: its watcher reports it
        if not ready:
            self.report(f"supervisor: {name} (pid {pid}) not SERVING {RESTART_READY_TIMEOUT_S:.0f}s after its restart")
            return
        down_for = self.clock() - (state.down_since or self.clock())
        state.state, state.down_since = "serving", None
        self.report(f"supervisor: {name} serving again on {child.address} (pid {pid}) after {down_for:.1f}s down")
        self._write_status()
        if name == "compliance":
            self._compliance_up.set()

    async def _spare_later(self) -> None:
        """Start the next warm spare ``SPARE_DELAY_S`` from now: its imports take half a core for seconds (less
        at nice 19, where it may take it), which a desk recovering from a crash needs for itself (a spare started
        as soon as a restarted risk served cost routing's probes seconds more in a simulated day)."""
        await asyncio.sleep(SPARE_DELAY_S)
        await self.embedded.start_spare()
        self._write_status()

    def _compliance_went_down(self) -> None:
        self._compliance_up.clear()
        if self._halt_watch is None or self._halt_watch.done():  # one watch per outage, from its first crash
            self._halt_watch = asyncio.create_task(self._halt_if_compliance_stays_down())

    async def _halt_if_compliance_stays_down(self) -> None:
        bound = self.spec.halt_after_compliance_down_seconds
        try:
            async with asyncio.timeout(bound):
                await self._compliance_up.wait()
            return
        except TimeoutError:
            pass
        reason = (
            f"supervision: compliance down for more than {bound}s "
            f"(spec.supervision.haltAfterComplianceDownSeconds; last exit: {self.services['compliance'].last_exit}); "
            "orders are not being recorded in the audit trail"
        )
        self.report(f"supervisor: halting the desk: {reason}")
        await self._halt(reason)

    async def _halt(self, reason: str) -> None:
        """HALTED for the whole desk through the risk service; retried while risk does not answer."""
        address = self.embedded.directory.address("risk")
        async with channels.aio_channel(address, credentials=self.embedded.credentials) as channel:
            risk = risk_pb2_grpc.RiskServiceStub(channel)
            while True:
                try:
                    now = await risk.GetTradingState(risk_pb2.GetTradingStateRequest(), timeout=HALT_CALL_TIMEOUT_S)
                    if now.state == common_pb2.TRADING_STATE_HALTED:
                        self.report(f"supervisor: the desk was already halted by {now.actor}: {now.reason}")
                    else:
                        info = await risk.SetTradingState(
                            risk_pb2.SetTradingStateRequest(
                                state=common_pb2.TRADING_STATE_HALTED, actor=SUPERVISOR_ACTOR, reason=reason
                            ),
                            timeout=HALT_CALL_TIMEOUT_S,
                        )
                        self.halted_reason = info.reason
                        self.report(
                            f"supervisor: desk HALTED (applied by {info.delivery.applied} of "
                            f"{info.delivery.gates} routing gate(s)); a person resumes it: tradingdesk resume"
                        )
                    self._write_status()
                    return
                except grpc.aio.AioRpcError as err:
                    self.report(f"supervisor: cannot halt yet, risk answers {err.code().name}: {err.details()}")
                await asyncio.sleep(HALT_RETRY_S)

    def _in_background(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _write_status(self, gave_up: str = "") -> None:
        """``<log_dir>/supervision.json``, replaced atomically so a reader never sees half of it."""
        if self.embedded.log_dir is None:
            return
        doc = {
            "services": {
                name: {
                    "pid": s.pid,
                    "state": s.state,
                    "restarts": s.restarts,
                    "lastRestartNs": s.last_restart_ns,
                    "lastExit": s.last_exit,
                    **(
                        {"standby": {"pid": s.standby.pid, "state": s.standby.state, "lastExit": s.standby.last_exit}}
                        if s.standby is not None
                        else {}
                    ),
                }
                for name, s in self.services.items()
            },
            "haltedBySupervisor": self.halted_reason,
            "gaveUp": gave_up,
            "spare": {"pid": spare.pid if (spare := self.embedded.spare) is not None else 0},
        }
        path = Path(self.embedded.log_dir) / STATUS_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
        os.replace(tmp, path)
