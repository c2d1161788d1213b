"""Where a desk's pods run: colocation node selector, tolerations, anti-affinity and topology spread.

Why the eviction tolerations: without them the DefaultTolerationSeconds admission plugin gives every pod 300 s
on a NotReady or unreachable node, so a desk would sit on a dead host for five minutes. Ten seconds lets the
taint-eviction controller move the pods to the colocation's other node quickly, while riding out a blip.
"""

from __future__ import annotations

from typing import Any

from deskoperator.names import COLOCATION_LABEL, HOSTNAME_LABEL, selector_labels
from tradingdesk.spec.model import TolerationSpec, TradingDesk

EVICTION_TOLERATION_SECONDS = 10
NODE_FAILURE_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


def node_selector(desk: TradingDesk) -> dict[str, str]:
    placement = desk.spec.placement
    selector = dict(placement.node_selector)
    if placement.colocation:
        selector[COLOCATION_LABEL] = placement.colocation
    return dict(sorted(selector.items()))


def _toleration(t: TolerationSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"operator": t.operator}
    if t.key:
        out["key"] = t.key
    if t.value:
        out["value"] = t.value
    if t.effect:
        out["effect"] = t.effect
    if t.toleration_seconds is not None:
        out["tolerationSeconds"] = t.toleration_seconds
    return out


def tolerations(desk: TradingDesk) -> list[dict[str, Any]]:
    """The spec's tolerations, then short NoExecute ones for node failure unless the spec sets its own."""
    out = [_toleration(t) for t in desk.spec.placement.tolerations]
    own = {t.key for t in desk.spec.placement.tolerations if t.effect in ("NoExecute", "")}
    for key in NODE_FAILURE_TAINTS:
        if key not in own:
            out.append(
                {
                    "key": key,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": EVICTION_TOLERATION_SECONDS,
                }
            )
    return out


def affinity(desk: TradingDesk, service: str) -> dict[str, Any] | None:
    """Replicas of one service on different hosts, so one lost node never takes a whole service."""
    mode = desk.spec.placement.anti_affinity
    if mode == "none":
        return None
    term = {"labelSelector": {"matchLabels": selector_labels(desk.name, service)}, "topologyKey": HOSTNAME_LABEL}
    if mode == "required":
        return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    return {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": term}]
        }
    }


def topology_spread(desk: TradingDesk, service: str) -> list[dict[str, Any]]:
    """Even spread over the colocation's hosts; a preference, so losing a node never blocks rescheduling.

    ``nodeTaintsPolicy: Honor`` leaves a NotReady (tainted) node out of the skew computation.
    """
    if not desk.spec.placement.topology_spread:
        return []
    return [
        {
            "maxSkew": 1,
            "topologyKey": HOSTNAME_LABEL,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector_labels(desk.name, service)},
            "nodeTaintsPolicy": "Honor",
        }
    ]


def pod_placement(desk: TradingDesk, service: str) -> dict[str, Any]:
    """The placement fields of one service's pod spec (empty ones left out)."""
    out: dict[str, Any] = {}
    if selector := node_selector(desk):
        out["nodeSelector"] = selector
    out["tolerations"] = tolerations(desk)
    if aff := affinity(desk, service):
        out["affinity"] = aff
    if spread := topology_spread(desk, service):
        out["topologySpreadConstraints"] = spread
    return out
