"""The fault schedule of a simulation: a YAML file of market-time offsets and faults, checked before the run.

    faults:
      - {at: "00:10:00", kind: sigkill, service: compliance}
      - {at: 1800, kind: feed_line_down, feed: vendor-a, line: A, for: 120}
      - {at: "02:00:00", kind: burst, for: 60, factor: 2}
      - {at: "03:00:00", kind: venue_fault, venue: xnys, mode: away, for: 300}
      - {at: "04:00:00", kind: database_down, for: 30}
      - {at: "05:00:00", kind: database_down, for: 30, how: crash}
      - {at: "04:00:00", kind: clock_skew, service: routing, offset_ms: -2500, for: 120}
      - {at: 600, kind: pod_kill, service: routing}
      - {at: 1200, kind: node_down, for: 60}

``at`` is the offset from the start of the run (the open, or ``simulate --start``) in market time (seconds, or
``HH:MM:SS``); ``for`` a duration in market seconds. A ``database_down`` fault's ``how`` (``simulate/database.py``)
is ``refuse`` (the default: the server refuses the desk's sessions for ``for``) or ``crash`` (the server crashes
and restarts: the outage includes its restart). Every problem (an unknown kind, a time outside the session, a
service, feed or line the desk does not have) is refused with its place in the file before the desk starts.

``pod_kill`` (the active pod of routing deleted at once, as a crashed pod) and ``node_down`` (the node of
routing's active pod powered off for ``for``) need a desk on a Kubernetes cluster (``CLUSTER_KINDS``); the
embedded desk of ``tradingdesk simulate`` has no pods or nodes, and ``simulate/run.py`` refuses them for it.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tradingdesk.simulate.database import DOWN_HOWS
from tradingdesk.spec.model import SERVICE_NAMES, TradingDesk

CLUSTER_KINDS = ("pod_kill", "node_down")
"""Kinds only a desk on a cluster can take: its pods and nodes (``simulate/target.py``, ``ClusterActions``)."""
EMBEDDED_KINDS = ("sigkill", "database_down", "clock_skew")
"""Kinds only the embedded desk can take: its processes on this machine, the simulation's own PostgreSQL, the
skew files its services' clocks read."""
BUILT_KINDS = ("sigkill", "feed_line_down", "burst", "venue_fault", "database_down", "clock_skew", *CLUSTER_KINDS)
LEADER_SERVICES = ("routing",)
"""Services whose active pod a ``pod_kill`` or ``node_down`` can find: routing has one active replica (the Ready
one) and standbys; the other services' replicas are all alike."""
VENUE_FAULT_MODES = ("reject_all", "away", "timeout")
MAX_BURST_FACTOR = 10
MAX_SKEW_MS = 3_600_000
"""An hour: past it a skew is a wrong date, not a failed NTP, and the drill would test the calendar instead."""
_CLOCK = re.compile(r"^(\d{1,2}):([0-5]\d):([0-5]\d)$")


class FaultScheduleError(ValueError):
    """The schedule file cannot be run as written; the message names each problem and where."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault: what, when (market seconds from the session's start) and for how long (0: an instant)."""

    at_s: int
    kind: str
    service: str = ""
    feed: str = ""
    line: str = ""
    duration_s: int = 0
    factor: int = 1
    venue: str = ""
    mode: str = ""
    offset_ms: int = 0
    how: str = ""
    """How a database_down fault takes the database away (``DOWN_HOWS``)."""

    def describe(self) -> str:
        if self.kind == "sigkill":
            return f"SIGKILL {self.service}"
        if self.kind == "feed_line_down":
            return f"feed {self.feed} line {self.line} down for {self.duration_s}s"
        if self.kind == "venue_fault":
            return f"venue {self.venue} {self.mode} for {self.duration_s}s"
        if self.kind == "database_down":
            crash = " (crash and restart)" if self.how == "crash" else ""
            return f"database down for {self.duration_s}s{crash}"
        if self.kind == "clock_skew":
            return f"{self.service} clock {self.offset_ms:+d} ms off for {self.duration_s}s"
        if self.kind == "pod_kill":
            return f"{self.service}'s active pod killed"
        if self.kind == "node_down":
            return f"the node of {self.service}'s active pod down for {self.duration_s}s"
        return f"burst at {self.factor}x the order rate for {self.duration_s}s"


