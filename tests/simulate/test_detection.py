"""The verdict's detection line on hand-made records: which alert each fault expects, when it counts as
detected (listed at or after the injection, with the fault's labels), and its bound."""

from __future__ import annotations

import pytest

from tests.desk_runner import REPO
from tradingdesk.core.clock import NS_PER_SECOND
from tradingdesk.simulate.alert_watch import AlertWatch
from tradingdesk.simulate.detection import (
    MONITORING_BACK_S,
    READY_S,
    START_S,
    TAKEOVER_S,
    bound_s,
    desk_checks_s,
    detections,
)
from tradingdesk.simulate.verdict import Verdict, add_detection
from tradingdesk.spec.load import load_desk
from tradingdesk.v1 import monitoring_pb2

T0 = 1_700_000_000 * NS_PER_SECOND
SPEED = 20


DESK = load_desk(REPO / "examples" / "desk.yaml")
BOUND_S = desk_checks_s(DESK)


@pytest.fixture(scope="module")
def desk():
    return DESK


def kill(service: str, *, at_s: float) -> dict:
    at = T0 + int(at_s * NS_PER_SECOND)
    return {
        "market_ns": at,
        "kind": "sigkill",
        "fault": f"SIGKILL {service}",
        "what": "killed",
        "target": {"service": service},
    }


def episode(name: str, *, at_s: float, **labels: str) -> dict:
    return {
        "name": name,
        "labels": {"alertname": name, **labels},
        "first_seen_market_ns": T0 + int(at_s * NS_PER_SECOND),
    }


def test_the_detection_time_is_from_injection_to_the_first_alert_listed_after_it_in_wall_seconds(desk) -> None:
    # killed at market second 40, ServiceDown for routing first listed 30 market seconds (1.5 wall s at 20x) later
    alerts = [episode("ServiceDown", at_s=70, service="routing"), episode("ServiceDown", at_s=90, service="routing")]
    (found,) = detections([kill("routing", at_s=40)], alerts, speed=SPEED, desk=desk, source="desk")
    assert (found.alert, found.labels, found.detected_s, found.bound_s) == (
        "ServiceDown",
        {"service": "routing"},
        1.5,
        BOUND_S,
    )
    assert found.ok
    assert found.describe() == f"SIGKILL routing: ServiceDown after 1.50s, within its {BOUND_S:g}s bound"


def test_a_kill_restarted_before_the_next_status_is_detected_by_its_restart(desk) -> None:
    # the supervisor brought routing back between two status refreshes: never listed down, listed restarted
    alerts = [episode("ServiceRestarted", at_s=60, service="routing"), episode("ServiceRestarted", at_s=50)]
    (found,) = detections([kill("routing", at_s=40)], alerts, speed=SPEED, desk=desk, source="desk")
    assert (found.alert, found.detected_s, found.ok) == ("ServiceDown", 1.0, True)


def test_a_killed_routing_whose_standby_took_over_is_detected_by_the_failover_too(desk) -> None:
    # --routing-replicas 2: the standby took over before the next status; a risk kill is no routing failover
    alerts = [episode("RoutingFailover", at_s=56, service="routing")]
    found = detections([kill("routing", at_s=40), kill("risk", at_s=50)], alerts, speed=SPEED, desk=desk, source="desk")
    assert [(d.alert, d.detected_s, d.ok) for d in found] == [("ServiceDown", 0.8, True), ("ServiceDown", None, False)]


def cluster_fault(kind: str, what: str, *, at_s: float, **extra) -> dict:
    at = T0 + int(at_s * NS_PER_SECOND)
    return {"market_ns": at, "kind": kind, "fault": kind, "what": what, "target": {"service": "routing"}, **extra}


def test_the_cluster_faults_of_routing_are_detected_by_the_failover_within_takeover_and_readiness(desk) -> None:
    bound = BOUND_S + TAKEOVER_S + READY_S
    assert bound_s("RoutingFailover", desk=desk, source="desk") == bound
    events = [
        cluster_fault("pod_kill", "pod killed", at_s=10),
        cluster_fault("node_down", "node powered off", at_s=100, services=["risk", "routing"]),
        cluster_fault("node_down", "node powered on", at_s=100 + 10 * SPEED),
    ]
    alerts = [  # each takeover is an episode of its own (the desk's checks tell them apart by the takeover's time)
        episode("RoutingFailover", at_s=10 + 3 * SPEED, service="routing"),
        episode("RoutingFailover", at_s=100 + 4 * SPEED, service="routing"),
    ]
    found = detections(events, alerts, speed=SPEED, desk=desk, source="desk")
    assert [(d.kind, d.alert, d.labels, d.detected_s, d.bound_s, d.ok) for d in found] == [
        ("pod_kill", "RoutingFailover", {"service": "routing"}, 3.0, bound, True),
        ("node_down", "RoutingFailover", {"service": "routing"}, 4.0, bound, True),
    ]


