"""Kopf wiring: which events reach which logic. The logic itself lives in render, reconcile, status and rpc.

- A desk's create/update/resume applies its children (only what differs) and delivers kill-switch changes.
- Watching the children (Deployments, Services, ...) drives status and drift repair: no timers, no polling.
- Deleting a desk runs the finalizer: halt trading, seal the audit log (ComplianceService.Seal), proceed.
- Admission (optional, ``--webhook``): the spec model validates what CEL cannot.
- Pods of routing and risk: the switchover of a rolling upgrade (``switchover``, which registers its own handler).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable, Mapping
from typing import Any

import kopf

from deskoperator import (
    audit,
    metrics,
    reconcile,
    rpc,
    storage,
    switchover,  # noqa: F401  (its pod handler registers with kopf on import)
    webhook,
)
from deskoperator.config import Config
from deskoperator.crd import PLURAL
from deskoperator.diff import drift
from deskoperator.kube import Kube, KubeError, load_api_client
from deskoperator.monitoring import PrometheusOperatorProbe
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
)
from deskoperator.render import Owner, config_hash, render
from deskoperator.state import DeskState, Registry
from deskoperator.status import Desired, Observed, Trading, compute
from tradingdesk.spec.load import SpecError, parse_desk
from tradingdesk.spec.model import DEFAULT_PORTS, SERVICE_NAMES

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
WEBHOOK_CONFIGURATION = f"{API_GROUP}.validating"


def plain(body: Mapping[str, Any] | None) -> dict[str, Any]:
    """A kopf body view as a plain dict (its values are already the raw dicts)."""
    return {k: body[k] for k in body} if body is not None else {}


def desk_ref(namespace: str, name: str, uid: str) -> dict[str, Any]:
    """Enough of a TradingDesk for kopf to post an Event about it."""
    meta = {"name": name, "namespace": namespace, "uid": uid}
    return {"apiVersion": f"{API_GROUP}/{API_VERSION}", "kind": KIND, "metadata": meta}


# -- startup ---------------------------------------------------------------------------------------------------


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Settings that must be right before the first event: storage, finalizer name, peering, webhook, metrics."""
    cfg: Config = memo.config
    settings.persistence.finalizer = f"{API_GROUP}/finalizer"
    # Status is the operator's API for people; kopf's bookkeeping goes to annotations, not into status.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=API_GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=API_GROUP, key="last-handled-configuration"
    )
    settings.posting.level = logging.INFO
    settings.execution.max_workers = cfg.max_workers
    settings.watching.server_timeout = 300
    # Watching given namespaces needs no cluster-wide read: kopf then takes them as exact names and scans CRDs
    # once at start, instead of retrying forbidden namespace and CRD watches (the chart's namespaced Roles).
    settings.scanning.disabled = bool(cfg.namespaces)
    settings.peering.name = cfg.peering_name
    settings.peering.standalone = not cfg.peering
    settings.peering.mandatory = cfg.peering
    settings.peering.priority = cfg.priority if cfg.priority is not None else random.randint(1, 32767)
    if cfg.webhook:
        host = cfg.webhook_host or ("127.0.0.1" if cfg.webhook_addr in ("0.0.0.0", "127.0.0.1") else cfg.webhook_addr)
        cert, key = (cfg.webhook_cert, cfg.webhook_key) if cfg.webhook_cert else webhook.self_signed(host)
        settings.admission.server = kopf.WebhookServer(
            addr=cfg.webhook_addr,
            port=cfg.webhook_port,
            host=host,
            certfile=str(cert),
            pkeyfile=str(key),
            cafile=cfg.webhook_ca or None,
        )
        settings.admission.managed = WEBHOOK_CONFIGURATION
    memo.kube = Kube(load_api_client(pool_size=cfg.max_workers * 2))
    memo.prometheus_operator = PrometheusOperatorProbe(memo.kube)
    if cfg.peering:
        memo.kube.ensure_peering(cfg.peering_name, cfg.namespaces)
    memo.registry = Registry()
    memo.audit = audit.AuditRecorder(timeout=cfg.rpc_timeout)
    memo.metrics_runner = await metrics.serve(cfg.metrics_port) if cfg.metrics_port else None


@kopf.on.cleanup()
async def stop_metrics(memo: kopf.Memo, **_: Any) -> None:
    if getattr(memo, "metrics_runner", None) is not None:
        await memo.metrics_runner.cleanup()
    if getattr(memo, "audit", None) is not None:
        memo.audit.stop()


# -- status ------------------------------------------------------------------------------------------------------


@kopf.index("apps", "v1", "deployments", labels=OWNED)
def desk_deployments(namespace: str, labels: Mapping[str, str], body: kopf.Body, **_: Any) -> dict:
    """(namespace, desk) -> (service, what its Deployment reports): status reads this, never the API."""
    return {
        (namespace, labels.get(INSTANCE_LABEL, "")): (labels.get(COMPONENT_LABEL, ""), Observed.from_deployment(body))
    }


