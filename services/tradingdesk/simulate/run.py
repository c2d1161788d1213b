"""One simulation from start to verdict: derive the desk, start it supervised, trade, inject, stop, judge.

The desk is the embedded runtime of ``tradingdesk up`` (five processes, supervised), started from a copy of
the given spec whose state lives in the run directory: a fresh journal and audit bucket each run, so the
verdict reads exactly this run's record. Its replay feeds and clock run at ``speed``; one pass of the replay
is one session of the exchange calendar (open to close of the day replayed). The replay clock's origin is
set ``warmup_s`` ahead, so the session starts at its open once the desk is up and the clients start.

State lives in SQLite files of the run directory, unless a fault takes the database down: then the run starts a
PostgreSQL cluster of its own (``simulate/database.py``) for the desk, and removes it once the verdict is read.

``run_session`` is the part after the desk is up (clients, probe, injector, verdict); it talks to the desk only
through ``simulate/target.py``, so the local cluster's test desk runs the same session (``SimulationConfig
.on_cluster``).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from tradingdesk.core.clock import NS_PER_SECOND
from tradingdesk.core.tasks import stop_tasks
from tradingdesk.edge.clock import JOIN_AFTER_WALL_S, REPLAY_ORIGIN_ENV, desk_clock
from tradingdesk.edge.clock_skew import SKEW_DIR_ENV
from tradingdesk.markets.calendar import ExchangeCalendar
from tradingdesk.markets.calendar_source import load_calendar
from tradingdesk.markets.replay_clock import default_first_day
from tradingdesk.runtime.embedded import EmbeddedDesk
from tradingdesk.security import channels
from tradingdesk.security.local import client_of
from tradingdesk.security.tls import local_pki
from tradingdesk.simulate.alert_watch import AlertWatch
from tradingdesk.simulate.clients import ClientLog, OrderFactory, Prices, Rate, SessionClient, UnaryClient
from tradingdesk.simulate.clock_steps import ClockStepWatch
from tradingdesk.simulate.database import SimulationDatabase
from tradingdesk.simulate.faults import CLUSTER_KINDS, EMBEDDED_KINDS, Fault, load_schedule
from tradingdesk.simulate.injector import Injector
from tradingdesk.simulate.probe_process import ProbeConfig, ProbeProcess
from tradingdesk.simulate.target import DeskUnderTest, EmbeddedTarget
from tradingdesk.simulate.verdict import Verdict, compute
from tradingdesk.spec.domain import instruments_of
from tradingdesk.spec.load import load_desk
from tradingdesk.spec.model import TradingDesk

MAX_SPEED = 100
JOIN_SLACK_S = 15.0
"""Wall seconds kept between the replay's open and the feeds process's start (``warmup_s``): more than its start
takes on a loaded machine."""
PRICES_TIMEOUT_S = 60.0
"""How long the clients wait for every symbol's first traded price before the session starts anyway."""
PROBE_READY_SLACK_S = 10.0
STOP_GRACE_S = 30.0
"""How long the run's clients and tasks get to clean up once cancelled (the probe waits for its process and
collects its records); one still running then is cancelled again (a cancellation ``asyncio.wait_for`` swallowed on
Python 3.11 kept a client sending orders, and the run never ended) until ``STOP_CLIENTS_S``."""
STOP_CLIENTS_S = 60.0
"""How much longer than the clients the probe process may take to have its prices: it starts an interpreter first."""


