"""Was every fault detected and alerted within its bound? Computed afterwards from the record alone: the
injector's log of what it did when (``faults.jsonl``), the desk's alerts as the alert watch saw them
(``alerts.jsonl``, ``watch.json``; ``simulate.alert_watch``), and the run's desk spec (for the bounds).

Each fault the injector applied is matched to the alert that should detect it (``expected_alert``): the first
episode of that alert, with at least the expected labels, that the desk first listed at or after the
injection. An alert already listed before the injection does not count (it was about something else, or an
earlier fault). The detection time is then (first listed - injected), in wall seconds: the market-time
difference of the record divided by the replay speed, since the desk's checks and probes run in wall time
whatever the replay speed.

A SIGKILL of monitoring kills the desk's own checks with it: nothing can list it while it is down, so it is
detected after the fact, by the restarted monitoring listing its own restart (``ServiceRestarted`` with
``service: monitoring``, from the supervisor's status file), within the restart's backoff, the start of the
process and one round of the checks.

The cluster's faults (``pod_kill``, ``node_down`` of routing's active pod) are detected by ``RoutingFailover``:
the standby that takes the journal over says when it did (``GetRoutingStatus``), whatever happened to the pod
that was active. A lost node that also ran the monitoring service silences the desk's checks until it is back.

Faults with no alert to expect are listed in the report with the reason, never counted as detected: a burst
(load, not a failure), a cluster fault of another service than routing (``CLUSTER_NOTES``), and any kind this
module has no entry for yet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tradingdesk.core.clock import NS_PER_SECOND
from tradingdesk.edge.clock_skew import REFRESH_NS as SKEW_REFRESH_NS
from tradingdesk.monitoring.collector import CALL_TIMEOUT_S
from tradingdesk.monitoring.health import PROBE_ATTEMPTS, PROBE_TIMEOUT_S
from tradingdesk.simulate.alert_watch import ALERTS_FILE, WATCH_FILE
from tradingdesk.spec.alerting import alerts as rule_alerts
from tradingdesk.spec.model import TradingDesk

REFRESH_S = max(CALL_TIMEOUT_S, PROBE_ATTEMPTS * PROBE_TIMEOUT_S)
"""The longest one refresh of the monitoring service's status takes: its health probes (each service's tried
``PROBE_ATTEMPTS`` times, ``PROBE_TIMEOUT_S`` each) and its reads of the services (``CALL_TIMEOUT_S``) run at
once."""


def desk_checks_s(desk: TradingDesk) -> float:
    """The watch's part of every bound: a refresh begun just before the injection may end without the alert
    ``REFRESH_S`` later; the next begins one health-check interval after it and publishes the status (alerts
    included) to the stream within ``REFRESH_S``."""
    return desk.spec.monitoring.health_check_interval_ms / 1000 + 2 * REFRESH_S


BOUNDS: dict[str, str] = {  # alert -> where its bound comes from
    "ServiceDown": "the health probe of a killed service is refused at once (a hung one takes PROBE_ATTEMPTS x "
    "PROBE_TIMEOUT_S, inside REFRESH_S), so the next status lists it: desk_checks_s",
    "ServiceRestarted": "a killed monitoring (the only fault that expects this alert first) is restarted by the "
    "supervisor after restartBackoffInitialMs; a warm spare becomes it without the interpreter's start and imports "
    "(START_S; without a spare START_COLD_S), and its first status lists its own restart: desk_checks_s + "
    "restartBackoffInitialMs + START_S",
    "FeedLineDown": "SetLineEnabled takes the line out before it answers the injector; the next status reads the "
    "feeds' status with the line not live: desk_checks_s",
    "ClockSkew": "the service's clock re-reads its skew file within REFRESH_NS (edge/clock_skew.py); the next "
    "health check reads that clock over ReadClock and the status judges it: desk_checks_s + REFRESH_NS",
    "VenueDisconnected": "SetVenueFault answers once the venue is away; the next status reads routing's "
    "GetRoutingStatus with it disconnected: desk_checks_s",
    "VenueRejecting": "smart routing keeps sending the venue orders (it is connected) and it rejects each within its "
    "latency; at the simulation's order rate venueRejectsPerMinute rejects come within a second, so the next "
    "status after them lists it: desk_checks_s + 1",
    "VenueNotAcknowledging": "an order sent to the silent venue just after the fault is cancelled "
    "spec.routing.venueAckTimeoutMs later; the next status sees the timeout count grown: desk_checks_s + "
    "venueAckTimeoutMs",
    "JournalWriteFailing": "the journal's next commit (orders and probes flow every second) fails against the "
    "database taken away and marks it not writable; the next status reads it: desk_checks_s + 1",
    "RoutingFailover": "the active routing pod's processes are killed at once (a deletion with no grace period, or "
    "the node powered off), so the kernel closes its database session's socket and PostgreSQL ends the session "
    "(a lost host that is not dead would take the keepalives' 10 s, storage/fence.py: not simulated); the standby "
    "queued for the writer lock gets it and takes over (TAKEOVER_S); on the cluster the monitoring service reaches "
    "it through routing's Service once its readiness probe passes (READY_S); the next status reads its "
    "GetRoutingStatus: desk_checks_s + TAKEOVER_S + READY_S. A node that also ran the monitoring service adds the "
    "time until it is powered on again and MONITORING_BACK_S (detections)",
}
"""The alerts a fault can expect, and where each one's bound comes from. When the desk's own checks judge the
alerts (``source: desk``) no ``for:`` applies: the bound is ``desk_checks_s``. When Alertmanager supplies them
(``source: alertmanager``), ``bound_s`` adds the Prometheus rule's ``for:`` (spec/alerting.py, from
spec.monitoring.alerts) plus one scrape and one evaluation interval."""
ALSO_DETECTED_BY: dict[str, tuple[str, ...]] = {"ServiceDown": ("ServiceRestarted", "RoutingFailover")}
"""Alerts that detect the same fault as well: a killed service that the supervisor restarts before the next
status refresh is never listed down, but its restart is (``monitoring/restarts.py``), within the same bound. So is
a killed routing process whose standby took over in tens of ms (``--routing-replicas 2``): the killed one's
restart as the new standby counts as routing's restart (``runtime/supervisor.py``), and the standby's takeover
is ``RoutingFailover`` (with ``service: routing``, so it detects a kill of routing only)."""


@dataclass(frozen=True, slots=True)
class Detection:
    """One applied fault: when, what was expected, and when (if ever) the desk listed it."""

    fault: str
    kind: str
    injected_market_ns: int
    alert: str  # "" when no alert is expected
    labels: dict[str, str]
    bound_s: float | None
    detected_s: float | None  # wall seconds from injection to the alert; None: never came
    note: str = ""

    @property
    def expected(self) -> bool:
        return bool(self.alert)

    @property
    def ok(self) -> bool:
        if not self.expected:
            return True
        return self.detected_s is not None and self.bound_s is not None and self.detected_s <= self.bound_s

    def describe(self) -> str:
        if not self.expected:
            return f"{self.fault}: no alert expected ({self.note})"
        if self.detected_s is None:
            return f"{self.fault}: {self.alert} never came (bound {self.bound_s:g}s)"
        verdict = "within" if self.ok else "past"
        return f"{self.fault}: {self.alert} after {self.detected_s:.2f}s, {verdict} its {self.bound_s:g}s bound"


def expected_alert(event: dict) -> tuple[str, dict[str, str], str]:
    """(alert name, labels it must carry, note) for an applied fault; name "" when none is expected (why in
    the note)."""
    target = event.get("target", {})
    kind = event["kind"]
    if kind == "sigkill":
        if target.get("service") == "monitoring":
            return "ServiceRestarted", {"service": "monitoring"}, ""
        return "ServiceDown", {"service": target.get("service", "")}, ""
    if kind == "feed_line_down":
        return "FeedLineDown", {"feed": target.get("feed", ""), "line": target.get("line", "")}, ""
    if kind == "clock_skew":
        return "ClockSkew", {"service": target.get("service", "")}, ""
    if kind == "burst":
        return "", {}, "a burst is load, not a failure"
    if kind == "venue_fault":
        alert = VENUE_FAULT_ALERTS.get(target.get("mode", ""), "")
        if not alert:
            return "", {}, f"not yet: no alert is defined for a venue fault {target.get('mode')!r}"
        return alert, {"venue": target.get("venue", "")}, ""
    if kind == "database_down":
        return "JournalWriteFailing", {}, ""
    if kind in CLUSTER_NOTES:
        if target.get("service", "routing") == "routing":
            return "RoutingFailover", {"service": "routing"}, ""
        return "", {}, CLUSTER_NOTES[kind]
    return "", {}, f"not yet: no alert is defined for a {kind} fault"


CLUSTER_NOTES = {
    "pod_kill": "not yet: the desk lists no alert for the failover of a service other than routing",
    "node_down": "not yet: a lost node is reported by Kubernetes (the node NotReady) and the operator "
    "(ReplicasUnavailable, the desk Degraded); of the desk's services only routing's failover is alerted",
}
"""Why a cluster fault of another service than routing has no detection bound (routing's: ``RoutingFailover``)."""


VENUE_FAULT_ALERTS = {
    "away": "VenueDisconnected",
    "reject_all": "VenueRejecting",
    "timeout": "VenueNotAcknowledging",
}
"""The alert each venue fault mode raises (``spec/alerting.py``; judged by the desk from GetRoutingStatus)."""


def injected(event: dict) -> bool:
    """Whether a ``faults.jsonl`` event is the moment a fault was applied (not its end, a skip or a refusal)."""
    what = event["what"]
    return (
        what in ("killed", "line disabled", "started", "database down", "pod killed", "node powered off")
        or (event["kind"] == "venue_fault" and what.startswith("venue ") and not what.endswith(" set to none"))
        or (event["kind"] == "clock_skew" and bool(event.get("offset_ms")))
    )


def bound_s(alert: str, *, desk: TradingDesk, source: str) -> float | None:
    """The bound of ``alert`` (``BOUNDS``), with the Prometheus rule's delays when Alertmanager answers."""
    if alert not in BOUNDS:
        return None
    seconds = desk_checks_s(desk) + _after_checks_s(alert, desk)
    if source == "alertmanager":
        rules = {rule.name: rule for rule in rule_alerts(desk)}
        a = desk.spec.monitoring.alerts
        seconds += rules[alert].for_s + a.scrape_interval_seconds + a.evaluation_interval_seconds
    return seconds


START_S = 2.0
"""The longest a warm spare takes to become the restarted service and answer (the supervisor's log: under a
second on the development machine), with margin."""
START_COLD_S = 5.0
"""The same from a new interpreter (``supervision.warmSpare: false``): its start and imports take 2-3 s."""
TAKEOVER_S = 2.0
"""The longest a routing standby takes from the active replica's death to serving: the lock is granted as the
dead session ends, then it applies the last records and reseats the open orders (about a second on a loaded
machine, docs/runbooks/routing-failover.md), with margin."""
READY_S = 2.0
"""On the cluster: routing's readiness probe (every second, a timeout of 1 s: ``operator/deskoperator/storage.py``)
finds the new active replica ready, and routing's Service sends the monitoring service to it."""
MONITORING_BACK_S = START_COLD_S + 2 + 5
"""A monitoring pod whose node was powered on again, or which was made anew elsewhere: its process starts cold
(``START_COLD_S``), then its startup and readiness probes (every 2 s and 5 s, ``operator/deskoperator/render.py``)
find it ready, and the alert watch reaches it again through monitoring's Service."""
OUTLIVE_THEIR_FAULT = frozenset({"RoutingFailover"})
"""Alerts listed long after their fault is over: a takeover is done once and listed for 15 minutes, whether the
lost node is back or not. A fault over within the bound is no excuse for their not coming."""


def _after_checks_s(alert: str, desk: TradingDesk) -> float:
    """What an alert's bound adds to ``desk_checks_s`` (``BOUNDS`` says why)."""
    if alert == "ServiceRestarted":
        supervision = desk.spec.supervision
        return supervision.restart_backoff_initial_ms / 1000 + (START_S if supervision.warm_spare else START_COLD_S)
    if alert == "ClockSkew":
        return SKEW_REFRESH_NS / NS_PER_SECOND
    if alert == "VenueNotAcknowledging":
        return desk.spec.routing.venue_ack_timeout_ms / 1000
    if alert in ("VenueRejecting", "JournalWriteFailing"):
        return 1.0
    if alert == "RoutingFailover":
        return TAKEOVER_S + READY_S
    return 0.0


def detections(
    events: list[dict],
    episodes: list[dict],
    *,
    speed: float,
    desk: TradingDesk,
    source: str,
    run_end_market_ns: int | None = None,
) -> list[Detection]:
    """Each applied fault's detection. ``run_end_market_ns``: when the run (and the alert watch with it) ended;
    an alert that did not come before it, with its bound not yet over then, is not judged: the watch could not
    have seen it (a short run's last fault, whose alert waits for a monitoring pod that died with its node)."""
    out = []
    for i, event in enumerate(events):
        if not injected(event):
            continue
        at = event["market_ns"]
        alert, labels, note = expected_alert(event)
        names = {alert, *ALSO_DETECTED_BY.get(alert, ())}
        seen = [
            e["first_seen_market_ns"]
            for e in episodes
            if e["name"] in names and e["first_seen_market_ns"] >= at and labels.items() <= e["labels"].items()
        ]
        detected = (min(seen) - at) / NS_PER_SECOND / speed if alert and seen else None
        bound = bound_s(alert, desk=desk, source=source) if alert else None
        lasted = _lasted_s(event, events[i + 1 :], speed=speed)
        if bound is not None and event["kind"] == "node_down" and "monitoring" in event.get("services", ()):
            # the desk's checks died with the node: nothing is listed until monitoring is back
            bound += (lasted or 0.0) + MONITORING_BACK_S
        excusable = alert not in OUTLIVE_THEIR_FAULT
        if detected is None and bound is not None and lasted is not None and lasted < bound and excusable:
            note = (
                f"over after {lasted:.2f}s of wall time at {speed:g}x, within the {bound:g}s the desk may take to list "
                f"{alert}, which did not come: not counted"
            )
            alert, labels, bound = "", {}, None
        left_s = (run_end_market_ns - at) / NS_PER_SECOND / speed if run_end_market_ns is not None else None
        if detected is None and bound is not None and left_s is not None and left_s < bound:
            note = (
                f"the run ended {left_s:.2f}s of wall time after it, inside the {bound:g}s the desk may take to list "
                f"{alert}, which had not come: not judged"
            )
            alert, labels, bound = "", {}, None
        out.append(Detection(event["fault"], event["kind"], at, alert, labels, bound, detected, note))
    return out


def _lasted_s(event: dict, later: list[dict], *, speed: float) -> float | None:
    """Wall seconds from a fault's injection to its end (the injector's next record of the same fault that is no
    injection: the line enabled, the venue set to none, the database up, the clock set back); None when it has
    no end (a SIGKILL) or the run stopped first. The desk's checks run in wall time: at 100x a 30 s database outage
    is over in 0.3 s, before the next refresh of the status can see it."""
    for other in later:
        if other["fault"] == event["fault"] and other["kind"] == event["kind"] and not injected(other):
            if other["what"].startswith(("skipped", "failed", "refused")):
                continue
            return (other["market_ns"] - event["market_ns"]) / NS_PER_SECOND / speed
    return None


def read_record(run_dir: Path) -> tuple[list[dict], list[dict], str]:
    """(fault events, alert episodes, the source that answered ListAlerts) of a run directory."""

    def jsonl(name: str) -> list[dict]:
        path = run_dir / name
        return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []

    watch = run_dir / WATCH_FILE
    sources = json.loads(watch.read_text())["sources"] if watch.exists() else []
    return jsonl("faults.jsonl"), jsonl(ALERTS_FILE), "alertmanager" if "alertmanager" in sources else "desk"