def _observed(index: kopf.Index, namespace: str, name: str) -> dict[str, Observed]:
    store: Iterable[tuple[str, Observed]] = index.get((namespace, name), [])
    return dict(store)


def publish_status(kube: Kube, st: DeskState, observed: dict[str, Observed]) -> None:
    """Compute the desk's status and write it if anything changed (one writer at a time per desk)."""
    with st.status_lock:
        if st.deleting or st.trading is None or (st.desk is None and st.error is None):
            return
        desired = Desired(
            generation=st.generation,
            reconciled_generation=st.reconciled_generation,
            replicas=st.replicas,
            config_hashes=st.config_hashes,
            error=st.error,
            ready_wanted=storage.ready_wanted(st.desk) if st.desk is not None else None,
        )
        status = compute(desired, observed, st.trading, st.last_status)
        if status == st.last_status:
            return
        try:
            kube.patch_status(KIND, st.namespace, st.name, status)
        except KubeError as exc:
            log.warning("status of %s/%s not written: %s", st.namespace, st.name, exc)
            return
        announce(st, status)
        st.last_status = status


def _cond(status: Mapping[str, Any] | None, type_: str) -> Mapping[str, Any]:
    return next((c for c in (status or {}).get("conditions", []) if c.get("type") == type_), {})


def announce(st: DeskState, status: dict[str, Any]) -> None:
    """An Event when the desk becomes degraded, recovers, or becomes Ready: what an SRE reads first."""
    ref = desk_ref(st.namespace, st.name, st.uid)
    was, now = _cond(st.last_status, "Degraded"), _cond(status, "Degraded")
    if now.get("status") == "True" and (was.get("status") != "True" or was.get("reason") != now.get("reason")):
        kopf.warn(ref, reason=now.get("reason", "Degraded"), message=f"desk degraded: {now.get('message', '')}")
    elif was.get("status") == "True" and now.get("status") == "False":
        kopf.info(ref, reason="Recovered", message="every service has its ready replicas again")
    ready_was, ready_now = _cond(st.last_status, "Ready"), _cond(status, "Ready")
    if ready_now.get("status") == "True" and ready_was.get("status") != "True":
        kopf.info(ref, reason="Ready", message=ready_now.get("message", ""))


# -- the desk ----------------------------------------------------------------------------------------------------


def _trading_from_status(spec_state: str, status: Mapping[str, Any]) -> Trading | None:
    """What a previous operator run recorded; None when it must deliver the spec's state again."""
    halted = next((c for c in status.get("conditions", []) or [] if c.get("type") == "TradingHalted"), None)
    if status.get("tradingState") != spec_state or halted is None or halted.get("status") == "Unknown":
        return None
    return Trading(spec_state, None if "ConfigMap" in halted.get("message", "") else True)


def service_address(cfg: Config, body: Mapping[str, Any], namespace: str, name: str, service: str) -> str:
    services = body.get("spec", {}).get("services", {}) or {}
    port = (services.get(service, {}) or {}).get("port") or DEFAULT_PORTS[service]
    return cfg.addresses.of(namespace, name, service, port)


def risk_address(cfg: Config, body: Mapping[str, Any], namespace: str, name: str) -> str:
    return service_address(cfg, body, namespace, name, "risk")


def deliver_trading_state(cfg: Config, body: Mapping[str, Any], namespace: str, name: str, state: str) -> Trading:
    """Send ``state`` to the desk's RiskService (bounded), with an Event either way."""
    address = risk_address(cfg, body, namespace, name)
    try:
        confirmed = rpc.set_trading_state(address, state, f"spec.tradingState set to {state}", cfg.rpc_timeout)
    except rpc.DeliveryError as exc:
        metrics.METRICS.inc("tradingdesk_operator_trading_state_calls_total", result="error")
        kopf.warn(body, reason="TradingStateNotDelivered", message=f"{state}: {exc}")
        return Trading(state, False, str(exc))
    metrics.METRICS.inc("tradingdesk_operator_trading_state_calls_total", result="success")
    kopf.info(body, reason="TradingStateChanged", message=f"RiskService at {address} confirmed {confirmed}")
    return Trading(state, True)


