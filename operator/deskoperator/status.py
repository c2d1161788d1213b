"""The desk's status, computed from what its Deployments report: a pure function, unit-tested without a cluster.

Conditions follow the Kubernetes API conventions: ``status`` is "True", "False" or "Unknown"; ``reason`` is
CamelCase; ``lastTransitionTime`` moves only when ``status`` changes.

- Ready: every service has all its replicas ready and running the current spec.
- Progressing: the operator or a Deployment is rolling out a spec change (or the first version).
- Degraded: a service that had finished rolling out lost ready replicas (a node died, pods crash; the node is
  named), a pod cannot be placed (Unschedulable, with the scheduler's message), a rollout exceeded its deadline,
  the operator could not apply the spec or repair a child, or the RiskService refused the spec's limits.
  Replicas added by a scale-up are starting, not lost, for the service's ``startupGraceSeconds``.
- TradingHalted: the trading state the RiskService confirmed; Unknown while ``spec.tradingState`` is not confirmed.
- OperatorAvailable: the acting operator and its heartbeat (a stale heartbeat means no operator acts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from deskoperator.delivery import Confirmation, now
from deskoperator.names import CONFIG_HASH_ANNOTATION
from tradingdesk.spec.model import SERVICE_NAMES

CONDITION_TYPES = ("Ready", "Progressing", "Degraded", "TradingHalted", "OperatorAvailable")
COUNTER_HOLD_S = 5.0
"""How long a status change that only moves counters may wait before it is written (``counters_only``)."""
_NUMBER = re.compile(r"\d+")
PROGRESS = {("Ready", "ServicesNotReady"), ("Progressing", "RollingOut")}
"""Conditions whose message, while they keep their reason, only reports how far a rollout got: which services it
still waits for."""


@dataclass(frozen=True, slots=True)
class Observed:
    """What one Deployment reports, reduced to what status needs."""

    generation: int
    observed_generation: int
    replicas: int
    ready: int
    updated: int
    config_hash: str
    rollout_reason: str
    """Reason of the Deployment's Progressing condition: NewReplicaSetAvailable once a rollout completed."""

    @classmethod
    def from_deployment(cls, body: dict[str, Any]) -> Observed:
        meta, spec, status = body.get("metadata", {}), body.get("spec", {}), body.get("status", {}) or {}
        template = spec.get("template", {}).get("metadata", {}) or {}
        reason = next(
            (c.get("reason", "") for c in status.get("conditions", []) or [] if c.get("type") == "Progressing"), ""
        )
        return cls(
            generation=int(meta.get("generation", 0)),
            observed_generation=int(status.get("observedGeneration", 0)),
            replicas=int(spec.get("replicas", 1)),
            ready=int(status.get("readyReplicas", 0) or 0),
            updated=int(status.get("updatedReplicas", 0) or 0),
            config_hash=(template.get("annotations") or {}).get(CONFIG_HASH_ANNOTATION, ""),
            rollout_reason=reason,
        )


@dataclass(frozen=True, slots=True)
class PodObs:
    """What one desk pod reports, reduced to what status needs to explain a missing replica."""

    service: str
    name: str
    node: str
    ready: bool
    deleting: bool
    unschedulable: str
    """The scheduler's message when the pod cannot be placed; empty otherwise."""

    @classmethod
    def from_pod(cls, body: dict[str, Any], service: str) -> PodObs:
        meta, spec, status = body.get("metadata", {}), body.get("spec", {}), body.get("status", {}) or {}
        conds = {c.get("type"): c for c in status.get("conditions", []) or []}
        scheduled = conds.get("PodScheduled", {})
        unschedulable = ""
        if scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
            unschedulable = scheduled.get("message", "") or "the scheduler found no node"
        return cls(
            service=service,
            name=meta.get("name", ""),
            node=spec.get("nodeName", "") or "",
            ready=conds.get("Ready", {}).get("status") == "True",
            deleting=bool(meta.get("deletionTimestamp")),
            unschedulable=unschedulable,
        )


@dataclass(frozen=True, slots=True)
class Desired:
    """What the operator applied for the desk's current generation, and what it knows beside the Deployments."""

    generation: int
    reconciled_generation: int | None
    replicas: dict[str, int]
    config_hashes: dict[str, str]
    error: tuple[str, str] | None = None
    """(reason, message) when the spec could not be applied."""
    repair_error: str = ""
    """The last drift repair that failed (object and error), until a repair or a sync succeeds."""
    limits: Confirmation | None = None
    """spec.risk delivered live to the RiskService (None: not known yet)."""
    starting: frozenset[str] = frozenset()
    """Services scaled up within their startup grace period: missing replicas there are starting, not lost."""
    operator: dict[str, Any] = field(default_factory=dict)
    """Who runs the desk and the heartbeat: ``{"leader", "heartbeatTime", "heartbeatSeconds"}``."""
    ready_wanted: dict[str, int] | None = None
    """Ready pods a service needs, where not all its replicas: 1 for routing and risk, whose standbys are never
    ready (only the active replica is)."""


