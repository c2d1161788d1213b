"""The desk's status, computed from what its Deployments report: a pure function, unit-tested without a cluster.

Conditions follow the Kubernetes API conventions: ``status`` is "True", "False" or "Unknown"; ``reason`` is
CamelCase; ``lastTransitionTime`` moves only when ``status`` changes.

- Ready: every service has all its replicas ready and running the current spec.
- Progressing: the operator or a Deployment is rolling out a spec change (or the first version).
- Degraded: a service that had finished rolling out lost ready replicas (a node died, pods crash), a rollout
  exceeded its deadline, or the operator could not apply the spec.
- TradingHalted: the kill switch, from ``spec.tradingState`` and whether the RiskService got it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from deskoperator.names import CONFIG_HASH_ANNOTATION
from tradingdesk.spec.model import SERVICE_NAMES

CONDITION_TYPES = ("Ready", "Progressing", "Degraded", "TradingHalted")


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
class Trading:
    """The kill switch as the operator last handled it."""

    state: str
    """spec.tradingState the operator acted on (Active, ReduceOnly, Halted)."""
    delivered: bool | None
    """True: RiskService acknowledged; False: the call failed; None: pods start with it from the ConfigMap."""
    message: str = ""


@dataclass(frozen=True, slots=True)
class Desired:
    """What the operator applied for the desk's current generation."""

    generation: int
    reconciled_generation: int | None
    replicas: dict[str, int]
    config_hashes: dict[str, str]
    error: tuple[str, str] | None = None
    """(reason, message) when the spec could not be applied."""
    ready_wanted: dict[str, int] | None = None
    """Ready pods a service needs, where not all its replicas: 1 for routing and risk, whose standbys are never
    ready (only the active replica is)."""


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def _trading_condition(trading: Trading, generation: int) -> dict[str, Any]:
    halted = "True" if trading.state == "Halted" else "False"
    if trading.delivered is False:
        msg = f"spec.tradingState is {trading.state} but the RiskService did not confirm it: {trading.message}"
        return _condition("TradingHalted", "Unknown", "RiskServiceUnreachable", msg, generation)
    reason = {"Halted": "HaltedBySpec", "ReduceOnly": "ReduceOnly", "Active": "TradingActive"}[trading.state]
    how = "confirmed by the RiskService" if trading.delivered else "risk pods start with it from the desk ConfigMap"
    return _condition("TradingHalted", halted, reason, f"spec.tradingState is {trading.state}; {how}", generation)


def compute(
    desired: Desired,
    observed: dict[str, Observed],
    trading: Trading,
    previous: dict[str, Any] | None,
    timestamp: str | None = None,
) -> dict[str, Any]:
    """The full status object; ``previous`` supplies lastTransitionTime of unchanged conditions."""
    gen = desired.generation
    services: dict[str, dict[str, int]] = {}
    waiting: list[str] = []
    rolling: list[str] = []
    lost: list[str] = []
    failed: list[str] = []
    for name in SERVICE_NAMES:
        want = desired.replicas.get(name, 1)
        want_ready = (desired.ready_wanted or {}).get(name, want)
        obs = observed.get(name)
        ready = obs.ready if obs else 0
        services[name] = {"replicas": want, "readyReplicas": ready, "updatedReplicas": obs.updated if obs else 0}
        is_rolling = _rolling(want, want_ready, desired.config_hashes.get(name, ""), obs)
        if is_rolling:
            rolling.append(name)
        if ready < want_ready or is_rolling:
            waiting.append(f"{name} {ready}/{want_ready}")
            if obs is not None and not is_rolling:
                lost.append(f"{name} {ready}/{want_ready} ready")
        if obs is not None and obs.rollout_reason == "ProgressDeadlineExceeded":
            failed.append(name)
    n_ready = len(SERVICE_NAMES) - len(waiting)
    applied = desired.reconciled_generation == gen and desired.error is None

    if desired.error:
        ready = _condition("Ready", "False", desired.error[0], desired.error[1], gen)
    elif not waiting and applied:
        ready = _condition("Ready", "True", "AllServicesReady", f"{n_ready}/{len(SERVICE_NAMES)} services ready", gen)
    else:
        msg = f"{n_ready}/{len(SERVICE_NAMES)} services ready; waiting for {', '.join(waiting) or 'the operator'}"
        ready = _condition("Ready", "False", "ServicesNotReady", msg, gen)

    if not applied and desired.error is None:
        progressing = _condition("Progressing", "True", "Reconciling", f"applying generation {gen}", gen)
    elif rolling and desired.error is None:
        progressing = _condition("Progressing", "True", "RollingOut", f"rolling out {', '.join(rolling)}", gen)
    else:
        progressing = _condition("Progressing", "False", "RolloutComplete", "every service runs the current spec", gen)

    if desired.error:
        degraded = _condition("Degraded", "True", desired.error[0], desired.error[1], gen)
    elif failed:
        degraded = _condition(
            "Degraded", "True", "RolloutFailed", f"rollout deadline exceeded: {', '.join(failed)}", gen
        )
    elif lost:
        msg = f"lost ready replicas: {', '.join(lost)}"
        degraded = _condition("Degraded", "True", "ReplicasUnavailable", msg, gen)
    else:
        degraded = _condition("Degraded", "False", "AsExpected", "no service is missing replicas", gen)

    conditions = [ready, progressing, degraded, _trading_condition(trading, gen)]
    stamp = timestamp or now()
    before = {c.get("type"): c for c in (previous or {}).get("conditions", []) or []}
    for cond in conditions:
        old = before.get(cond["type"])
        same = old is not None and old.get("status") == cond["status"] and old.get("lastTransitionTime")
        cond["lastTransitionTime"] = old["lastTransitionTime"] if same else stamp

    # A failed delivery keeps showing the state last known to be in force, not the wish.
    known = (previous or {}).get("tradingState")
    trading_state = trading.state if trading.delivered is not False else (known or trading.state)
    return {
        "observedGeneration": desired.reconciled_generation or 0,
        "conditions": conditions,
        "tradingState": trading_state,
        "readyServices": f"{n_ready}/{len(SERVICE_NAMES)}",
        "services": services,
    }
