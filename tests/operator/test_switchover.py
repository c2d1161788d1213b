"""The switchover of a rolling upgrade, as a decision on pods (the cluster tests run it for real)."""

from __future__ import annotations

import itertools
from typing import Any

from deskoperator.names import POD_VERSION_ANNOTATION
from deskoperator.switchover import may_step_down, step_down

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


def test_a_pod_event_that_cannot_complete_a_switchover_lists_no_pods() -> None:
    assert not may_step_down("MODIFIED", pod("new", NEW, ready=True), NEW)  # a new pod is ready: nothing to do
    assert not may_step_down("ADDED", pod("new", NEW, started=False), NEW)  # still replaying
    assert may_step_down("MODIFIED", pod("new", NEW), NEW)  # started, a standby: maybe the last one
    assert may_step_down("MODIFIED", pod("old", OLD, ready=True), NEW)
    assert may_step_down("MODIFIED", pod("new", NEW, ready=True, deleting=True), NEW)
    assert may_step_down("DELETED", pod("new", NEW, ready=True), NEW)  # a stopping pod is gone


def test_every_pod_set_where_a_step_down_is_due_passes_the_filter_for_each_of_its_pods() -> None:
    """Whatever pod's change completed the condition, its own event (its state now) is let through."""
    flags = (False, True)
    kinds = [
        pod("p", version, ready=ready, started=started, deleting=deleting)
        for version, ready, started, deleting in itertools.product((OLD, NEW), flags, flags, flags)
    ]
    due = 0
    for size in (1, 2, 3):
        for pods in itertools.product(kinds, repeat=size):
            if step_down(list(pods), NEW) is None:
                continue
            due += 1
            assert all(may_step_down("MODIFIED", p, NEW) for p in pods), pods
    assert due > 0
