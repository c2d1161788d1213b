"""Kopf wiring: which events reach which logic. The logic lives in worker, render, reconcile, status and rpc.

- Every watch event of a desk (listing, create, update, even a status change) goes to its ``DeskWorker``, which
  compares what the desk asks for with what is confirmed and acts on the difference: level-triggered, so no
  event kind can be mistaken for another.
- Watching the children (Deployments, Services, ...) drives status and drift repair; pods and nodes explain
  missing replicas. No polling.
- Deleting a desk runs the finalizer: halt trading, seal the audit log (ComplianceService.Seal), proceed.
- Certificates of desks with ``spec.access.tls``: issued at once and renewed before expiry by a timer
  (``certificates``), the one timer here.
- Admission (optional, ``--webhook``): the spec model validates what CEL cannot.
- Pods of routing and risk: the switchover of a rolling upgrade (``switchover``, which registers its own handler).

kopf keeps no copy of the spec: its "last handled configuration" annotation would not fit a large desk, and
the workers never need it (``NoDiffBase``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kopf

from deskoperator import (
    audit,
    certificates,  # its timer issues and renews the desks' certificates
    metrics,
    rpc,
    switchover,  # noqa: F401  (its pod handler registers with kopf on import)
)
from deskoperator.config import Config
from deskoperator.crd import PLURAL
from deskoperator.heartbeat import Heartbeat
from deskoperator.kube import Kube, load_api_client
from deskoperator.monitoring import PrometheusOperatorProbe
from deskoperator.names import (
    API_GROUP,
    API_VERSION,
    APP_NAME,
    COMPONENT_LABEL,
    FIELD_MANAGER,
    INSTANCE_LABEL,
    MANAGED_BY_LABEL,
    NAME_LABEL,
)
from deskoperator.state import Registry
from deskoperator.status import Observed, PodObs
from deskoperator.worker import DeskWorker, risk_address, service_address
from tradingdesk.security import channels

log = logging.getLogger(__name__)

OWNED = {NAME_LABEL: APP_NAME, MANAGED_BY_LABEL: FIELD_MANAGER}
# (group, version, plural, kind) of every child kind the operator watches for drift
CHILDREN = (
    ("apps", "v1", "deployments", "Deployment"),
    ("batch", "v1", "jobs", "Job"),
    ("", "v1", "services", "Service"),
    ("", "v1", "configmaps", "ConfigMap"),
    ("", "v1", "serviceaccounts", "ServiceAccount"),
    ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget"),
    ("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy"),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    # watched once their CRDs exist (kopf discovers resources that appear later)
    ("monitoring.coreos.com", "v1", "prometheusrules", "PrometheusRule"),
    ("monitoring.coreos.com", "v1", "servicemonitors", "ServiceMonitor"),
)


def plain(body: Mapping[str, Any] | None) -> dict[str, Any]:
    """A kopf body view as a plain dict (its values are already the raw dicts)."""
    return {k: body[k] for k in body} if body is not None else {}


class NoDiffBase(kopf.DiffBaseStorage):
    """kopf's diff base, stored nowhere: nothing here uses kopf's create/update diffs (see the module doc)."""

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None

    def build(self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None) -> kopf.BodyEssence:
        """kopf's essence (everything but status and most of metadata), without first deep-copying the whole object.

        kopf builds one for every watch event of every kind with a handler; its own ``build`` copies the status and
        ``managedFields`` only to drop them, which took a sixth of the event loop with 50 desks (profiled). The
        result is the same: the fields it keeps are all that is copied.
        """
        if extra_fields:  # a handler that watches a status field (none here today): kopf's own, complete path
            return super().build(body=body, extra_fields=extra_fields)
        meta = body.get("metadata", {})
        slim = {key: value for key, value in body.items() if key not in ("metadata", "status")}
        slim["metadata"] = {key: meta[key] for key in ("labels", "annotations") if key in meta}
        return super().build(body=kopf.Body(slim))


# -- startup ---------------------------------------------------------------------------------------------------


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Settings that must be right before the first event: storage, finalizer name, workers, heartbeat."""
    cfg: Config = memo.config
    settings.persistence.finalizer = f"{API_GROUP}/finalizer"
    # Status is the operator's API for people; kopf's own bookkeeping (retries of the finalizer) goes to small
    # annotations, and it keeps no copy of the spec at all.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=API_GROUP)
    settings.persistence.diffbase_storage = NoDiffBase()
    settings.posting.level = logging.INFO
    settings.execution.max_workers = cfg.max_workers
    # The desks' workers run their blocking calls (API requests, RPCs) through asyncio.to_thread, in the loop's
    # default executor: as many threads as kopf's, not Python's default of cpu_count + 4 (6 on two cores), under
    # which 50 desks' status writes waited behind other desks' reconciles (profiled).
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=cfg.max_workers, thread_name_prefix="desk-worker")
    )
    settings.watching.server_timeout = 300
    # Watching given namespaces needs no cluster-wide read: kopf then takes them as exact names and scans CRDs
    # once at start, instead of retrying forbidden namespace and CRD watches (the chart's namespaced Roles).
    settings.scanning.disabled = bool(cfg.namespaces)
    memo.kube = Kube(load_api_client(pool_size=cfg.max_workers * 2))
    memo.certificates = certificates.Certificates(memo.kube, cfg.addresses)
    channels.use_resolver(memo.certificates.for_address)  # rpc dials each desk with its own CA's certificate
    rpc.on_handshake_failure(memo.certificates.forget_address)  # a CA replaced by hand is read again
    memo.prometheus_operator = PrometheusOperatorProbe(memo.kube)
    memo.registry = Registry()
    memo.audit = audit.AuditRecorder(timeout=cfg.rpc_timeout)
    memo.workers = {}
    memo.views = None
    memo.heartbeat = Heartbeat(memo.registry, memo.workers, identity=cfg.identity, every=cfg.heartbeat_seconds)
    memo.heartbeat.start()