def test_a_lost_node_that_ran_monitoring_allows_for_its_return_and_a_missing_failover_is_never_excused(
    desk,
) -> None:
    events = [
        cluster_fault("node_down", "node powered off", at_s=100, services=["monitoring", "routing"]),
        cluster_fault("node_down", "node powered on", at_s=100 + 10 * SPEED),
    ]
    late = [episode("RoutingFailover", at_s=100 + 20 * SPEED, service="routing")]  # monitoring back after the node
    (found,) = detections(events, late, speed=SPEED, desk=desk, source="desk")
    bound = BOUND_S + TAKEOVER_S + READY_S + 10 + MONITORING_BACK_S
    assert (found.detected_s, found.bound_s, found.ok) == (20.0, bound, True)
    # the node back within the bound is no excuse: a takeover, once done, is listed for 15 minutes
    (missed,) = detections(events, [], speed=SPEED, desk=desk, source="desk")
    assert (missed.alert, missed.expected, missed.ok) == ("RoutingFailover", True, False)


def test_an_alert_whose_bound_outlasts_the_run_is_not_judged_unless_it_came(desk) -> None:
    """The alert watch ends with the run: a run that ends 24 wall seconds after it lost a node that ran
    monitoring (a bound over 30 s) cannot tell a late alert from a missing one: CI's cluster run of 40 wall
    seconds once failed so."""
    events = [
        cluster_fault("node_down", "node powered off", at_s=100, services=["monitoring", "routing"]),
        cluster_fault("node_down", "node powered on", at_s=100 + 10 * SPEED),
    ]
    run_end = T0 + (100 + 24 * SPEED) * NS_PER_SECOND  # 24 wall seconds after the injection
    (unjudged,) = detections(events, [], speed=SPEED, desk=desk, source="desk", run_end_market_ns=run_end)
    assert (unjudged.expected, unjudged.ok) == (False, True)
    assert unjudged.note.startswith("the run ended 24.00s of wall time after it, inside the ")
    assert unjudged.note.endswith("RoutingFailover, which had not come: not judged")
    came = [episode("RoutingFailover", at_s=100 + 20 * SPEED, service="routing")]
    (found,) = detections(events, came, speed=SPEED, desk=desk, source="desk", run_end_market_ns=run_end)
    assert (found.alert, found.detected_s, found.ok) == ("RoutingFailover", 20.0, True)
    # with the run past the bound, a missing alert is missed
    later = T0 + (100 + 60 * SPEED) * NS_PER_SECOND
    (missed,) = detections(events, [], speed=SPEED, desk=desk, source="desk", run_end_market_ns=later)
    assert (missed.alert, missed.expected, missed.ok) == ("RoutingFailover", True, False)


def test_a_missing_alert_an_alert_for_another_service_or_one_listed_before_the_injection_is_not_a_detection(
    desk,
) -> None:
    alerts = [
        episode("ServiceDown", at_s=30, service="routing"),  # an earlier episode, still listed at 40: not this fault's
        episode("ServiceDown", at_s=45, service="compliance"),  # another service
        episode("DeskNotReady", at_s=41),  # another alert
    ]
    (found,) = detections([kill("routing", at_s=40)], alerts, speed=SPEED, desk=desk, source="desk")
    assert (found.detected_s, found.ok) == (None, False)
    assert found.describe() == f"SIGKILL routing: ServiceDown never came (bound {BOUND_S:g}s)"