@kopf.on.resume(API_GROUP, API_VERSION, PLURAL)
@kopf.on.create(API_GROUP, API_VERSION, PLURAL)
@kopf.on.update(API_GROUP, API_VERSION, PLURAL)
def reconcile_desk(
    body: kopf.Body,
    namespace: str,
    name: str,
    uid: str,
    reason: str,
    old: Mapping[str, Any] | None,
    memo: kopf.Memo,
    desk_deployments: kopf.Index,
    **_: Any,
) -> None:
    cfg: Config = memo.config
    kube: Kube = memo.kube
    st = memo.registry.ensure(namespace, name)
    st.uid, st.generation, st.deleting = uid, int(body.get("metadata", {}).get("generation", 0)), False
    spec_state = body.get("spec", {}).get("tradingState", "Active")
    if st.last_status is None and body.get("status"):
        st.last_status = dict(body.get("status", {}))  # keeps lastTransitionTime across operator restarts
    started = time.monotonic()
    try:
        desk = parse_desk(plain(body), f"{namespace}/{name}")
        refused = ("UnsafeStorage", storage.refusal(desk))
    except SpecError as exc:
        refused = ("InvalidSpec", "; ".join(exc.problems))
    if refused[1] is not None:
        st.error = refused
        st.trading = st.trading or Trading(spec_state, None)
        kopf.warn(body, reason=refused[0], message=refused[1])
        publish_status(kube, st, _observed(desk_deployments, namespace, name))
        metrics.METRICS.observe_reconcile(time.monotonic() - started, ok=False)
        raise kopf.PermanentError(f"{refused[0]}: {refused[1]}")

    # The kill switch goes first: it must not wait for children to be applied.
    old_state = (old or {}).get("spec", {}).get("tradingState")
    if reason == "create":
        st.trading = Trading(spec_state, None)  # the risk pods start in it, from the ConfigMap
    elif reason == "resume":
        status = body.get("status", {}) or {}
        st.trading = _trading_from_status(spec_state, status)
        if st.trading is None:  # changed while no operator ran, or never confirmed
            st.trading = deliver_trading_state(cfg, body, namespace, name, spec_state) if status else None
    elif old_state is not None and old_state != spec_state:
        st.trading = deliver_trading_state(cfg, body, namespace, name, spec_state)
    if st.trading is None:
        st.trading = Trading(spec_state, None)

    with st.apply_lock:
        st.desk = desk
        st.rendered = render(
            desk, namespace, Owner(name, uid), cfg.image, prometheus_operator=memo.prometheus_operator()
        )
        st.config_hashes = {s: config_hash(desk, s) for s in SERVICE_NAMES}
        st.replicas = {s: getattr(desk.spec.services, s).replicas for s in SERVICE_NAMES}
        try:
            # a new desk has no children yet: apply them all without reading first
            changes = reconcile.sync(kube, st.rendered, namespace, name, uid, fresh=reason == "create")
        except KubeError as exc:
            st.error = ("ReconcileFailed", str(exc))
            kopf.warn(body, reason="ReconcileFailed", message=str(exc))
            publish_status(kube, st, _observed(desk_deployments, namespace, name))
            metrics.METRICS.observe_reconcile(time.monotonic() - started, ok=False)
            raise kopf.TemporaryError(f"reconcile failed: {exc}", delay=5) from exc
        st.error = None
        st.reconciled_generation = st.generation
    metrics.METRICS.observe_reconcile(time.monotonic() - started, ok=True)
    if changes:
        kopf.info(body, reason="Reconciled", message=f"generation {st.generation}: {changes.summary()}"[:1000])
    if reason in ("create", "update") or changes:  # the desk's audit trail records what the operator did
        action = {"create": "apply", "update": "change"}.get(reason, "resume")
        detail = changes.summary() if changes else "no child changed"
        request = audit.action_request(body, namespace=namespace, name=name, action=action, detail=detail)
        memo.audit.record((namespace, name), service_address(cfg, body, namespace, name, "compliance"), request)
    publish_status(kube, st, _observed(desk_deployments, namespace, name))


@kopf.on.delete(API_GROUP, API_VERSION, PLURAL)
def finalize_desk(body: kopf.Body, namespace: str, name: str, memo: kopf.Memo, **_: Any) -> None:
    """Before the desk goes: halt trading and seal the audit log, each bounded; never block deletion forever."""
    cfg: Config = memo.config
    st = memo.registry.ensure(namespace, name)
    st.deleting = True
    address = risk_address(cfg, body, namespace, name)
    try:
        rpc.set_trading_state(address, "Halted", "desk deleted", cfg.rpc_timeout)
        metrics.METRICS.inc("tradingdesk_operator_trading_state_calls_total", result="success")
        kopf.info(body, reason="TradingHalted", message=f"RiskService at {address} halted the desk before deletion")
    except rpc.DeliveryError as exc:
        metrics.METRICS.inc("tradingdesk_operator_trading_state_calls_total", result="error")
        kopf.warn(body, reason="HaltFailed", message=f"could not halt trading before deletion ({exc}); proceeding")
    record_deletion(cfg, memo.audit, body, namespace, name)
    seal_audit_log(cfg, body, namespace, name)
    kopf.info(body, reason="Finalized", message="children are removed by garbage collection (owner references)")
    memo.registry.drop(namespace, name)