class SimulationError(ValueError):
    """The simulation cannot start as asked (the message says why); nothing was started."""


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    spec_path: Path
    out_dir: Path
    speed: int = 100
    rate: float = 200.0
    """Strategy orders per second (wall time), split between the unary and the session client."""
    duration_s: int | None = None
    """Market seconds to run from the start (default: to the close)."""
    start_s: int = 0
    """Market seconds after the open at which the run starts: the desk's clock and its replay feeds join the session
    there (the feeds' own join, ``edge/clock.replay_join_ns``), so the busy close can be run without the day before
    it. The fault schedule's offsets count from this start."""
    faults_path: Path | None = None
    min_availability: float = 0.9999
    probe_timeout_s: float = 1.0
    warmup_s: float = 30.0
    routing_replicas: int | None = None
    """``spec.services.routing.replicas`` of the run's desk (default: the desk file's); 2 runs a hot standby of
    routing, which needs the run on PostgreSQL (a ``database_down`` fault in the schedule)."""
    outage_spool: bool | None = None
    """``spec.routing.outageSpool`` of the run's desk (default: the desk file's): routing acknowledges orders through
    a database outage from its local spool; with ``routing_replicas`` 2 a standby that takes over takes it over."""
    on_cluster: bool = False
    """The desk runs on a Kubernetes cluster, started by the caller from the run's spec (the local cluster's
    test, ``tests/operator/test_simulate_cluster_e2e.py``): its storage and audit bucket stay the desk file's
    (the cluster's database and the pods' volumes), and the schedule may lose pods and nodes (``CLUSTER_KINDS``)
    but not SIGKILL processes, take the simulation's own database away or skew clocks (``EMBEDDED_KINDS``)."""


@dataclass(frozen=True, slots=True)
class Plan:
    config: SimulationConfig
    desk: TradingDesk
    spec_path: Path
    calendar: ExchangeCalendar
    day: date
    session_s: int
    run_s: int
    faults: list[Fault]
    account: str
    identity: str | None
    """Who the simulated clients and the fault injector are (``spec.access.identities``); None: TLS is off."""

    @property
    def session_close_ns(self) -> int:
        """The regular close of the session simulated (UTC ns)."""
        trading_day = self.calendar.on(self.day)
        assert trading_day is not None, "prepare chose a trading day"
        return trading_day.session.close_ns


def _trading_account(desk: TradingDesk) -> str:
    for account in desk.spec.accounts:
        if not account.strategies:
            return account.name
    raise SimulationError("the desk needs an account without a strategies list: the simulated clients trade it")


def _client_identity(desk: TradingDesk, account: str, faults: list[Fault]) -> str | None:
    """An identity with a client certificate that may trade ``account`` (and, when there are faults, list the
    desk's alerts and take feed lines out of service or fault a venue): the desk's mutual TLS lets the simulated
    clients in as it would any client."""
    if not desk.spec.access.tls:
        return None
    controls = any(f.kind in ("feed_line_down", "venue_fault") for f in faults)  # operations' controls
    watches = bool(faults)  # the alert watch reads ListAlerts (operations) to time each fault's detection
    roles = {"trader"} | ({"operations"} if controls or watches else set())
    for identity in desk.spec.access.identities:
        if identity.certificate and roles <= set(identity.roles) and {"*", account} & set(identity.accounts):
            return identity.name
    raise SimulationError(
        f"spec.access.identities: the simulated clients need an identity with a certificate, the roles "
        f"{', '.join(sorted(roles))} and account {account} (or '*')"
    )


def _check_where_faults_run(faults: list[Fault], *, on_cluster: bool) -> None:
    """Refuse, before any desk starts, a fault the desk under test cannot take."""
    wrong = [f for f in faults if f.kind in (EMBEDDED_KINDS if on_cluster else CLUSTER_KINDS)]
    if not wrong:
        return
    kinds = ", ".join(sorted({f.kind for f in wrong}))
    if on_cluster:
        raise SimulationError(
            f"the fault schedule has {kinds}: these need the embedded desk (its processes, the simulation's own "
            "database, its clocks' skew files), not a desk on a cluster"
        )
    raise SimulationError(
        f"the fault schedule has {kinds}: these need a desk on the local Kubernetes cluster (pods and nodes; "
        "tests/operator/test_simulate_cluster_e2e.py runs one), not the embedded desk of tradingdesk simulate"
    )


def warmup_s(config: SimulationConfig) -> float:
    """Wall seconds from launching the desk to the run's start: ``config.warmup_s``, longer when ``start_s`` would put
    the replay's open (``start_s / speed`` wall seconds before the start) so near the feeds process's own start that
    it would replay from the open instead of joining (``edge/clock.replay_join_ns`` joins only a replay begun more
    than ``JOIN_AFTER_WALL_S`` ago). Then the open is put ``JOIN_SLACK_S`` after the launch: the feeds wait for it and
    replay on schedule from there."""
    behind_s = config.start_s / config.speed
    if config.warmup_s - JOIN_SLACK_S < behind_s < config.warmup_s + JOIN_AFTER_WALL_S + JOIN_SLACK_S:
        return behind_s + JOIN_SLACK_S
    return config.warmup_s