def _condition(type_: str, status: str, reason: str, message: str, generation: int) -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": message, "observedGeneration": generation}


def _rolling(want: int, want_ready: int, want_hash: str, obs: Observed | None) -> bool:
    if obs is None:
        return True
    return (
        obs.observed_generation < obs.generation
        or obs.config_hash != want_hash
        or obs.updated < want
        or (obs.ready < want_ready and obs.rollout_reason != "NewReplicaSetAvailable")
    )


TRADING_REASONS = {"Halted": "HaltedBySpec", "ReduceOnly": "ReduceOnly", "Active": "TradingActive"}


def trading_condition(trading: Confirmation, generation: int) -> dict[str, Any]:
    """TradingHalted from what the RiskService confirmed; Unknown while the spec's state is not confirmed."""
    last = trading.reported or "none yet"
    if trading.pending:
        if trading.refused:
            reason, why = "TradingStateRefused", f"the RiskService refused it: {trading.error}"
        elif trading.attempts:
            reason = "RiskServiceUnreachable"
            why = f"not confirmed after {trading.attempts} attempt(s), retrying with backoff; last: {trading.error}"
        else:
            reason, why = "Delivering", "being delivered to the RiskService"
        msg = f"spec.tradingState is {trading.want}: {why}; last confirmed state: {last}"
        return _condition("TradingHalted", "Unknown", reason, msg, generation)
    halted = "True" if trading.reported == "Halted" else "False"
    reason = TRADING_REASONS.get(trading.reported, "TradingActive")
    msg = f"spec.tradingState is {trading.want}; the RiskService confirmed {trading.reported}"
    msg += f" at {trading.confirmed_time}"
    if trading.delivery:
        msg += f", {trading.delivery}"
    return _condition("TradingHalted", halted, reason, msg, generation)


def operator_condition(beat: dict[str, Any], generation: int) -> dict[str, Any]:
    """OperatorAvailable, as the acting operator sees itself; readers judge it by ``status.operator.heartbeatTime``."""
    every = beat.get("heartbeatSeconds", 0)
    if beat.get("state") == "Stopped":
        msg = f"operator {beat.get('leader')} stopped at {beat.get('heartbeatTime')}; another replica takes over"
        return _condition("OperatorAvailable", "False", "OperatorStopped", msg, generation)
    msg = (
        f"operator {beat.get('leader')} acts on this desk; heartbeat every {every}s in status.operator.heartbeatTime "
        f"(older than {3 * every}s: no operator is acting on the desk)"
    )
    return _condition("OperatorAvailable", "True", "Heartbeat", msg, generation)


def _missing(name: str, ready: int, want: int, pods: list[PodObs], nodes_ready: dict[str, bool]) -> tuple[str, str]:
    """Why a settled service lacks ready replicas: ("unschedulable"|"lost", explanation naming pods and nodes)."""
    stuck = [p for p in pods if p.unschedulable and not p.deleting]
    if stuck:
        pod = stuck[0]
        return "unschedulable", f"{name} {ready}/{want} ready: pod {pod.name} cannot be placed: {pod.unschedulable}"
    on_failed = sorted({p.node for p in pods if p.node and nodes_ready.get(p.node) is False})
    where = f" (node {', '.join(on_failed)} not ready)" if on_failed else ""
    return "lost", f"{name} {ready}/{want} ready{where}"


