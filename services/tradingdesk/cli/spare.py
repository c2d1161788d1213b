"""A warm spare: a Python process that has imported every service's code and waits to become the next one the
supervisor restarts.

A crashed service's restart used to start a fresh interpreter and import grpc, SQLAlchemy, OpenTelemetry and
the service's modules before it could even read the spec: about 2 s on an idle machine and 3 s on a busy one, out
of the 4-5 s a risk restart took in a simulated day, all of it with the gate failing closed. The supervisor keeps
one spare ready instead (``spec.supervision.warmSpare``), hands it the crashed service's command line, and starts
the next spare once the restarted service serves again.

It imports at the lowest CPU priority (nice 19) where it may raise it again once it has its order (root with
CAP_SYS_NICE, or an RLIMIT_NICE that allows it), so that it takes only what the desk leaves idle. The supervisor
raises it back before it writes the order, where it may (``runtime/embedded.py``): a nice-19 spare on a loaded
machine would wait its turn before it could even read it. It also computes, while it waits, what a restarted
service would otherwise compute first (``precompute``).

The spare reads one JSON line from its standard input: ``{"argv": [...], "log": "<path or empty>"}``. It points
its output at ``log`` and runs ``tradingdesk <argv>`` (``serve <service> -f <spec>``) exactly as a fresh child
would. An end of input instead (the supervisor stopped, or died) ends it.

Run as ``python -m tradingdesk.cli.spare`` (the embedded runtime starts it: ``runtime/embedded.py``).
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import sys

from tradingdesk.runtime.lifeline import die_with_parent
from tradingdesk.runtime.malloc import limit_arenas

PRELOADED = (
    "tradingdesk.cli.main",
    "tradingdesk.runtime.factory",
    "tradingdesk.runtime.service",
    "tradingdesk.security.server",
    "tradingdesk.security.expiry",
    "tradingdesk.telemetry",
    "tradingdesk.telemetry.logs",
    "tradingdesk.feeds.service",
    "tradingdesk.routing.service",
    "tradingdesk.risk.service",
    "tradingdesk.compliance.service",
    "tradingdesk.monitoring.service",
    # Alembic is imported only when a service brings its schema to head at start (storage/db.py), and importing
    # it pulls in mako and pygments' lexers: 60 ms on an idle machine, half a second of a restarted risk service's
    # first second in a simulated day at 100x.
    "alembic.command",
    "alembic.config",
    "alembic.script",
    "alembic.runtime.migration",
    # The PostgreSQL driver, which ``make_engine`` imports for a desk on PostgreSQL (a dependency of every install):
    # 90 ms of CPU, a quarter of a second on a loaded machine, of a restarted routing before its schema check.
    "sqlalchemy.dialects.postgresql.psycopg",
    "psycopg",  # the dialect imports it only when an engine is made
)
"""What ``tradingdesk serve`` imports for any of the five services, up to the point where it serves."""


def take_order(line: str) -> tuple[list[str], str]:
    """The command line and log path of a spare's order; ValueError names what is wrong with it."""
    try:
        order = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"a spare's order must be one JSON object: {exc}") from exc
    argv = order.get("argv") if isinstance(order, dict) else None
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise ValueError("a spare's order needs argv: a non-empty list of strings")
    log = order.get("log", "")
    if not isinstance(log, str):
        raise ValueError("a spare's order's log must be a path or empty")
    return argv, log


def redirect_output(path: str) -> None:
    """Append this process's stdout and stderr to ``path``, as the supervisor does for a fresh child."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


IDLE_NICENESS = 19


def may_raise_priority() -> bool:
    """Whether this process may lower its nice value again (CAP_SYS_NICE, or RLIMIT_NICE allowing it): tried
    one step below the current value, then put back."""
    now = os.getpriority(os.PRIO_PROCESS, 0)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, now - 1)
    except OSError:
        return False
    os.setpriority(os.PRIO_PROCESS, 0, now)
    return True


def preload() -> None:
    """Import ``PRELOADED``, then move everything the imports made out of the collector's reach (``gc.freeze``).

    Modules live as long as the process, yet each full collection walks all of their objects: 150,000 of them
    here, about 100 ms of CPU a collection. A restarted routing set one off while it built its service (the
    calendar's 5,000 sessions are enough), which took 140 ms of CPU instead of 21 before its schema check; frozen,
    collections during a restart walk only what the service itself made. The collection before the freeze runs
    here, while the spare waits (at nice 19 where it may), not after a crash."""
    for module in PRELOADED:
        importlib.import_module(module)
    precompute()
    gc.collect()
    gc.freeze()


def precompute() -> None:
    """What a restarted service would otherwise compute after the crash and the spare can now, each cached per
    process: the digests of the code routing's and risk's journal snapshots are keyed by
    (``storage.snapshots.code_digest``: reading and hashing the sources took 5-20 ms of a restarted routing's
    start) and the migrations' head revision (``storage.db.head_revision``: Alembic reading its scripts, most
    of the schema check's CPU)."""
    from tradingdesk.risk.snapshots import STATE_CODE as RISK_STATE_CODE
    from tradingdesk.storage.db import head_revision
    from tradingdesk.storage.snapshots import code_digest

    code_digest()
    code_digest(RISK_STATE_CODE)
    head_revision()


def main() -> int:
    die_with_parent(dict(os.environ))  # a spare of `tradingdesk up` ends with it, as its services do
    limit_arenas()  # before any import starts a thread
    # The imports take half a core for seconds, which a busy desk needs for itself: at the lowest priority, when
    # the service can get its own back (a service left at nice 19 would be worse than a slower restart).
    priority = os.getpriority(os.PRIO_PROCESS, 0)
    idle = may_raise_priority()
    if idle:
        os.setpriority(os.PRIO_PROCESS, 0, IDLE_NICENESS)
    preload()
    line = sys.stdin.readline()
    if not line.strip():
        return 0  # no order: the supervisor stopped, or is gone
    if idle:
        os.setpriority(os.PRIO_PROCESS, 0, priority)
    argv, log = take_order(line)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # the supervisor's pipe is not the service's input
    os.close(devnull)
    if log:
        redirect_output(log)
    from tradingdesk.cli.main import main as tradingdesk

    return tradingdesk(argv)


if __name__ == "__main__":
    sys.exit(main())