@kopf.on.cleanup()
async def stop_workers(memo: kopf.Memo, **_: Any) -> None:
    elector = getattr(memo, "elector", None)
    if getattr(memo, "heartbeat", None) is not None:
        # say "stopped" only while still the leader: after losing the Lease, another replica writes status
        await memo.heartbeat.stop(announce=elector is None or not elector.lost.is_set())
    for worker in list(getattr(memo, "workers", {}).values()):
        await worker.stop()
    if getattr(memo, "audit", None) is not None:
        memo.audit.stop()


# -- what status reads: kopf's in-memory indexes, never the API ----------------------------------------------------


@kopf.index("apps", "v1", "deployments", labels=OWNED)
def desk_deployments(namespace: str, labels: Mapping[str, str], body: kopf.Body, **_: Any) -> dict:
    """(namespace, desk) -> (service, what its Deployment reports)."""
    return {
        (namespace, labels.get(INSTANCE_LABEL, "")): (labels.get(COMPONENT_LABEL, ""), Observed.from_deployment(body))
    }


@kopf.index("", "v1", "pods", labels=OWNED)
def desk_pods(namespace: str, labels: Mapping[str, str], body: kopf.Body, **_: Any) -> dict:
    """(namespace, desk) -> what each pod reports (placement, readiness), to explain missing replicas."""
    service = labels.get(COMPONENT_LABEL, "")
    return {(namespace, labels.get(INSTANCE_LABEL, "")): PodObs.from_pod(plain(body), service)}


def node_ready(name: str, status: Mapping[str, Any], **_: Any) -> dict:
    """node -> whether its Ready condition is True (a failed node is named in the desk's status).

    Registered by ``watch_nodes`` only when the operator watches every namespace: nodes are cluster-scoped, and an
    operator limited to namespaces has no cluster-wide read (the chart's namespaced RBAC).
    """
    ready = next((c.get("status") for c in status.get("conditions", []) or [] if c.get("type") == "Ready"), None)
    return {name: ready == "True"}


def watch_nodes() -> None:
    kopf.index("", "v1", "nodes", id="node_ready")(node_ready)


def make_views(deployments: kopf.Index, pods: kopf.Index, nodes: kopf.Index | None):
    def views(namespace: str, name: str):
        observed: Iterable[tuple[str, Observed]] = deployments.get((namespace, name), [])
        by_service: dict[str, list[PodObs]] = {}
        for pod in pods.get((namespace, name), []):
            by_service.setdefault(pod.service, []).append(pod)
        ready = {node: next(iter(values)) for node, values in nodes.items()} if nodes is not None else {}
        return dict(observed), by_service, ready

    return views


# -- the desk ----------------------------------------------------------------------------------------------------


def worker_for(memo: kopf.Memo, namespace: str, name: str) -> DeskWorker | None:
    return memo.workers.get((namespace, name))


@kopf.on.event(API_GROUP, API_VERSION, PLURAL, id="desk")
async def desk_event(
    event: Mapping[str, Any],
    body: kopf.Body,
    namespace: str,
    name: str,
    memo: kopf.Memo,
    desk_deployments: kopf.Index,
    desk_pods: kopf.Index,
    **kwargs: Any,
) -> None:
    if memo.views is None:
        memo.views = make_views(desk_deployments, desk_pods, kwargs.get("node_ready"))
    if event.get("type") == "DELETED":
        worker = memo.workers.pop((namespace, name), None)
        if worker is not None:
            await worker.stop()
        memo.registry.drop(namespace, name)
        metrics.METRICS.forget_desk(namespace, name)
        memo.certificates.forget_desk(namespace, name)
        return
    worker = worker_for(memo, namespace, name)
    if worker is None:
        st = memo.registry.ensure(namespace, name)
        st.heartbeat = memo.heartbeat.stamp
        worker = memo.workers[(namespace, name)] = DeskWorker(
            st,
            cfg=memo.config,
            kube=memo.kube,
            views=memo.views,
            prometheus_operator=memo.prometheus_operator,
            recorder=memo.audit,
        )
    worker.observe(plain(body))


