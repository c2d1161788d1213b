"""Status conditions from Deployment observations, following the Kubernetes API conventions."""

from __future__ import annotations

from typing import Any

from deskoperator.delivery import Confirmation
from deskoperator.status import Desired, Observed, PodObs, compute, counters_only
from tradingdesk.spec.model import SERVICE_NAMES

HASHES = {s: f"h-{s}" for s in SERVICE_NAMES}


def confirmed(state: str) -> Confirmation:
    return Confirmation(want=state, confirmed_for=state, reported=state, confirmed_time="t")


ACTIVE = confirmed("Active")


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


def test_trading_state_shows_only_what_the_risk_service_confirmed() -> None:
    halted = compute(desired(), all_ready(), confirmed("Halted"), None)
    assert conds(halted)["TradingHalted"] == ("True", "HaltedBySpec")
    assert halted["tradingState"] == "Halted"
    reduce = compute(desired(), all_ready(), confirmed("ReduceOnly"), None)
    assert conds(reduce)["TradingHalted"] == ("False", "ReduceOnly")
    # spec says Halted, the service last confirmed Active and is unreachable: never "Halted" in status
    pending = Confirmation(want="Halted", confirmed_for="Active", reported="Active", attempts=3, error="UNAVAILABLE")
    status = compute(desired(), all_ready(), pending, halted)
    assert conds(status)["TradingHalted"] == ("Unknown", "RiskServiceUnreachable")
    assert status["tradingState"] == "Active"
    assert "not confirmed after 3 attempt(s)" in status["conditions"][3]["message"]
    assert status["trading"]["lastError"] == "UNAVAILABLE"
    # a new desk whose risk service never answered: no trading state at all
    never = compute(desired(), all_ready(), Confirmation(want="Active"), None)
    assert never["tradingState"] is None
    assert conds(never)["TradingHalted"] == ("Unknown", "Delivering")
    refused = Confirmation(want="Halted", attempts=1, error="INVALID_ARGUMENT", refused_for="Halted")
    assert conds(compute(desired(), all_ready(), refused, None))["TradingHalted"][1] == "TradingStateRefused"
    # how far the confirmed state reached the routing gates (from the answer's GateDelivery) is in the condition
    cut = Confirmation(want="Halted", confirmed_for="Halted", reported="Halted", confirmed_time="t",
                       delivery="applied by 1 of 2 routing gate(s); 1 cut off: routing/r-1/7")  # fmt: skip
    status = compute(desired(), all_ready(), cut, None)
    message = next(c["message"] for c in status["conditions"] if c["type"] == "TradingHalted")
    assert message.endswith("confirmed Halted at t, applied by 1 of 2 routing gate(s); 1 cut off: routing/r-1/7")
    assert status["trading"]["delivery"] == "applied by 1 of 2 routing gate(s); 1 cut off: routing/r-1/7"


def pod(service: str, *, node: str = "n1", ready: bool = False, unschedulable: str = "") -> PodObs:
    return PodObs(service, f"{service}-x", node, ready, False, unschedulable)


def test_unschedulable_pods_are_named_with_the_scheduler_message() -> None:
    observed = all_ready()
    observed["routing"] = obs("routing", ready=0)
    msg = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."
    status = compute(desired(), observed, ACTIVE, None, pods={"routing": [pod("routing", node="", unschedulable=msg)]})
    assert conds(status)["Degraded"] == ("True", "Unschedulable")
    assert msg in status["conditions"][2]["message"]


def test_replicas_starting_after_a_scale_up_are_not_lost() -> None:
    observed = all_ready()
    observed["routing"] = obs("routing", ready=1, updated=3, replicas=3)
    replicas = {s: 1 for s in SERVICE_NAMES} | {"routing": 3}
    starting = Desired(1, 1, replicas, HASHES, starting=frozenset({"routing"}))
    status = compute(starting, observed, ACTIVE, None)
    assert conds(status)["Degraded"] == ("False", "AsExpected")
    assert conds(status)["Progressing"] == ("True", "RollingOut")
    late = Desired(1, 1, replicas, HASHES)  # the grace period is over: now they are missing
    assert conds(compute(late, observed, ACTIVE, None))["Degraded"] == ("True", "ReplicasUnavailable")