def test_an_alert_past_its_bound_fails(desk) -> None:
    late_s = 40 + SPEED * (BOUND_S + 1)  # one wall second past the bound
    line = {
        "market_ns": T0 + 100 * NS_PER_SECOND,
        "kind": "feed_line_down",
        "fault": "feed vendor-a line A down for 40s",
        "what": "line disabled",
        "target": {"feed": "vendor-a", "line": "A"},
    }
    alerts = [
        episode("ServiceDown", at_s=late_s, service="routing"),
        episode("FeedLineDown", at_s=101, feed="vendor-a", line="A"),
    ]
    killed, down = detections([kill("routing", at_s=40), line], alerts, speed=SPEED, desk=desk, source="desk")
    assert (killed.ok, killed.detected_s) == (False, pytest.approx(BOUND_S + 1))
    assert "past its" in killed.describe()
    assert (down.alert, down.ok, down.detected_s) == ("FeedLineDown", True, 0.05)


def test_faults_without_an_alert_to_expect_say_why_and_ends_are_not_injections(desk) -> None:
    events = [
        {"market_ns": T0, "kind": "burst", "fault": "burst", "what": "started", "target": {}},
        {"market_ns": T0 + 1, "kind": "burst", "fault": "burst", "what": "ended", "target": {}},
        {
            "market_ns": T0 + 3,
            "kind": "venue_fault",
            "fault": "venue bats away",
            "what": "venue bats set to none",
            "target": {"venue": "bats", "mode": "away"},
        },
        {**kill("risk", at_s=6), "what": "skipped: the service was not running (restarting after an earlier fault)"},
    ]
    found = detections(events, [], speed=SPEED, desk=desk, source="desk")
    assert [(d.kind, d.expected, d.ok, d.note) for d in found] == [
        ("burst", False, True, "a burst is load, not a failure")
    ]


def test_a_killed_monitoring_is_detected_after_the_fact_by_its_own_restart(desk) -> None:
    restarted = [episode("ServiceRestarted", at_s=5 + 4 * SPEED, service="monitoring")]
    (found,) = detections([kill("monitoring", at_s=5)], restarted, speed=SPEED, desk=desk, source="desk")
    supervision = desk.spec.supervision
    assert supervision.warm_spare
    bound = BOUND_S + supervision.restart_backoff_initial_ms / 1000 + START_S
    assert (found.alert, found.labels, found.detected_s, found.bound_s, found.ok) == (
        "ServiceRestarted",
        {"service": "monitoring"},
        4.0,
        bound,
        True,
    )


def venue_fault(venue: str, mode: str, *, at_s: float) -> dict:
    return {
        "market_ns": T0 + int(at_s * NS_PER_SECOND),
        "kind": "venue_fault",
        "fault": f"venue {venue} {mode}",
        "what": f"venue {venue} set to {mode}",
        "target": {"venue": venue, "mode": mode},
    }


def test_each_venue_fault_mode_and_a_database_outage_expect_their_alert_with_the_venue_named(desk) -> None:
    events = [
        venue_fault("bats", "away", at_s=10),
        venue_fault("xnys", "reject_all", at_s=20),
        venue_fault("xnas", "timeout", at_s=30),
        {
            "market_ns": T0 + 40 * NS_PER_SECOND,
            "kind": "database_down",
            "fault": "db",
            "what": "database down",
            "target": {},
        },
    ]
    alerts = [
        episode("VenueDisconnected", at_s=10 + 2 * SPEED, venue="bats"),
        episode("VenueRejecting", at_s=20 + 1 * SPEED, venue="xnas"),  # another venue: no detection of xnys
        episode("VenueNotAcknowledging", at_s=30 + 4 * SPEED, venue="xnas"),
        episode("JournalWriteFailing", at_s=40 + 3 * SPEED),
    ]
    found = detections(events, alerts, speed=SPEED, desk=desk, source="desk")
    assert [(d.alert, d.labels, d.detected_s, d.ok) for d in found] == [
        ("VenueDisconnected", {"venue": "bats"}, 2.0, True),
        ("VenueRejecting", {"venue": "xnys"}, None, False),
        ("VenueNotAcknowledging", {"venue": "xnas"}, 4.0, True),
        ("JournalWriteFailing", {}, 3.0, True),
    ]
    ack_timeout_s = desk.spec.routing.venue_ack_timeout_ms / 1000
    assert [d.bound_s for d in found] == [BOUND_S, BOUND_S + 1, BOUND_S + ack_timeout_s, BOUND_S + 1]