@kopf.on.delete(API_GROUP, API_VERSION, PLURAL)
async def finalize_desk(body: kopf.Body, namespace: str, name: str, memo: kopf.Memo, **_: Any) -> None:
    """Before the desk goes: halt trading and seal the audit log, each bounded; never block deletion forever."""
    cfg: Config = memo.config
    worker = memo.workers.pop((namespace, name), None)
    if worker is not None:
        worker.st.deleting = True
        await worker.stop()
    address = risk_address(cfg, plain(body), namespace, name)
    try:
        change = await asyncio.to_thread(rpc.set_trading_state, address, "Halted", "desk deleted", cfg.rpc_timeout)
        metrics.METRICS.inc("tradingdesk_operator_trading_state_calls_total", result="success")
        message = f"RiskService at {address} halted the desk before deletion, {change.describe()}"
        kopf.info(body, reason="TradingHalted", message=message)
    except rpc.DeliveryError as exc:
        metrics.METRICS.inc("tradingdesk_operator_trading_state_calls_total", result="error")
        kopf.warn(body, reason="HaltFailed", message=f"could not halt trading before deletion ({exc}); proceeding")
    await asyncio.to_thread(record_deletion, cfg, memo.audit, plain(body), namespace, name)
    await seal_audit_log(cfg, body, namespace, name)
    kopf.info(body, reason="Finalized", message="children are removed by garbage collection (owner references)")
    memo.registry.drop(namespace, name)
    metrics.METRICS.forget_desk(namespace, name)


def record_deletion(
    cfg: Config, recorder: audit.AuditRecorder, body: dict[str, Any], namespace: str, name: str
) -> None:
    """What the operator did to the desk and has not recorded yet, then the deletion, before the seal (blocking:
    run it in a thread)."""
    address = service_address(cfg, body, namespace, name, "compliance")
    request = audit.action_request(
        body, namespace=namespace, name=name, action="delete", detail="finalizer: halt, seal"
    )
    recorder.record((namespace, name), address, request)
    why = recorder.deliver_now((namespace, name), max(cfg.rpc_timeout, rpc.SEAL_TIMEOUT_S))
    if why:
        kopf.warn(body, reason="AuditRecordFailed", message=f"operator actions not recorded before deletion: {why}")


async def seal_audit_log(cfg: Config, body: kopf.Body, namespace: str, name: str) -> None:
    """``ComplianceService.Seal``: everything recorded goes into the bucket, signed, before the desk goes.

    The call runs in a thread (it may wait up to ``SEAL_TIMEOUT_S`` for the bucket) so every other desk's
    workers keep running meanwhile.
    """
    address = service_address(cfg, plain(body), namespace, name, "compliance")
    timeout = max(cfg.rpc_timeout, rpc.SEAL_TIMEOUT_S)
    try:
        size = await asyncio.to_thread(rpc.seal_audit_log, address, "desk deleted", timeout)
        kopf.info(body, reason="AuditSealed", message=f"ComplianceService at {address} sealed {size} audit records")
    except rpc.DeliveryError as exc:
        kopf.warn(
            body,
            reason="AuditSealFailed",
            message=f"could not seal the audit log before deletion ({exc}); unsealed records stay in the "
            "compliance spool; proceeding",
        )


# -- children: drift repair and status -----------------------------------------------------------------------------


async def on_child_event(
    event: Mapping[str, Any], body: kopf.Body, namespace: str, labels: Mapping[str, str], memo: kopf.Memo, **_: Any
) -> None:
    worker = worker_for(memo, namespace, labels.get(INSTANCE_LABEL, ""))
    if worker is None:
        return
    live, event_type = plain(body), event.get("type") or ""
    if worker.may_have_drifted(event_type, live):  # most child events are status updates of an object in sync
        await asyncio.to_thread(worker.repair, event_type, live)
    if live.get("kind") == "Deployment":
        if labels.get(COMPONENT_LABEL) == "risk" and (live.get("status") or {}).get("readyReplicas"):
            worker.nudge_risk()
        worker.publish_soon()


for _group, _version, _plural, _kind in CHILDREN:
    kopf.on.event(_group, _version, _plural, labels=OWNED, id=f"watch-{_plural}")(on_child_event)


@kopf.on.event("", "v1", "pods", labels=OWNED, id="watch-pods")
async def on_pod_event(namespace: str, labels: Mapping[str, str], memo: kopf.Memo, **_: Any) -> None:
    worker = worker_for(memo, namespace, labels.get(INSTANCE_LABEL, ""))
    if worker is not None:
        worker.publish_soon()