def session_offset_s(text: str) -> int:
    """Market seconds from a command line's ``SECONDS`` or ``HH:MM:SS`` (``tradingdesk simulate --start``), read as a
    schedule's ``at``; ``ValueError`` names what is wrong."""
    problems: list[str] = []
    value: Any = int(text) if text.strip().isdigit() else text
    seconds = _seconds(value, "the time", problems)
    if seconds is None:
        raise ValueError(problems[0])
    return seconds


def _seconds(value: Any, where: str, problems: list[str]) -> int | None:
    if isinstance(value, bool):
        problems.append(f"{where}: {value!r} is not a time (seconds or HH:MM:SS)")
        return None
    if isinstance(value, int):
        if value < 0:
            problems.append(f"{where}: {value} is negative")
            return None
        return value
    if isinstance(value, str) and (m := _CLOCK.match(value.strip())):
        return int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3])
    problems.append(f"{where}: {value!r} is not a time (whole seconds, or HH:MM:SS)")
    return None


def parse_schedule(doc: Any, *, desk: TradingDesk, session_s: int) -> list[Fault]:
    """The faults of a loaded YAML document, in time order; ``FaultScheduleError`` lists every problem."""
    if doc is None:
        return []
    if not isinstance(doc, dict) or set(doc) - {"faults"}:
        raise FaultScheduleError("a fault schedule is a mapping with one key, faults: a list of faults")
    items = doc.get("faults") or []
    if not isinstance(items, list):
        raise FaultScheduleError("faults: must be a list")
    feeds = {f.name: {line.name for line in f.lines} for f in desk.spec.feeds}
    venues = [v.name for v in desk.spec.venues]
    problems: list[str] = []
    faults: list[Fault] = []
    for i, item in enumerate(items):
        where = f"faults[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: must be a mapping with at and kind")
            continue
        kind = item.get("kind")
        if kind not in BUILT_KINDS:
            problems.append(f"{where}.kind: {kind!r} is unknown; known kinds: {', '.join(BUILT_KINDS)}")
            continue
        allowed = {"at", "kind"} | {
            "sigkill": {"service"},
            "feed_line_down": {"feed", "line", "for"},
            "burst": {"for", "factor"},
            "venue_fault": {"venue", "mode", "for"},
            "database_down": {"for", "how"},
            "clock_skew": {"service", "offset_ms", "for"},
            "pod_kill": {"service"},
            "node_down": {"service", "for"},
        }[kind]
        for key in sorted(set(item) - allowed):
            problems.append(f"{where}.{key}: not a field of a {kind} fault (fields: {', '.join(sorted(allowed))})")
        if "at" not in item:
            problems.append(f"{where}.at: required")
            continue
        at = _seconds(item["at"], f"{where}.at", problems)
        if at is not None and at >= session_s:
            problems.append(f"{where}.at: {item['at']} is past the end of the simulated session ({session_s}s)")
            at = None
        duration = 0
        if kind not in ("sigkill", "pod_kill"):
            if "for" not in item:
                problems.append(f"{where}.for: required for a {kind} fault (market seconds)")
                continue
            duration = _seconds(item["for"], f"{where}.for", problems) or 0
            if duration <= 0 and not any(p.startswith(f"{where}.for") for p in problems):
                problems.append(f"{where}.for: must be > 0")
        fault = Fault(at_s=at or 0, kind=kind, duration_s=duration)
        if kind == "sigkill":
            service = item.get("service")
            if service not in SERVICE_NAMES:
                problems.append(f"{where}.service: {service!r} is not a service ({', '.join(SERVICE_NAMES)})")
            fault = Fault(at_s=fault.at_s, kind=kind, service=str(service))
        elif kind in CLUSTER_KINDS:
            service = item.get("service", LEADER_SERVICES[0])
            if service not in LEADER_SERVICES:
                problems.append(
                    f"{where}.service: {service!r}: a {kind} fault finds the active pod of {', '.join(LEADER_SERVICES)}"
                )
            fault = Fault(at_s=fault.at_s, kind=kind, service=str(service), duration_s=duration)
        elif kind == "feed_line_down":
            feed, line = item.get("feed"), item.get("line")
            if feed not in feeds:
                problems.append(f"{where}.feed: {feed!r} is not a feed of the desk ({', '.join(feeds)})")
            elif line not in feeds[feed]:
                problems.append(
                    f"{where}.line: {line!r} is not a line of feed {feed} ({', '.join(sorted(feeds[feed]))})"
                )
            fault = Fault(at_s=fault.at_s, kind=kind, feed=str(feed), line=str(line), duration_s=duration)
        elif kind == "venue_fault":
            venue, mode = item.get("venue"), item.get("mode")
            if venue not in venues:
                problems.append(f"{where}.venue: {venue!r} is not a venue of the desk ({', '.join(venues)})")
            if mode not in VENUE_FAULT_MODES:
                problems.append(f"{where}.mode: {mode!r} is not a venue fault mode ({', '.join(VENUE_FAULT_MODES)})")
            fault = Fault(at_s=fault.at_s, kind=kind, venue=str(venue), mode=str(mode), duration_s=duration)
        elif kind == "database_down":
            how = item.get("how", DOWN_HOWS[0])
            if how not in DOWN_HOWS:
                problems.append(f"{where}.how: {how!r} is not a way to take the database down ({', '.join(DOWN_HOWS)})")
            fault = Fault(at_s=fault.at_s, kind=kind, duration_s=duration, how=str(how))
        elif kind == "clock_skew":
            fault = _clock_skew(item, where=where, at_s=fault.at_s, duration_s=duration, problems=problems)
        elif kind == "burst":
            factor = item.get("factor", 2)
            if isinstance(factor, bool) or not isinstance(factor, int) or not 2 <= factor <= MAX_BURST_FACTOR:
                problems.append(f"{where}.factor: {factor!r} must be a whole number from 2 to {MAX_BURST_FACTOR}")
            else:
                fault = Fault(at_s=fault.at_s, kind=kind, duration_s=duration, factor=factor)
        faults.append(fault)
    outages = sorted((f.at_s, f.at_s + f.duration_s) for f in faults if f.kind == "database_down")
    for (start, end), (next_start, _) in itertools.pairwise(outages):
        if next_start < end:
            problems.append(f"database_down at {next_start}s: the database is still down from {start}s until {end}s")
    if problems:
        raise FaultScheduleError("the fault schedule cannot run:\n  " + "\n  ".join(problems))
    return sorted(faults, key=lambda f: f.at_s)