def prepare(config: SimulationConfig) -> Plan:
    """Check everything and write the run's desk spec; raises SimulationError (or FaultScheduleError)."""
    if not 1 <= config.speed <= MAX_SPEED:
        raise SimulationError(f"--speed {config.speed}: must be from 1 to {MAX_SPEED}")
    if config.rate <= 0:
        raise SimulationError(f"--rate {config.rate:g}: must be > 0 orders/s")
    if config.out_dir.exists() and any(config.out_dir.iterdir()):
        raise SimulationError(f"--out {config.out_dir}: not empty (each run starts from a fresh journal and bucket)")
    source = load_desk(config.spec_path)
    if any(f.kind != "replay" for f in source.spec.feeds):
        raise SimulationError("every feed of the desk must be a replay feed: the simulation replays a session")
    if source.spec.compliance.audit_bucket.kind != "filesystem" and not config.on_cluster:
        raise SimulationError("the simulation's verdict reads a filesystem audit bucket; S3 is not yet supported")
    calendar = load_calendar(source.spec.instruments[0].listing.exchange)
    start = source.spec.conduct.clock.replay_start
    if start:
        day = date.fromisoformat(start)
    else:
        today = datetime.now(UTC).astimezone(ZoneInfo(calendar.timezone)).date()
        day = default_first_day(calendar, today)
    trading_day = calendar.on(day)
    if trading_day is None:
        raise SimulationError(f"{day} is not a session of {calendar.exchange}")
    session_s = (trading_day.session.close_ns - trading_day.session.open_ns) // NS_PER_SECOND
    if not 0 <= config.start_s < session_s:
        raise SimulationError(f"--start {config.start_s}: must be from 0 to under the session's {session_s} seconds")
    left_s = session_s - config.start_s
    run_s = left_s if config.duration_s is None else config.duration_s
    if not 1 <= run_s <= left_s:
        raise SimulationError(f"--duration {run_s}: must be from 1 to the {left_s} seconds from the start to the close")
    faults = load_schedule(config.faults_path, desk=source, session_s=run_s) if config.faults_path else []
    _check_where_faults_run(faults, on_cluster=config.on_cluster)

    doc = yaml.safe_load(config.spec_path.read_text())
    spec = doc["spec"]
    for feed in spec["feeds"]:
        replay = feed.setdefault("replay", {})
        replay["speed"] = str(config.speed)
        replay["sessionSeconds"] = session_s
    spec.setdefault("conduct", {}).setdefault("clock", {})["replayStart"] = day.isoformat()
    if config.routing_replicas is not None:
        spec.setdefault("services", {}).setdefault("routing", {})["replicas"] = config.routing_replicas
    if config.outage_spool is not None:
        spec["routing"] = {**(spec.get("routing") or {}), "outageSpool": config.outage_spool}
    routing_replicas = spec.get("services", {}).get("routing", {}).get("replicas", 1)
    if routing_replicas >= 2 and not config.on_cluster and not any(f.kind == "database_down" for f in faults):
        raise SimulationError(
            f"spec.services.routing.replicas: {routing_replicas}: a routing standby needs the simulation on "
            "PostgreSQL, which it runs only for a schedule with a database_down fault (its writer lock is the "
            "standby's fence; on SQLite, run with --routing-replicas 1)"
        )
    if not config.on_cluster:
        spec["storage"] = {**spec.get("storage", {}), "dataDir": str(config.out_dir / "var")}
        spec["storage"].pop("postgres", None)
        spec.setdefault("compliance", {})["auditBucket"] = {
            **spec.get("compliance", {}).get("auditBucket", {}),
            "kind": "filesystem",
            "path": str(config.out_dir / "audit"),
        }
    config.out_dir.mkdir(parents=True, exist_ok=True)
    spec_path = config.out_dir / "desk.yaml"
    spec_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    desk = load_desk(spec_path)
    account = _trading_account(desk)
    identity = _client_identity(desk, account, faults)
    return Plan(config, desk, spec_path, calendar, day, session_s, run_s, faults, account, identity)


