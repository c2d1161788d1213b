"""Rolling upgrades of routing and risk, which run one active replica and hot standbys: standbys first, then a
switchover, then the old active replica.

Why the operator has to step in: only the active replica is ready (its standbys report their service
NOT_SERVING), and a Deployment counts only ready pods as available. Rolling old pod first (``storage.rollout``),
the Deployment replaces the old standbys at once (they are not available), but the new standbys never become
ready, so it would wait forever before touching the old active replica. When every pod of the new version has
started (its startup probe passes once it replayed the journal) and the only ready pod is of an older version,
the operator deletes that pod: it drains and stops, its database session and writer lock end with it, a
standby of the new version takes over within about a second and becomes ready, and the Deployment replaces the
last old pod with a new standby. Each step is a ``Switchover`` Event on the desk.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kopf

from deskoperator import podstate, reconcile, storage
from deskoperator.kube import Kube, KubeError
from deskoperator.names import (
    API_GROUP,
    API_VERSION,
    APP_NAME,
    COMPONENT_LABEL,
    FIELD_MANAGER,
    INSTANCE_LABEL,
    KIND,
    MANAGED_BY_LABEL,
    NAME_LABEL,
    POD_VERSION_ANNOTATION,
    child_name,
    owned_selector,
)

log = logging.getLogger(__name__)


def step_down(pods: list[Mapping[str, Any]], version: str) -> Mapping[str, Any] | None:
    """The active pod of an older version to delete now, or None (nothing to do yet, or nothing at all)."""
    if any(podstate.deleting(p) for p in pods):
        return None  # a pod is stopping: wait until it is gone
    new = [p for p in pods if podstate.version(p) == version]
    old = [p for p in pods if podstate.version(p) != version]
    if not new or not old or not all(podstate.started(p) for p in new) or any(podstate.ready(p) for p in new):
        return None
    active = [p for p in old if podstate.ready(p)]
    return active[0] if len(active) == 1 else None


def may_step_down(event_type: str, pod: Mapping[str, Any], version: str) -> bool:
    """Whether this pod event can make ``step_down`` find a pod (cheap: no list of the pods).

    ``step_down`` acts only when every new pod has started and none is ready. A pod of the current version that
    is ready, or has not started, makes that false by itself; every other event (a pod of an older version, a new
    one started and not ready, a pod gone or going) may complete it, and then the pods are listed."""
    if event_type == "DELETED" or podstate.deleting(pod) or podstate.version(pod) != version:
        return True
    return podstate.started(pod) and not podstate.ready(pod)


def switch_over(kube: Kube, namespace: str, desk: str, uid: str, service: str, rendered: list[dict]) -> str | None:
    """Delete the old active pod of ``service`` if ``step_down`` says so; returns its name."""
    deployment = reconcile.find(rendered, "Deployment", child_name(desk, service))
    if deployment is None:
        return None
    version = deployment["spec"]["template"]["metadata"]["annotations"][POD_VERSION_ANNOTATION]
    selector = f"{owned_selector()},{INSTANCE_LABEL}={desk},{COMPONENT_LABEL}={service}"
    pod = step_down(kube.list("Pod", namespace, selector), version)
    if pod is None:
        return None
    name = pod["metadata"]["name"]
    kube.delete("Pod", namespace, name)
    message = (
        f"{service}: the active pod {name} runs an older version; it steps down and a standby of the new one takes over"
    )
    ref = {"apiVersion": f"{API_GROUP}/{API_VERSION}", "kind": KIND, "metadata": {"name": desk, "namespace": namespace,
           "uid": uid}}  # fmt: skip
    kopf.info(ref, reason="Switchover", message=message)
    log.info("%s/%s: %s", namespace, desk, message)
    return name


@kopf.on.event(
    "", "v1", "pods", labels={NAME_LABEL: APP_NAME, MANAGED_BY_LABEL: FIELD_MANAGER}, id="watch-pods-switchover"
)
def on_pod_event(
    event: Mapping[str, Any], body: kopf.Body, namespace: str, labels: Mapping[str, str], memo: kopf.Memo, **_: Any
) -> None:
    service = labels.get(COMPONENT_LABEL, "")
    if service not in storage.SHARED_STATE:
        return
    st = memo.registry.get(namespace, labels.get(INSTANCE_LABEL, ""))
    if st is None or st.desk is None or st.deleting:
        return
    deployment = reconcile.find(st.rendered, "Deployment", child_name(st.name, service))
    if deployment is not None:
        version = deployment["spec"]["template"]["metadata"]["annotations"][POD_VERSION_ANNOTATION]
        pod = {"metadata": body.get("metadata", {}), "status": body.get("status", {})}
        if not may_step_down(event.get("type") or "", pod, version):
            return
    try:
        switch_over(memo.kube, namespace, st.name, st.uid, service, st.rendered)
    except KubeError as exc:
        log.warning("switchover of %s/%s %s not done: %s", namespace, st.name, service, exc)
