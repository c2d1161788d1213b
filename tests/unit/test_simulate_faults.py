"""The fault schedule of ``tradingdesk simulate``: what runs, and every way a schedule is refused before the
desk starts (with the place in the file and the reason); and the availability count from a probe log."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tradingdesk.core.clock import NS_PER_SECOND
from tradingdesk.markets.calendar import ExchangeCalendar, Session
from tradingdesk.simulate.faults import Fault, FaultScheduleError, load_schedule, parse_schedule
from tradingdesk.simulate.verdict import (
    JOURNAL_REFUSAL,
    Unanswered,
    ack_bound_ns,
    acked_seconds,
    database_outage_figures,
    measured_seconds,
)
from tradingdesk.spec import parse_desk

DESK = parse_desk(
    {
        "apiVersion": "tradingdesk.io/v1alpha1",
        "kind": "TradingDesk",
        "metadata": {"name": "d"},
        "spec": {
            "instruments": [{"symbol": "AAPL"}],
            "accounts": [{"name": "A1"}],
            "feeds": [{"name": "vendor-a", "lines": [{"name": "A"}, {"name": "B"}]}],
            "venues": [{"name": "v"}],
        },
    }
)


def parse(*faults: dict, session_s: int = 3600) -> list[Fault]:
    return parse_schedule({"faults": list(faults)}, desk=DESK, session_s=session_s)


def test_each_kind_parses_in_time_order() -> None:
    got = parse(
        {"at": "00:10:00", "kind": "burst", "for": 60, "factor": 3},
        {"at": 30, "kind": "sigkill", "service": "compliance"},
        {"at": 120, "kind": "feed_line_down", "feed": "vendor-a", "line": "B", "for": "00:01:30"},
        {"at": 900, "kind": "venue_fault", "venue": "v", "mode": "reject_all", "for": 30},
        {"at": 1000, "kind": "venue_fault", "venue": "v", "mode": "timeout", "for": 20},
    )
    assert got == [
        Fault(at_s=30, kind="sigkill", service="compliance"),
        Fault(at_s=120, kind="feed_line_down", feed="vendor-a", line="B", duration_s=90),
        Fault(at_s=600, kind="burst", duration_s=60, factor=3),
        Fault(at_s=900, kind="venue_fault", venue="v", mode="reject_all", duration_s=30),
        Fault(at_s=1000, kind="venue_fault", venue="v", mode="timeout", duration_s=20),
    ]
    assert parse({"at": 0, "kind": "burst", "for": 5})[0].factor == 2  # twice the rate unless told
    assert parse_schedule(None, desk=DESK, session_s=10) == []


@pytest.mark.parametrize(
    ("fault", "why"),
    [
        ({"at": 5, "kind": "meteor"}, "faults[0].kind: 'meteor' is unknown; known kinds: sigkill, feed_line_down"),
        ({"at": 5, "kind": "database_down"}, "faults[0].for: required for a database_down fault"),
        ({"at": 5, "kind": "database_down", "for": 3, "service": "risk"}, "faults[0].service: not a field of a"),
        (
            {"at": 5, "kind": "database_down", "for": 3, "how": "unplug"},
            "faults[0].how: 'unplug' is not a way to take the database down (refuse, crash)",
        ),
        (
            {"at": 5, "kind": "database_down", "for": 3, "how": None},
            "faults[0].how: None is not a way to take the database down (refuse, crash)",
        ),
        ({"at": 5, "kind": "burst", "for": 3, "how": "crash"}, "faults[0].how: not a field of a burst fault"),
        (
            {"at": 1, "kind": "venue_fault", "venue": "x", "mode": "away", "for": 3},
            "faults[0].venue: 'x' is not a venue",
        ),
        (
            {"at": 1, "kind": "venue_fault", "venue": "v", "mode": "slow", "for": 3},
            "faults[0].mode: 'slow' is not a venue fault mode (reject_all, away, timeout)",
        ),
        ({"at": 1, "kind": "venue_fault", "venue": "v", "mode": "away"}, "faults[0].for: required"),
        ({"kind": "sigkill", "service": "risk"}, "faults[0].at: required"),
        ({"at": -1, "kind": "sigkill", "service": "risk"}, "faults[0].at: -1 is negative"),
        ({"at": "1:2", "kind": "sigkill", "service": "risk"}, "faults[0].at: '1:2' is not a time"),
        ({"at": 3600, "kind": "sigkill", "service": "risk"}, "faults[0].at: 3600 is past the end"),
        ({"at": 1, "kind": "sigkill", "service": "oms"}, "faults[0].service: 'oms' is not a service"),
        ({"at": 1, "kind": "sigkill", "service": "risk", "for": 3}, "faults[0].for: not a field of a sigkill"),
        ({"at": 1, "kind": "feed_line_down", "feed": "x", "line": "A", "for": 3}, "faults[0].feed: 'x' is not a feed"),
        ({"at": 1, "kind": "feed_line_down", "feed": "vendor-a", "line": "C", "for": 3}, "'C' is not a line"),
        ({"at": 1, "kind": "feed_line_down", "feed": "vendor-a", "line": "A"}, "faults[0].for: required"),
        ({"at": 1, "kind": "burst", "for": 0}, "faults[0].for: must be > 0"),
        ({"at": 1, "kind": "burst", "for": 5, "factor": 1}, "faults[0].factor: 1 must be a whole number from 2"),
        ({"at": 1, "kind": "burst", "for": 5, "factor": 2.5}, "faults[0].factor: 2.5 must be a whole number"),
    ],
)
def test_a_bad_fault_is_refused_with_its_place_and_reason(fault: dict, why: str) -> None:
    with pytest.raises(FaultScheduleError) as err:
        parse(fault)
    assert why in str(err.value)


def test_the_cluster_kinds_parse_and_name_routings_active_pod() -> None:
    assert parse(
        {"at": 300, "kind": "node_down", "for": 20},
        {"at": 100, "kind": "pod_kill", "service": "routing"},
    ) == [
        Fault(at_s=100, kind="pod_kill", service="routing"),
        Fault(at_s=300, kind="node_down", service="routing", duration_s=20),
    ]
    assert parse({"at": 1, "kind": "pod_kill"})[0].service == "routing"  # the only service with a leader


@pytest.mark.parametrize(
    ("fault", "why"),
    [
        ({"at": 1, "kind": "pod_kill", "service": "risk"}, "'risk': a pod_kill fault finds the active pod of routing"),
        ({"at": 1, "kind": "pod_kill", "for": 3}, "faults[0].for: not a field of a pod_kill fault"),
        ({"at": 1, "kind": "node_down"}, "faults[0].for: required for a node_down fault"),
        ({"at": 1, "kind": "node_down", "for": 3, "node": "n1"}, "faults[0].node: not a field of a node_down"),
    ],
)
def test_a_bad_cluster_fault_is_refused(fault: dict, why: str) -> None:
    with pytest.raises(FaultScheduleError) as err:
        parse(fault)
    assert why in str(err.value)


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(FaultScheduleError) as err:
        parse({"at": 1, "kind": "meteor"}, {"at": 2, "kind": "sigkill", "service": "oms"})
    assert "faults[0].kind" in str(err.value) and "faults[1].service" in str(err.value)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("faults: {at: 1}\n", "faults: must be a list"),
        ("- {at: 1}\n", "a mapping with one key, faults"),
        ("faults: [\n", "not YAML"),
    ],
)
def test_a_file_that_is_no_schedule_is_refused(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text(text)
    with pytest.raises(FaultScheduleError) as err:
        load_schedule(path, desk=DESK, session_s=60)
    assert str(err.value).startswith(str(path)) and why in str(err.value)
    with pytest.raises(FaultScheduleError, match="No such file"):
        load_schedule(tmp_path / "missing.yaml", desk=DESK, session_s=60)


def test_availability_counts_regular_session_seconds_with_an_acknowledged_probe() -> None:
    open_ns = 1_000_000 * NS_PER_SECOND
    calendar = ExchangeCalendar(
        "TEST", [Session(day=date(2026, 1, 5), open_ns=open_ns, close_ns=open_ns + 10 * NS_PER_SECOND)], timezone="UTC"
    )
    probes = [{"market_ns": open_ns + s * NS_PER_SECOND + 5, "acked": s not in (3, 4)} for s in range(12)]
    # the window runs past the close: seconds 10 and 11 are not market hours and are not counted
    measured = measured_seconds(calendar, start_ns=open_ns, end_ns=open_ns + 12 * NS_PER_SECOND)
    assert (len(measured & acked_seconds(probes)), len(measured)) == (8, 10)
    # a second without any probe counts as unavailable
    measured = measured_seconds(calendar, start_ns=open_ns, end_ns=open_ns + 10 * NS_PER_SECOND)
    assert (len(measured & acked_seconds(probes[:5])), len(measured)) == (3, 10)


def test_availability_measures_only_the_session_the_run_starts_in() -> None:
    """A run to the close ends a second or so past it, where the replay clock is already in the next session and
    the probe sends nothing: the next session's seconds are not measured (the full day of December 5 counted one)."""
    open_ns = 1_000_000 * NS_PER_SECOND
    day_ns = 86_400 * NS_PER_SECOND
    opens = [open_ns, open_ns + day_ns]
    ten_s = 10 * NS_PER_SECOND
    sessions = [Session(day=date(2026, 1, 5 + i), open_ns=o, close_ns=o + ten_s) for i, o in enumerate(opens)]
    calendar = ExchangeCalendar("TEST", sessions, timezone="UTC")
    next_open = sessions[1].open_ns
    measured = measured_seconds(calendar, start_ns=open_ns + 1, end_ns=next_open + 2 * NS_PER_SECOND)
    assert sorted(measured) == [open_ns // NS_PER_SECOND + s for s in range(1, 10)]
    # a window that starts in the next session measures that session's seconds
    measured = measured_seconds(calendar, start_ns=next_open, end_ns=next_open + 2 * NS_PER_SECOND)
    assert sorted(measured) == [next_open // NS_PER_SECOND, next_open // NS_PER_SECOND + 1]


def test_the_days_schedule_fits_the_example_desk() -> None:
    """`make simulate-day` runs examples/faults-day.yaml on examples/desk.yaml: every service killed once."""
    from tradingdesk.spec.load import load_desk

    repo = Path(__file__).resolve().parents[2]
    faults = load_schedule(
        repo / "examples" / "faults-day.yaml", desk=load_desk(repo / "examples" / "desk.yaml"), session_s=23_400
    )
    assert sorted(f.service for f in faults if f.kind == "sigkill") == sorted(
        ["feeds", "routing", "risk", "compliance", "monitoring"]
    )
    assert {f.kind for f in faults} == {"sigkill", "feed_line_down", "burst", "venue_fault", "database_down"}
    assert {f.mode for f in faults if f.kind == "venue_fault"} == {"away", "timeout"}


def test_the_schedule_shown_in_the_docs_runs_on_the_example_desk() -> None:
    import re

    import yaml

    from tradingdesk.spec.load import load_desk

    repo = Path(__file__).resolve().parents[2]
    (block,) = re.findall(r"```yaml\n(.*?)```", (repo / "docs" / "simulation.md").read_text(), re.S)
    desk = load_desk(repo / "examples" / "desk.yaml")
    assert [f.kind for f in parse_schedule(yaml.safe_load(block), desk=desk, session_s=23_400)] == [
        "sigkill",
        "feed_line_down",
        "burst",
        "venue_fault",
        "venue_fault",
        "database_down",
        "clock_skew",
    ]


def test_an_order_left_pending_new_past_the_ack_timeout_is_caught() -> None:
    assert ack_bound_ns(DESK, speed=20) == (2 + 1) * 20 * NS_PER_SECOND  # 2000 ms and 1 s of slack, at 20x
    bound = 60 * NS_PER_SECOND
    journal = Unanswered(bound_ns=bound)
    for kind, order_id, at_s in [
        ("pending_new", "answered", 0),
        ("pending_new", "stuck", 1),
        ("new", "answered", 1),
        ("pending_new", "timed-out", 2),
        ("venue_ack_timeout", "timed-out", 42),
        ("pending_new", "recent", 50),
        ("feed_switched", "", 70),  # a desk record moves the journal's end too
    ]:
        journal.see(kind, order_id, at_s * NS_PER_SECOND)
    assert journal.orders() == ["stuck"], "answered, timed out and too recent to judge are not in limbo"


def test_a_database_outage_parses_and_two_at_once_are_refused() -> None:
    assert parse({"at": 60, "kind": "database_down", "for": "00:00:30"}) == [
        Fault(at_s=60, kind="database_down", duration_s=30, how="refuse")
    ]
    assert (
        len(parse({"at": 60, "kind": "database_down", "for": 30}, {"at": 90, "kind": "database_down", "for": 5})) == 2
    )
    with pytest.raises(FaultScheduleError) as err:
        parse({"at": 60, "kind": "database_down", "for": 30}, {"at": 89, "kind": "database_down", "for": 5})
    assert "database_down at 89s: the database is still down from 60s until 90s" in str(err.value)


def test_a_database_outage_refuses_sessions_unless_told_to_crash_the_server() -> None:
    refused, crashed = parse(
        {"at": 60, "kind": "database_down", "for": 30},
        {"at": 120, "kind": "database_down", "for": 30, "how": "crash"},
    )
    assert (refused.how, crashed.how) == ("refuse", "crash")
    assert parse({"at": 60, "kind": "database_down", "for": 30, "how": "refuse"}) == [refused]
    # the two are told apart in faults.jsonl and the verdict's notes
    assert refused.describe() == "database down for 30s"
    assert crashed.describe() == "database down for 30s (crash and restart)"


def test_database_outage_figures_come_from_the_probes_around_each_outage() -> None:
    s = NS_PER_SECOND
    events = [
        {"market_ns": 100 * s, "kind": "database_down", "what": "database down"},
        {"market_ns": 130 * s, "kind": "database_down", "what": "database up"},
        {"market_ns": 131 * s, "kind": "burst", "what": "started"},
    ]
    refused = {"acked": False, "code": "UNAVAILABLE", "why": f"{JOURNAL_REFUSAL} to its database; new orders"}
    probes = [
        {"market_ns": 99 * s, "acked": True},
        {"market_ns": 101 * s, "acked": False, "code": "DEADLINE_EXCEEDED", "why": ""},  # taken, then waited
        {"market_ns": 102 * s, **refused},
        {"market_ns": 131 * s, **refused},  # the writer had not reconnected yet
        {"market_ns": 133 * s, "acked": True},
    ]
    assert database_outage_figures(events, probes) == {"database_down_refusing_s": 2.0, "database_back_trading_s": 3.0}
    # trading never came back before the run ended: said, not hidden
    assert database_outage_figures(events, probes[:4])["database_back_trading_s"] == -1.0
    assert database_outage_figures(events[2:], probes) == {}
