"""The switchover of a rolling upgrade, as a decision on pods (the cluster tests run it for real)."""

from __future__ import annotations

from typing import Any

from deskoperator.names import POD_VERSION_ANNOTATION
from deskoperator.switchover import step_down

NEW, OLD = "v2", "v1"


def pod(name: str, version: str = NEW, *, ready: bool = False, started: bool = True, deleting: bool = False) -> dict:
    meta: dict[str, Any] = {"name": name, "annotations": {POD_VERSION_ANNOTATION: version}}
    if deleting:
        meta["deletionTimestamp"] = "2026-11-30T12:00:00Z"
    status = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": str(ready)}],
        "containerStatuses": [{"name": "routing", "started": started, "ready": ready}],
    }
    return {"metadata": meta, "status": status}


def test_the_old_active_pod_steps_down_once_every_new_standby_has_started() -> None:
    active = pod("old-active", OLD, ready=True)
    assert step_down([active, pod("new-standby", NEW)], NEW) is active
    assert step_down([active, pod("new-1", NEW), pod("new-2", NEW)], NEW) is active


def test_nothing_to_do_yet_or_at_all() -> None:
    active = pod("old-active", OLD, ready=True)
    assert step_down([active, pod("new-standby", NEW, started=False)], NEW) is None  # still replaying
    assert step_down([active, pod("old-standby", OLD)], NEW) is None  # the Deployment replaces standbys first
    assert step_down([active, pod("new", NEW), pod("stopping", OLD, deleting=True)], NEW) is None  # one at a time
    assert step_down([pod("old", OLD), pod("new", NEW, ready=True)], NEW) is None  # already switched over
    assert step_down([pod("a", NEW, ready=True), pod("b", NEW)], NEW) is None  # rollout done
    assert step_down([pod("a", OLD), pod("b", NEW)], NEW) is None  # no active pod: a takeover is under way