def test_the_bound_is_the_health_check_interval_and_two_refreshes_plus_through_alertmanager_the_rule(desk) -> None:
    # a refresh ends without the alert up to 2 s after the kill, the next starts an interval later and takes 2 s
    assert desk_checks_s(desk) == 1.0 + 4.0  # the desk checks every 1000 ms
    a = desk.spec.monitoring.alerts
    expected = BOUND_S + a.service_down_for_seconds + a.scrape_interval_seconds + a.evaluation_interval_seconds
    assert bound_s("ServiceDown", desk=desk, source="alertmanager") == expected
    assert bound_s("ServiceDown", desk=desk, source="desk") == BOUND_S
    assert bound_s("VenueAway", desk=desk, source="desk") is None


def alert(name: str, **labels: str) -> monitoring_pb2.Alert:
    all_labels = {"alertname": name, **labels}
    return monitoring_pb2.Alert(
        name=name, labels=all_labels, fingerprint="/".join(f"{k}={v}" for k, v in sorted(all_labels.items()))
    )


def test_the_watch_keeps_one_episode_per_listing_and_resolves_it_when_a_poll_no_longer_lists_it() -> None:
    watch = AlertWatch("127.0.0.1:1", market_now=lambda: 0)
    down = alert("ServiceDown", service="routing")
    watch.seen([down], market_ns=10, wall_ns=1)
    watch.seen([down, alert("DeskNotReady")], market_ns=20, wall_ns=2)
    watch.seen([], market_ns=30, wall_ns=3)
    watch.seen([down], market_ns=40, wall_ns=4)  # down again: a new episode
    assert [(e["name"], e["first_seen_market_ns"], e["resolved_market_ns"]) for e in watch.episodes] == [
        ("ServiceDown", 10, 30),
        ("DeskNotReady", 20, 30),
        ("ServiceDown", 40, None),
    ]
    assert watch.episodes[0]["labels"] == {"alertname": "ServiceDown", "service": "routing"}


def test_the_verdict_line_fails_on_a_missing_alert_and_gives_no_figure_without_a_detection(desk) -> None:
    missing = Verdict()
    add_detection(
        missing, detections([kill("routing", at_s=40)], [], speed=SPEED, desk=desk, source="desk"), source="desk"
    )
    (line,) = missing.lines
    assert (line.name, line.value, line.target, line.ok) == ("faults_detected", 0, "1", False)
    assert line.detail == f"SIGKILL routing: ServiceDown never came (bound {BOUND_S:g}s)"
    assert "detect_p99_s" not in missing.figures and not missing.ok

    alerts = [episode("ServiceDown", at_s=42, service="routing"), episode("ServiceDown", at_s=60, service="risk")]
    events = [kill("routing", at_s=40), kill("risk", at_s=50)]
    found = Verdict()
    add_detection(found, detections(events, alerts, speed=SPEED, desk=desk, source="desk"), source="desk")
    assert (found.lines[0].value, found.lines[0].target, found.ok) == (2, "2", True)
    assert found.figures == {"detect_p99_s": 0.5, "detect_bound_s": BOUND_S}  # 0.1 s and 0.5 s
    assert found.notes[1:] == [
        f"  SIGKILL routing: ServiceDown after 0.10s, within its {BOUND_S:g}s bound",
        f"  SIGKILL risk: ServiceDown after 0.50s, within its {BOUND_S:g}s bound",
    ]


def test_a_fault_over_in_less_wall_time_than_its_bound_need_not_be_listed_but_counts_when_it_was(desk) -> None:
    """The desk's checks run in wall time: at 100x a 30 s database outage may be over before the next status."""

    def outage(what: str, at_s: float) -> dict:
        return {
            "market_ns": T0 + int(at_s * NS_PER_SECOND),
            "kind": "database_down",
            "fault": "database down for 30s",
            "what": what,
            "target": {},
        }

    short = [outage("database down", 10), outage("database up", 10 + 2 * SPEED)]  # 2 s of wall time
    (unseen,) = detections(short, [], speed=SPEED, desk=desk, source="desk")
    assert (unseen.expected, unseen.ok) == (False, True)
    assert unseen.note.startswith("over after 2.00s of wall time at 20x, within the 6s the desk may take to list")
    (seen,) = detections(
        short, [episode("JournalWriteFailing", at_s=10 + SPEED)], speed=SPEED, desk=desk, source="desk"
    )
    assert (seen.alert, seen.detected_s, seen.ok) == ("JournalWriteFailing", 1.0, True)
    long = [outage("database down", 10), outage("database up", 10 + 30 * SPEED)]
    (missed,) = detections(long, [], speed=SPEED, desk=desk, source="desk")
    assert (missed.alert, missed.ok) == ("JournalWriteFailing", False)