def compute(
    desired: Desired,
    observed: dict[str, Observed],
    trading: Confirmation,
    previous: dict[str, Any] | None,
    timestamp: str | None = None,
    pods: dict[str, list[PodObs]] | None = None,
    nodes_ready: dict[str, bool] | None = None,
) -> dict[str, Any]:
    """The full status object; ``previous`` supplies lastTransitionTime of unchanged conditions."""
    gen = desired.generation
    pods, nodes_ready = pods or {}, nodes_ready or {}
    services: dict[str, dict[str, int]] = {}
    waiting: list[str] = []
    rolling: list[str] = []
    lost: list[str] = []
    unschedulable: list[str] = []
    failed: list[str] = []
    for name in SERVICE_NAMES:
        want = desired.replicas.get(name, 1)
        want_ready = (desired.ready_wanted or {}).get(name, want)
        obs = observed.get(name)
        ready = obs.ready if obs else 0
        services[name] = {"replicas": want, "readyReplicas": ready, "updatedReplicas": obs.updated if obs else 0}
        is_rolling = _rolling(want, want_ready, desired.config_hashes.get(name, ""), obs)
        if is_rolling or (ready < want_ready and name in desired.starting):
            rolling.append(name)
        if ready < want_ready or is_rolling:
            waiting.append(f"{name} {ready}/{want_ready}")
        if obs is not None and ready < want_ready:
            kind, why = _missing(name, ready, want_ready, pods.get(name, []), nodes_ready)
            if kind == "unschedulable":
                unschedulable.append(why)
            elif not is_rolling and name not in desired.starting:
                lost.append(why)
        if obs is not None and obs.rollout_reason == "ProgressDeadlineExceeded":
            failed.append(name)
    n_ready = len(SERVICE_NAMES) - len(waiting)
    applied = desired.reconciled_generation == gen and desired.error is None

    if desired.error:
        ready_c = _condition("Ready", "False", desired.error[0], desired.error[1], gen)
    elif not waiting and applied:
        ready_c = _condition("Ready", "True", "AllServicesReady", f"{n_ready}/{len(SERVICE_NAMES)} services ready", gen)
    else:
        msg = f"{n_ready}/{len(SERVICE_NAMES)} services ready; waiting for {', '.join(waiting) or 'the operator'}"
        ready_c = _condition("Ready", "False", "ServicesNotReady", msg, gen)

    if not applied and desired.error is None:
        progressing = _condition("Progressing", "True", "Reconciling", f"applying generation {gen}", gen)
    elif rolling and desired.error is None:
        progressing = _condition("Progressing", "True", "RollingOut", f"rolling out {', '.join(rolling)}", gen)
    else:
        progressing = _condition("Progressing", "False", "RolloutComplete", "every service runs the current spec", gen)

    limits = desired.limits
    if desired.error:
        degraded = _condition("Degraded", "True", desired.error[0], desired.error[1], gen)
    elif desired.repair_error:
        degraded = _condition("Degraded", "True", "RepairFailed", desired.repair_error, gen)
    elif limits is not None and limits.refused:
        msg = f"the RiskService refused the spec's risk limits: {limits.error}"
        degraded = _condition("Degraded", "True", "LimitsRefused", msg, gen)
    elif failed:
        msg = f"rollout deadline exceeded: {', '.join(failed)}"
        degraded = _condition("Degraded", "True", "RolloutFailed", msg, gen)
    elif unschedulable:
        degraded = _condition("Degraded", "True", "Unschedulable", "; ".join(unschedulable), gen)
    elif lost:
        degraded = _condition("Degraded", "True", "ReplicasUnavailable", f"lost ready replicas: {', '.join(lost)}", gen)
    else:
        degraded = _condition("Degraded", "False", "AsExpected", "no service is missing replicas", gen)

    conditions = [ready_c, progressing, degraded, trading_condition(trading, gen)]
    if desired.operator:
        conditions.append(operator_condition(desired.operator, gen))
    stamp = timestamp or now()
    before = {c.get("type"): c for c in (previous or {}).get("conditions", []) or []}
    for cond in conditions:
        old = before.get(cond["type"])
        same = old is not None and old.get("status") == cond["status"] and old.get("lastTransitionTime")
        cond["lastTransitionTime"] = old["lastTransitionTime"] if same else stamp

    failed_nodes = sorted({p.node for ps in pods.values() for p in ps if p.node and nodes_ready.get(p.node) is False})
    out: dict[str, Any] = {
        "observedGeneration": desired.reconciled_generation or 0,
        "conditions": conditions,
        # Only ever a state the RiskService confirmed (None removes the field until there is one).
        "tradingState": trading.reported or None,
        "trading": trading.to_status(),
        "readyServices": f"{n_ready}/{len(SERVICE_NAMES)}",
        "services": services,
        "failedNodes": failed_nodes,
    }
    if limits is not None:
        out["riskLimits"] = limits.to_status()
    if desired.operator:
        out["operator"] = dict(desired.operator)
    return out


def _without_counters(status: dict[str, Any]) -> dict[str, Any]:
    """``status`` with its counters taken out: delivery attempts, each service's ready and updated replicas, and the
    numbers in condition messages (``after 4 attempt(s)``); while services roll out (Ready False because they are
    not ready yet, Progressing ``RollingOut``), also how many are ready (``readyServices``) and which ones the two
    messages still name. Everything else as it is."""
    out = dict(status)
    for key in ("trading", "riskLimits"):
        if isinstance(out.get(key), dict):
            out[key] = {k: v for k, v in out[key].items() if k != "attempts"}
    services = out.get("services") or {}
    out["services"] = {name: {"replicas": s.get("replicas")} for name, s in services.items()}
    conditions = []
    for cond in out.get("conditions") or []:
        message = _NUMBER.sub("#", str(cond.get("message", "")))
        if (cond.get("type"), cond.get("reason")) in PROGRESS:
            message = ""  # "2/5 services ready; waiting for risk 0/1, ...", "rolling out risk, ..."
            out.pop("readyServices", None)
        conditions.append({**cond, "message": message})
    out["conditions"] = conditions
    return out


def counters_only(before: dict[str, Any] | None, after: dict[str, Any]) -> bool:
    """Whether ``after`` differs from the status last written only in counters, so its write may wait (at most
    ``COUNTER_HOLD_S``) and go out with the next one.

    Why: most status changes while desks start are counters (a Deployment's updated and ready replicas one pod at
    a time, one service after another ready, a retried delivery's attempts), and each write is the API server's
    dearest request. A real change is never held: a condition's status or reason, a message's wording other than
    its numbers (the rollout's progress aside), observedGeneration, the trading state and what the
    RiskService confirmed, a delivery's new error, failed nodes, the heartbeat."""
    if before is None or before == after:
        return False
    return _without_counters(before) == _without_counters(after)
