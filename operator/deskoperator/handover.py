"""A planned switchover of routing's active role, decided on the desk and its routing pods (``kubectl
tradingdesk switchover``).

The active router is the pod holding the journal's writer lock (``tradingdesk.storage.fence``); it is the only
Ready routing pod. Deleting it stops it gracefully: it stops taking orders, commits what it has and ends its
database session, and the lock goes to the standby that waits first in PostgreSQL's queue, which then reports
SERVING and becomes Ready. That is the whole mechanism (the operator's rolling-upgrade switchover uses it too);
what this module adds is the judgement of when it is safe, so that a switchover never stops order entry:

- a standby must be ready to take over: running, not stopping, started (its startup probe passes once it replayed
  the journal);
- nothing else may be moving the active role: no routing pod stopping, a single active router, no rolling upgrade
  (pods of two versions: the operator switches over itself as part of it), a desk not being deleted.

``--to`` names the standby that must take over. The lock goes to whichever standby waits first, which nobody
chooses: so the target must be the only ready standby, or the switchover is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deskoperator import podstate

SERVICE = "routing"


class SwitchoverRefused(RuntimeError):
    """Why a switchover would not be safe now, in words for the person at the terminal."""


@dataclass(frozen=True)
class Plan:
    active: str
    standbys: tuple[str, ...]


def plan(desk: Mapping[str, Any], pods: list[Mapping[str, Any]], *, to: str = "") -> Plan:
    """The active router to step down and the ready standbys that may take over; ``SwitchoverRefused`` when a
    switchover is not safe now. ``pods``: every routing pod of the desk."""
    meta = desk["metadata"]
    where = f"{meta.get('namespace')}/{meta['name']}"
    if meta.get("deletionTimestamp"):
        raise SwitchoverRefused(f"desk {where} is being deleted (its finalizer halts trading and stops its pods)")
    stopping = sorted(podstate.name(p) for p in pods if podstate.deleting(p))
    if stopping:
        raise SwitchoverRefused(
            f"a switchover is in progress on desk {where}: routing pod {', '.join(stopping)} is stopping (a "
            "switchover, a drain or a rollout); wait until it is gone and a standby leads (kubectl tradingdesk status)"
        )
    if len({podstate.version(p) for p in pods}) > 1:
        raise SwitchoverRefused(
            f"a rolling upgrade of routing is in progress on desk {where}: the operator switches over to the new "
            "version itself (a Switchover Event on the desk); wait until it is done"
        )
    active = sorted(podstate.name(p) for p in pods if podstate.ready(p))
    if not active:
        raise SwitchoverRefused(
            f"no active router on desk {where}: a takeover is in progress (or routing is down); "
            "wait until one routing pod is ready (kubectl tradingdesk status)"
        )
    if len(active) > 1:
        raise SwitchoverRefused(f"{len(active)} routing pods of desk {where} are ready ({', '.join(active)}): "
                                "expected one active router; is routing on PostgreSQL storage?")  # fmt: skip
    standbys = tuple(sorted(podstate.name(p) for p in pods if _ready_standby(p)))
    if not standbys:
        waiting = sorted(podstate.name(p) for p in pods if not podstate.ready(p))
        why = (
            f"standby {', '.join(waiting)} has not replayed the journal yet (not started)"
            if waiting
            else f"{active[0]} is the only routing pod (spec.services.routing.replicas: 2 or more gives standbys)"
        )
        raise SwitchoverRefused(
            f"no ready standby to take over from {active[0]} on desk {where}: {why}; "
            "a switchover now would stop order entry"
        )
    if to:
        names = {podstate.name(p) for p in pods}
        if to == active[0]:
            raise SwitchoverRefused(f"{to} is the active router of desk {where} already")
        if to not in names:
            raise SwitchoverRefused(f"{to} is not a routing pod of desk {where} (its pods: {', '.join(sorted(names))})")
        if to not in standbys:
            raise SwitchoverRefused(f"{to} is not a ready standby (it has not replayed the journal yet, or is not "
                                    "running); wait, or choose another")  # fmt: skip
        if len(standbys) > 1:
            raise SwitchoverRefused(
                f"cannot send the active role to {to}: {len(standbys)} standbys are ready ({', '.join(standbys)}) "
                "and the writer lock goes to whichever waits first; switch over without --to"
            )
    return Plan(active=active[0], standbys=standbys)


def _ready_standby(pod: Mapping[str, Any]) -> bool:
    return (
        not podstate.ready(pod)
        and not podstate.deleting(pod)
        and podstate.started(pod)
        and pod.get("status", {}).get("phase") == "Running"
    )