async def simulate(plan: Plan, *, say: Callable[[str], None] = print) -> Verdict:
    """Run the plan and return its verdict; every artefact goes to the run directory."""
    database = None
    if any(f.kind == "database_down" for f in plan.faults):
        say("starting the simulation's own PostgreSQL (a fault takes the database down)")
        database = await asyncio.to_thread(SimulationDatabase().start)
    try:
        return await _simulate(plan, database=database, say=say)
    finally:
        if database is not None:
            await asyncio.to_thread(database.destroy)


async def _simulate(plan: Plan, *, database: SimulationDatabase | None, say: Callable[[str], None]) -> Verdict:
    config, out = plan.config, plan.config.out_dir
    start_wall_ns = time.time_ns() + int(warmup_s(config) * NS_PER_SECOND)
    origin_ns = start_wall_ns - config.start_s * NS_PER_SECOND // config.speed  # the open, in wall time
    env = {REPLAY_ORIGIN_ENV: str(origin_ns)}
    if database is not None:
        env["TD_DSN"] = database.dsn
    if any(f.kind == "clock_skew" for f in plan.faults):  # only then do the services' clocks read a skew file
        env[SKEW_DIR_ENV] = str(out / "var" / "clock-skew")
    embedded = EmbeddedDesk(plan.desk, plan.spec_path, log_dir=out / "logs", env=env)
    say(
        f"simulating {plan.day} on {plan.calendar.exchange}: {plan.run_s}s of its {plan.session_s}s session"
        f"{f' from {config.start_s}s after the open' if config.start_s else ''} at "
        f"{config.speed}x, {config.rate:g} orders/s, {len(plan.faults)} fault(s); record in {out}"
    )
    await embedded.start(print_line=say)
    credentials = None
    if plan.identity is not None:  # the desk's certificates exist once it started
        credentials = client_of(local_pki(plan.desk, embedded.env), plan.identity)
        channels.use(credentials)
    target = EmbeddedTarget(embedded, report=say)
    return await run_session(
        plan,
        target,
        origin_ns=origin_ns,
        start_wall_ns=start_wall_ns,
        credentials=credentials,
        database=database,
        say=say,
    )