def _clock_skew(item: dict, *, where: str, at_s: int, duration_s: int, problems: list[str]) -> Fault:
    service, offset = item.get("service"), item.get("offset_ms")
    if service not in SERVICE_NAMES:
        problems.append(f"{where}.service: {service!r} is not a service ({', '.join(SERVICE_NAMES)})")
    if "offset_ms" not in item:
        problems.append(f"{where}.offset_ms: required (milliseconds of desk time, + ahead or - behind)")
    elif isinstance(offset, bool) or not isinstance(offset, int) or not offset or abs(offset) > MAX_SKEW_MS:
        problems.append(
            f"{where}.offset_ms: {offset!r} must be a whole number of milliseconds, not 0, "
            f"from -{MAX_SKEW_MS} to {MAX_SKEW_MS}"
        )
        offset = 0
    return Fault(at_s=at_s, kind="clock_skew", service=str(service), duration_s=duration_s, offset_ms=offset or 0)


def load_schedule(path: Path, *, desk: TradingDesk, session_s: int) -> list[Fault]:
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise FaultScheduleError(f"{path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise FaultScheduleError(f"{path}: not YAML: {exc}") from None
    try:
        return parse_schedule(doc, desk=desk, session_s=session_s)
    except FaultScheduleError as exc:
        raise FaultScheduleError(f"{path}: {exc}") from None