def record_deletion(cfg: Config, recorder: audit.AuditRecorder, body: kopf.Body, namespace: str, name: str) -> None:
    """What the operator did to the desk and has not recorded yet, then the deletion, before the seal."""
    address = service_address(cfg, body, namespace, name, "compliance")
    request = audit.action_request(
        body, namespace=namespace, name=name, action="delete", detail="finalizer: halt, seal"
    )
    recorder.record((namespace, name), address, request)
    why = recorder.deliver_now((namespace, name), max(cfg.rpc_timeout, rpc.SEAL_TIMEOUT_S))
    if why:
        kopf.warn(body, reason="AuditRecordFailed", message=f"operator actions not recorded before deletion: {why}")


def seal_audit_log(cfg: Config, body: kopf.Body, namespace: str, name: str) -> None:
    """``ComplianceService.Seal``: everything recorded goes into the bucket, signed, before the desk goes."""
    address = service_address(cfg, body, namespace, name, "compliance")
    try:
        size = rpc.seal_audit_log(address, "desk deleted", max(cfg.rpc_timeout, rpc.SEAL_TIMEOUT_S))
        kopf.info(body, reason="AuditSealed", message=f"ComplianceService at {address} sealed {size} audit records")
    except rpc.DeliveryError as exc:
        kopf.warn(
            body,
            reason="AuditSealFailed",
            message=f"could not seal the audit log before deletion ({exc}); unsealed records stay in the "
            "compliance spool; proceeding",
        )


# -- children: drift repair and status -----------------------------------------------------------------------------


def repair(kube: Kube, st: DeskState, event_type: str, live: dict[str, Any]) -> None:
    """Restore one child if it was deleted or edited away from what the desk renders."""
    kind, name = live.get("kind", ""), live.get("metadata", {}).get("name", "")
    if st.desk is None or st.deleting:
        return
    if event_type != "DELETED" and not reconcile.owned_by(live, st.uid):
        return
    # Wait for a running reconcile of this desk rather than skip: it may have passed this child already, and a
    # deletion event comes only once. The decision below reads the object fresh, so waiting is always safe.
    if not st.apply_lock.acquire(timeout=120):
        log.warning("drift check of %s/%s skipped: the desk's reconcile holds its lock", kind, name)
        return
    try:
        want = reconcile.find(st.rendered, kind, name)
        if want is None:
            return
        if event_type != "DELETED" and not drift(want, live):
            return
        current = kube.get(kind, st.namespace, name)  # the event may be stale: decide on the object as it is now
        paths = drift(want, current) if current is not None else ["(deleted)"]
        if not paths:
            return
        owner = kube.get(KIND, st.namespace, st.name)
        if owner is None or owner["metadata"].get("uid") != st.uid or owner["metadata"].get("deletionTimestamp"):
            return
        kube.apply(want)
        metrics.METRICS.inc("tradingdesk_operator_drift_repairs_total", kind=kind)
        what = "recreated deleted" if current is None else f"restored {', '.join(paths[:4])} of"
        kopf.warn(desk_ref(st.namespace, st.name, st.uid), reason="DriftRepaired", message=f"{what} {kind}/{name}")
    except KubeError as exc:
        # a namespace being deleted removes children before their desk: nothing to repair there
        level = logging.DEBUG if "being terminated" in str(exc) else logging.WARNING
        log.log(level, "drift repair of %s/%s failed: %s", kind, name, exc)
    finally:
        st.apply_lock.release()


def on_child_event(
    event: Mapping[str, Any],
    body: kopf.Body,
    namespace: str,
    labels: Mapping[str, str],
    memo: kopf.Memo,
    desk_deployments: kopf.Index,
    **_: Any,
) -> None:
    st = memo.registry.get(namespace, labels.get(INSTANCE_LABEL, ""))
    if st is None:
        return
    live = plain(body)
    repair(memo.kube, st, event.get("type") or "", live)
    if live.get("kind") == "Deployment":
        publish_status(memo.kube, st, _observed(desk_deployments, namespace, st.name))


for _group, _version, _plural, _kind in CHILDREN:
    kopf.on.event(_group, _version, _plural, labels=OWNED, id=f"watch-{_plural}")(on_child_event)


# -- admission -------------------------------------------------------------------------------------------------


def validate_desk(body: kopf.Body, old: Mapping[str, Any] | None, operation: str | None, **_: Any) -> None:
    found = webhook.review(operation or "", plain(body), plain(old) if old else None)
    if found:
        raise kopf.AdmissionError("invalid TradingDesk: " + "; ".join(found), code=422)


def enable_webhook() -> None:
    """Register the validating handler; only when a webhook server is configured (kopf refuses otherwise)."""
    kopf.on.validate(API_GROUP, API_VERSION, PLURAL, id="spec", operations=["CREATE", "UPDATE"])(validate_desk)
