"""Status conditions from Deployment observations, following the Kubernetes API conventions."""

from __future__ import annotations

from typing import Any

from deskoperator.status import Desired, Observed, Trading, compute
from tradingdesk.spec.model import SERVICE_NAMES

HASHES = {s: f"h-{s}" for s in SERVICE_NAMES}
ACTIVE = Trading("Active", None)


def desired(generation: int = 1, reconciled: int | None = 1, **kw: Any) -> Desired:
    return Desired(generation, reconciled, {s: 1 for s in SERVICE_NAMES}, HASHES, **kw)


def obs(
    service: str, *, ready: int = 1, updated: int = 1, reason: str = "NewReplicaSetAvailable", **kw: Any
) -> Observed:
    fields = {"generation": 1, "observed_generation": 1, "replicas": 1, "config_hash": HASHES[service]}
    fields.update(kw)
    return Observed(ready=ready, updated=updated, rollout_reason=reason, **fields)


def all_ready() -> dict[str, Observed]:
    return {s: obs(s) for s in SERVICE_NAMES}


def conds(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def test_all_ready() -> None:
    status = compute(desired(), all_ready(), ACTIVE, None, timestamp="t0")
    assert conds(status) == {
        "Ready": ("True", "AllServicesReady"),
        "Progressing": ("False", "RolloutComplete"),
        "Degraded": ("False", "AsExpected"),
        "TradingHalted": ("False", "TradingActive"),
    }
    assert status["readyServices"] == "5/5"
    assert status["observedGeneration"] == 1
    assert status["services"]["risk"] == {"replicas": 1, "readyReplicas": 1, "updatedReplicas": 1}
    assert all(c["lastTransitionTime"] == "t0" and c["observedGeneration"] == 1 for c in status["conditions"])


def test_first_rollout_is_progressing_not_degraded() -> None:
    observed = {s: obs(s, ready=0, reason="ReplicaSetUpdated") for s in SERVICE_NAMES}
    status = compute(desired(), observed, ACTIVE, None)
    assert conds(status)["Ready"] == ("False", "ServicesNotReady")
    assert conds(status)["Progressing"] == ("True", "RollingOut")
    assert conds(status)["Degraded"][0] == "False"
    assert status["readyServices"] == "0/5"
    assert compute(desired(), {}, ACTIVE, None)["readyServices"] == "0/5"


def test_not_yet_reconciled_generation_is_progressing() -> None:
    status = compute(desired(generation=2, reconciled=1), all_ready(), ACTIVE, None)
    assert conds(status)["Progressing"] == ("True", "Reconciling")
    assert conds(status)["Ready"][0] == "False"
    assert status["observedGeneration"] == 1


def test_spec_change_rolls_until_the_new_hash_is_ready() -> None:
    observed = all_ready()
    observed["risk"] = obs("risk", config_hash="old")
    status = compute(desired(), observed, ACTIVE, None)
    assert conds(status)["Progressing"] == ("True", "RollingOut")
    assert "risk" in status["conditions"][1]["message"]
    assert status["readyServices"] == "4/5"


def test_lost_replicas_after_a_completed_rollout_are_degraded() -> None:
    observed = all_ready()
    observed["routing"] = obs("routing", ready=0)  # node died: pod not ready, rollout had completed
    status = compute(desired(), observed, ACTIVE, None)
    assert conds(status)["Degraded"] == ("True", "ReplicasUnavailable")
    assert "routing 0/1" in status["conditions"][2]["message"]
    assert conds(status)["Ready"] == ("False", "ServicesNotReady")
    assert conds(status)["Progressing"][0] == "False"


def test_rollout_deadline_and_errors_are_degraded() -> None:
    observed = all_ready()
    observed["feeds"] = obs("feeds", ready=0, reason="ProgressDeadlineExceeded")
    assert conds(compute(desired(), observed, ACTIVE, None))["Degraded"] == ("True", "RolloutFailed")
    status = compute(desired(error=("InvalidSpec", "spec.x: bad")), all_ready(), ACTIVE, None)
    assert conds(status)["Ready"] == ("False", "InvalidSpec")
    assert conds(status)["Degraded"] == ("True", "InvalidSpec")


def test_last_transition_time_moves_only_when_status_changes() -> None:
    first = compute(desired(), all_ready(), ACTIVE, None, timestamp="t0")
    same = compute(desired(), all_ready(), ACTIVE, first, timestamp="t1")
    assert same == first
    observed = all_ready()
    observed["risk"] = obs("risk", ready=0)
    changed = compute(desired(), observed, ACTIVE, first, timestamp="t2")
    times = {c["type"]: c["lastTransitionTime"] for c in changed["conditions"]}
    assert times == {"Ready": "t2", "Progressing": "t0", "Degraded": "t2", "TradingHalted": "t0"}


def test_trading_halted_condition() -> None:
    halted = compute(desired(), all_ready(), Trading("Halted", True), None)
    assert conds(halted)["TradingHalted"] == ("True", "HaltedBySpec")
    assert halted["tradingState"] == "Halted"
    reduce = compute(desired(), all_ready(), Trading("ReduceOnly", None), None)
    assert conds(reduce)["TradingHalted"] == ("False", "ReduceOnly")
    failed = compute(
        desired(), all_ready(), Trading("Halted", False, "unreachable"), halted | {"tradingState": "Active"}
    )
    assert conds(failed)["TradingHalted"] == ("Unknown", "RiskServiceUnreachable")
    assert failed["tradingState"] == "Active"  # the state last known to be in force, not the wish


def test_a_service_with_standbys_is_ready_with_its_active_replica() -> None:
    two = {s: (2 if s in ("routing", "risk") else 1) for s in SERVICE_NAMES}
    want = Desired(1, 1, two, HASHES, ready_wanted={"routing": 1, "risk": 1})
    observed = {
        **all_ready(),
        "routing": obs("routing", replicas=2, updated=2),
        "risk": obs("risk", replicas=2, updated=2),
    }
    status = compute(want, observed, ACTIVE, None, timestamp="t0")
    assert conds(status)["Ready"] == ("True", "AllServicesReady")
    assert status["services"]["routing"] == {"replicas": 2, "readyReplicas": 1, "updatedReplicas": 2}
    # the active replica lost, no standby took over yet: degraded
    observed["routing"] = obs("routing", ready=0, replicas=2, updated=2)
    status = compute(want, observed, ACTIVE, status, timestamp="t1")
    assert conds(status)["Degraded"] == ("True", "ReplicasUnavailable")
    assert "routing 0/1 ready" in next(c["message"] for c in status["conditions"] if c["type"] == "Degraded")
