"""What a pod's status says, read the same way by the operator's rolling-upgrade switchover and the plugin's.

For routing and risk on PostgreSQL the pod conditions carry the leadership: the active replica is the only Ready
pod (its readiness probe asks for its service's own gRPC health, SERVING only on the writer-lock holder), and a
standby that replayed the journal has ``started`` containers (its startup probe passed) without being Ready.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deskoperator.names import POD_VERSION_ANNOTATION


def version(pod: Mapping[str, Any]) -> str:
    return (pod["metadata"].get("annotations") or {}).get(POD_VERSION_ANNOTATION, "")


def condition(pod: Mapping[str, Any], type_: str) -> bool:
    return any(
        c.get("type") == type_ and c.get("status") == "True" for c in pod.get("status", {}).get("conditions") or []
    )


def ready(pod: Mapping[str, Any]) -> bool:
    """Ready: for routing and risk, the active replica, whose service reports SERVING."""
    return condition(pod, "Ready")


def started(pod: Mapping[str, Any]) -> bool:
    statuses = pod.get("status", {}).get("containerStatuses") or []
    return bool(statuses) and all(s.get("started") for s in statuses)


def deleting(pod: Mapping[str, Any]) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def name(pod: Mapping[str, Any]) -> str:
    return pod["metadata"]["name"]
