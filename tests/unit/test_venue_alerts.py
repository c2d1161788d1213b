"""The desk's own venue and journal alerts (monitoring/alerts.py, monitoring/venue_activity.py): judged from
routing's status as the Prometheus rules judge the same counters, so a desk without Prometheus still pages for
a venue away, rejecting or silent, and for a journal that cannot write."""

from __future__ import annotations

from pathlib import Path

from tradingdesk.monitoring.alerts import DeskChecks
from tradingdesk.monitoring.venue_activity import VenueActivity, VenueGrowth
from tradingdesk.spec import load_desk
from tradingdesk.v1 import monitoring_pb2, orders_pb2

DESK = load_desk(Path(__file__).resolve().parents[2] / "examples" / "desk.yaml")
PER_MINUTE = DESK.spec.monitoring.alerts.venue_rejects_per_minute


def venue(name: str, *, rejects: int = 0, timeouts: int = 0, connected: bool = True) -> orders_pb2.VenueStatus:
    return orders_pb2.VenueStatus(venue=name, connected=connected, rejects=rejects, ack_timeouts=timeouts)


def judged(status: monitoring_pb2.DeskStatus, growth: dict[str, VenueGrowth] | None = None) -> dict[str, dict]:
    return {a.name: dict(a.labels) for a in DeskChecks(DESK).judge(status, {}, venues=growth or {})}


def test_growth_counts_from_the_first_read_and_forgets_what_left_the_window() -> None:
    activity = VenueActivity()
    activity.add(0.0, [venue("xnas", rejects=500, timeouts=7)])  # history before monitoring's first read
    assert activity.growth() == {"xnas": VenueGrowth(0, 0)}
    activity.add(1.0, [venue("xnas", rejects=530, timeouts=8)])
    assert activity.growth() == {"xnas": VenueGrowth(30, 1)}
    activity.add(62.0, [venue("xnas", rejects=531, timeouts=8)])
    # the 30 rejects are more than a minute old now; the timeout is within five minutes
    assert activity.growth() == {"xnas": VenueGrowth(1, 1)}
    activity.add(302.0, [venue("xnas", rejects=531, timeouts=8)])
    assert activity.growth() == {"xnas": VenueGrowth(0, 0)}


def test_a_count_that_falls_is_routing_restarted_and_counts_from_zero() -> None:
    activity = VenueActivity()
    activity.add(0.0, [venue("bats", rejects=40)])
    activity.add(1.0, [venue("bats", rejects=12)])  # routing restarted and counted 12 since
    assert activity.growth()["bats"].rejects == 12


def test_a_venue_away_rejecting_or_silent_raises_its_alert_with_the_venue_label() -> None:
    status = monitoring_pb2.DeskStatus(
        venues=[venue("bats", connected=False), venue("xnas"), venue("xnys"), venue("arca")]
    )
    growth = {
        "bats": VenueGrowth(0, 0),
        "xnas": VenueGrowth(0, 2),
        "xnys": VenueGrowth(PER_MINUTE, 0),
        "arca": VenueGrowth(PER_MINUTE - 1, 0),  # the odd reject of a normal day stays quiet
    }
    alerts = [(a.name, a.labels["venue"], a.severity) for a in DeskChecks(DESK).judge(status, {}, venues=growth)]
    assert sorted(alerts) == [
        ("VenueDisconnected", "bats", "critical"),
        ("VenueNotAcknowledging", "xnas", "warning"),
        ("VenueRejecting", "xnys", "warning"),
    ]


def test_a_journal_that_cannot_write_is_critical_and_an_unread_one_is_not_judged() -> None:
    assert "JournalWriteFailing" not in judged(monitoring_pb2.DeskStatus())  # routing not read yet
    failing = monitoring_pb2.DeskStatus(
        journal=orders_pb2.JournalHealth(writable=False, error="connection refused", backlog_records=3)
    )
    (alert,) = [a for a in DeskChecks(DESK).judge(failing, {}) if a.name == "JournalWriteFailing"]
    assert alert.severity == "critical" and "connection refused" in alert.summary and "3 records" in alert.summary
    assert "JournalWriteFailing" not in judged(monitoring_pb2.DeskStatus(journal={"writable": True}))