async def run_session(
    plan: Plan,
    target: DeskUnderTest,
    *,
    origin_ns: int,
    start_wall_ns: int,
    credentials: channels.ClientCredentials | None = None,
    database: SimulationDatabase | None = None,
    say: Callable[[str], None] = print,
) -> Verdict:
    """Trade, probe and inject on a started desk from ``start_wall_ns`` for the plan's run, stop the desk, and
    judge the record. ``origin_ns``: the wall time of the replay's open, the one the desk's services count their
    clock from (the clients and the probe must tell the same time); ``credentials``: the clients' (None: no
    TLS). Shared by ``tradingdesk simulate`` (the embedded desk) and the local cluster's test desk."""
    config, out = plan.config, plan.config.out_dir
    clock = desk_clock(plan.desk, {**target.env, REPLAY_ORIGIN_ENV: str(origin_ns)})
    watchdog = asyncio.create_task(target.watch())
    log = ClientLog()
    rate = Rate(config.rate / 2)
    prices = Prices(target.address("feeds"), instruments_of(plan.desk))
    background = [asyncio.create_task(prices.refresh_forever())]
    window = (0, 0)
    gave_up = ""
    steps = ClockStepWatch(market_now=clock.now_ns, speed=config.speed)
    routing = target.address("routing")
    run_id = f"sim{uuid.uuid4().hex[:8]}"
    close_ns = plan.session_close_ns  # the clients and the probe send nothing after it (OrderFactory)
    tasks: list[asyncio.Task] = []  # the clients', the probe's and the injector's, once the session starts
    probe = ProbeProcess(
        ProbeConfig(
            routing=routing,
            feeds=target.address("feeds"),
            spec_path=str(plan.spec_path),
            origin_ns=origin_ns,
            account=plan.account,
            run_id=run_id,
            speed=config.speed,
            timeout_s=config.probe_timeout_s,
            records=str(out / "logs" / "probe.jsonl"),
            prices_timeout_s=PRICES_TIMEOUT_S,
            session_close_ns=close_ns,
            **ProbeConfig.credential_paths(credentials),
        ),
        log=log,
        stderr_path=out / "logs" / "probe.log",
        say=say,
    )
    try:
        await probe.start()  # its own process: started now, it is ready (its own prices) when the session starts
        deadline = time.monotonic() + PRICES_TIMEOUT_S
        await prices.wait_for_every_symbol(deadline=deadline)
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic()) + PROBE_READY_SLACK_S):
                probe_ready = await probe.ready()
            if not probe_ready:
                say("SIMULATION PROBE FAILED: the probe process exited before the session started")
        except TimeoutError:  # it starts probing as soon as it has its prices
            say("the probe process has no prices yet as the session starts")
        await asyncio.sleep(max(0.0, (start_wall_ns - time.time_ns()) / NS_PER_SECOND))
        factory = OrderFactory(prices, account=plan.account, run_id=run_id, until_ns=close_ns, now=clock.now_ns)
        now = clock.now_ns
        load = [
            UnaryClient(routing, factory, rate=lambda: rate.now, log=log, clock=clock).run(),
            SessionClient(routing, factory, rate=lambda: rate.now, log=log, clock=clock).run(),
            probe.run(),
        ]
        start_ns = now()  # the run's start: the measured window's, and the fault schedule's origin
        # the injector counts the schedule from it on the desk's clock, not from its task's first step, which comes
        # after the clients' first steps (3.3 to 5.1 market seconds later in the 20x days)
        injector = Injector(target, plan.faults, rate=rate, clock=clock, start_ns=start_ns, database=database)
        watch = AlertWatch(target.address("monitoring"), market_now=now)
        if plan.faults:
            load.append(watch.run())
        load.append(steps.run())
        say(f"session started at {datetime.fromtimestamp(start_ns / NS_PER_SECOND, UTC):%Y-%m-%d %H:%M:%S} UTC")
        tasks.extend(asyncio.create_task(c) for c in (*load, injector.run()))
        done, _ = await asyncio.wait({watchdog}, timeout=plan.run_s / config.speed)
        window = (start_ns, now())
        crashed = [task for task in tasks if task.done() and not task.cancelled() and task.exception()]
        for task in await stop_tasks(tasks, grace_s=STOP_GRACE_S, within_s=STOP_CLIENTS_S):
            say(f"a client did not stop when cancelled within {STOP_CLIENTS_S:g}s: {task.get_coro().__qualname__}")
        for task in crashed:
            log.crashed.append(f"{task.get_coro().__qualname__}: {task.exception()!r}")
            say(f"a client stopped before the end of the run: {log.crashed[-1]}")
        tasks.clear()  # stopped and said: none left for the cleanup below
        if watchdog in done:
            gave_up = watchdog.result()
            say(f"the session ended early: {gave_up}")
    finally:
        # a run cancelled mid-session (SIGTERM) stops its clients and probe here, before the probe's process is
        # killed: the probe's task stops its process itself, and a killed one would be said as a probe that failed
        stuck = await stop_tasks([*tasks, watchdog, *background], grace_s=STOP_GRACE_S, within_s=STOP_CLIENTS_S)
        for task in stuck:
            say(f"a task of the run did not stop when cancelled: {task.get_coro().__qualname__}")
        for task in tasks:  # a cancelled run has no verdict to say a crashed client in: taken, not left to asyncio
            if task.done() and not task.cancelled():
                task.exception()
        await probe.kill()  # only if the run ended before the probe's task stopped it
        await target.stop(say=say, log_dir=out / "logs")
    log.write(out)
    watch.write(out)
    steps.write(out)
    with (out / "faults.jsonl").open("w") as f:
        for event in sorted(injector.events, key=lambda e: e["market_ns"]):  # changes are stamped when begun
            f.write(json.dumps(event) + "\n")
    verdict = compute(
        plan.desk,
        out,
        calendar=plan.calendar,
        window=window,
        min_availability=config.min_availability,
        run_id=run_id,
        speed=config.speed,
        gave_up=gave_up,
        environ=dict(target.env),
        not_judged=target.not_judged,
    )
    verdict.figures["orders_per_s"] = round(verdict.figures["orders_acknowledged"] / (plan.run_s / config.speed), 1)
    (out / "verdict.json").write_text(json.dumps(verdict.as_json(), indent=2) + "\n")
    (out / "report.txt").write_text(verdict.text() + "\n")
    return verdict
