"""When ``kubectl tradingdesk switchover`` may step the active router down, decided on the desk and its routing
pods (tests/operator/test_failover_runbooks.py runs it for real)."""

from __future__ import annotations

import pytest

from deskoperator.handover import Plan, SwitchoverRefused, plan
from tests.operator.test_switchover import OLD, pod

DESK = {"metadata": {"name": "us-equities", "namespace": "trading"}}
ACTIVE = pod("r-a", ready=True)


def refused(pods: list[dict], *, desk: dict = DESK, to: str = "") -> str:
    with pytest.raises(SwitchoverRefused) as exc:
        plan(desk, pods, to=to)
    return str(exc.value)


def test_the_active_router_steps_down_for_its_ready_standbys() -> None:
    assert plan(DESK, [ACTIVE, pod("r-b")]) == Plan(active="r-a", standbys=("r-b",))
    assert plan(DESK, [pod("r-c"), ACTIVE, pod("r-b")]) == Plan(active="r-a", standbys=("r-b", "r-c"))
    assert plan(DESK, [ACTIVE, pod("r-b"), pod("r-c", started=False)], to="r-b").standbys == ("r-b",)


def test_refused_without_a_ready_standby() -> None:
    assert refused([ACTIVE]) == (
        "no ready standby to take over from r-a on desk trading/us-equities: r-a is the only routing pod "
        "(spec.services.routing.replicas: 2 or more gives standbys); a switchover now would stop order entry"
    )
    assert refused([ACTIVE, pod("r-b", started=False)]) == (
        "no ready standby to take over from r-a on desk trading/us-equities: standby r-b has not replayed the "
        "journal yet (not started); a switchover now would stop order entry"
    )
    pending = pod("r-b")
    pending["status"]["phase"] = "Pending"
    assert refused([ACTIVE, pending]).startswith("no ready standby to take over from r-a")


def test_refused_while_a_switchover_or_an_upgrade_is_in_progress() -> None:
    assert refused([ACTIVE, pod("r-b"), pod("r-old", deleting=True)]) == (
        "a switchover is in progress on desk trading/us-equities: routing pod r-old is stopping (a switchover, a "
        "drain or a rollout); wait until it is gone and a standby leads (kubectl tradingdesk status)"
    )
    assert refused([pod("r-a"), pod("r-b")]) == (
        "no active router on desk trading/us-equities: a takeover is in progress (or routing is down); wait until "
        "one routing pod is ready (kubectl tradingdesk status)"
    )
    assert refused([ACTIVE, pod("r-b", OLD)]).startswith(
        "a rolling upgrade of routing is in progress on desk trading/us-equities: the operator switches over"
    )
    assert refused([ACTIVE, pod("r-b", ready=True)]).startswith("2 routing pods of desk trading/us-equities are ready")


def test_refused_while_the_desk_is_deleted() -> None:
    deleted = {"metadata": {**DESK["metadata"], "deletionTimestamp": "2026-11-30T12:00:00Z"}}
    assert refused([ACTIVE, pod("r-b")], desk=deleted) == (
        "desk trading/us-equities is being deleted (its finalizer halts trading and stops its pods)"
    )


def test_to_must_name_the_only_ready_standby() -> None:
    assert refused([ACTIVE, pod("r-b")], to="r-a") == "r-a is the active router of desk trading/us-equities already"
    assert refused([ACTIVE, pod("r-b")], to="r-x") == (
        "r-x is not a routing pod of desk trading/us-equities (its pods: r-a, r-b)"
    )
    assert refused([ACTIVE, pod("r-b"), pod("r-c", started=False)], to="r-c").startswith(
        "r-c is not a ready standby (it has not replayed the journal yet, or is not running)"
    )
    assert refused([ACTIVE, pod("r-b"), pod("r-c")], to="r-b") == (
        "cannot send the active role to r-b: 2 standbys are ready (r-b, r-c) and the writer lock goes to whichever "
        "waits first; switch over without --to"
    )