def test_lost_replicas_name_the_failed_node() -> None:
    observed = all_ready()
    observed["risk"] = obs("risk", ready=0)
    status = compute(
        desired(), observed, ACTIVE, None, pods={"risk": [pod("risk", node="ny4-node-1")]},
        nodes_ready={"ny4-node-1": False, "ny4-node-2": True},
    )  # fmt: skip
    assert conds(status)["Degraded"] == ("True", "ReplicasUnavailable")
    assert "risk 0/1 ready (node ny4-node-1 not ready)" in status["conditions"][2]["message"]
    assert status["failedNodes"] == ["ny4-node-1"]


def test_a_failed_repair_is_degraded_until_it_succeeds() -> None:
    status = compute(desired(repair_error="Service/x could not be repaired: HTTP 403"), all_ready(), ACTIVE, None)
    assert conds(status)["Degraded"] == ("True", "RepairFailed")
    assert "HTTP 403" in status["conditions"][2]["message"]


def test_operator_heartbeat_condition() -> None:
    beat = {"leader": "op-1", "heartbeatTime": "t", "heartbeatSeconds": 30, "state": "Running"}
    status = compute(desired(operator=beat), all_ready(), ACTIVE, None)
    assert conds(status)["OperatorAvailable"] == ("True", "Heartbeat")
    assert status["operator"]["leader"] == "op-1"
    stopped = compute(desired(operator=beat | {"state": "Stopped"}), all_ready(), ACTIVE, None)
    assert conds(stopped)["OperatorAvailable"] == ("False", "OperatorStopped")


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


def test_counters_only_changes_are_told_apart_from_real_ones() -> None:
    """What may wait before it is written (``counters_only``): replicas counted up one pod at a time, one service
    after another ready while the desk starts, a retried delivery's attempts; never a condition's status or
    reason, a new error, a new generation, the heartbeat."""
    starting = {s: obs(s, ready=0, updated=0, reason="ReplicaSetUpdated") for s in SERVICE_NAMES}
    retrying = Confirmation(want="Active", attempts=2, error="UNAVAILABLE: dns")
    first = compute(desired(), starting, retrying, None, timestamp="t0")

    one_updated = {**starting, "feeds": obs("feeds", ready=0, updated=1, reason="ReplicaSetUpdated")}
    more_attempts = Confirmation(want="Active", attempts=4, error="UNAVAILABLE: dns")
    counted = compute(desired(), one_updated, more_attempts, first, timestamp="t1")
    assert counted != first and counted["trading"]["attempts"] == 4
    assert counters_only(first, counted)
    feeds_ready = compute(desired(), {**starting, "feeds": obs("feeds")}, retrying, first, timestamp="t1")
    assert feeds_ready["readyServices"] == "1/5" and counters_only(first, feeds_ready)  # the desk is starting

    new_error = Confirmation(want="Active", attempts=4, error="UNAVAILABLE: refused")
    assert not counters_only(first, compute(desired(), starting, new_error, first, timestamp="t1"))
    assert not counters_only(first, compute(desired(), all_ready(), retrying, first, timestamp="t1"))  # Ready
    assert not counters_only(first, compute(desired(2, 1), starting, retrying, first, timestamp="t1"))  # generation
    beat = {"leader": "op-1", "heartbeatTime": "t9", "heartbeatSeconds": 30, "state": "Running"}
    assert not counters_only(first, compute(desired(operator=beat), starting, retrying, first, timestamp="t1"))
    assert not counters_only(None, first) and not counters_only(first, first)

    ready = compute(desired(), all_ready(), ACTIVE, None, timestamp="t0")
    lost_risk = compute(desired(), {**all_ready(), "risk": obs("risk", ready=0)}, ACTIVE, ready, timestamp="t1")
    assert not counters_only(ready, lost_risk)  # Ready and Degraded change at once
    lost_both = {**all_ready(), "risk": obs("risk", ready=0), "feeds": obs("feeds", ready=0)}
    assert not counters_only(lost_risk, compute(desired(), lost_both, ACTIVE, lost_risk, timestamp="t2"))
