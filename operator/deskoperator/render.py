"""Pure rendering: a TradingDesk in, the Kubernetes objects that run it out. No API calls here.

Every object carries the desk's labels and an owner reference, so the API server garbage-collects it with the
desk and the operator's watchers find it. Each Deployment's pod template carries a config hash of exactly
the parts of the spec that service reads at start and cannot change while running (``SERVICE_INPUTS``): a
change to venues rolls routing, not feeds. ``LIVE_SECTIONS`` are in no hash on purpose: the operator delivers
them to the running RiskService over gRPC (the kill switch, ``SetLimits``; routing's gates follow the risk
service's stream), which is faster than restarting pods and keeps the desk's open sessions. The ConfigMap still
carries them, so a pod that starts later starts with them.

A desk on a replay clock gets one origin for every pod (``TD_REPLAY_ORIGIN_NS``, ``tradingdesk.edge.clock``):
the desk's creation time, which never changes, so the pods tell the same time, a restarted pod goes on from
where the desk's clock is, and no reconcile rolls a pod for it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from deskoperator import migrations, podtls, storage
from deskoperator.monitoring import monitoring_objects, monitoring_ports
from deskoperator.names import (
    API_GROUP,
    API_VERSION,
    CONFIG_HASH_ANNOTATION,
    DATA_MOUNT,
    KIND,
    POD_VERSION_ANNOTATION,
    RENDERED_HASH_ANNOTATION,
    SPEC_FILE,
    SPEC_MOUNT,
    child_name,
    config_map_name,
    labels,
    selector_labels,
)
from deskoperator.netpol import policies
from deskoperator.placement import pod_placement
from deskoperator.security import container_security_context, pod_security_context
from tradingdesk.spec.model import SERVICE_NAMES, TradingDesk, clock_source

# Top-level spec sections each service's process reads (grep the service packages for ``spec.``); its pods roll
# when one of them changes. Its own ``services.<name>`` entry and the placement are in the pod template itself.
# ``conduct`` and ``feeds`` reach every service but monitoring through the desk's clock (``edge/clock.py``: its
# source, and a replay clock's speed and pass length, come from the feeds).
SERVICE_INPUTS: dict[str, tuple[str, ...]] = {
    "feeds": ("instruments", "feeds", "conduct", "access"),
    "routing": ("instruments", "accounts", "venues", "routing", "storage", "conduct", "feeds", "access"),
    "risk": ("instruments", "accounts", "storage", "conduct", "feeds", "access"),
    "compliance": ("instruments", "accounts", "compliance", "storage", "conduct", "feeds", "access"),
    "monitoring": ("monitoring", "access"),
}

# Spec sections delivered to running services over gRPC, never by a restart (``spec.risk.httpPort`` is a pod
# setting: it changes the risk pod's ports, so it rolls that pod through the pod template).
LIVE_SECTIONS = ("tradingState", "risk")


@dataclass(frozen=True, slots=True)
class Owner:
    """The TradingDesk object the children belong to (its uid makes the owner reference)."""

    name: str
    uid: str
    created: str = field(default="", kw_only=True)
    """Its ``metadata.creationTimestamp`` (RFC 3339): the origin of a replay desk's clock. Empty only when rendered
    without an API server (tests, offline tools): the pods then get no origin and each takes its own start."""

    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": f"{API_GROUP}/{API_VERSION}",
            "kind": KIND,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


def _meta(name: str, namespace: str, owner: Owner, service: str | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "labels": labels(owner.name, service),
        "ownerReferences": [owner.reference()],
    }


def spec_document(desk: TradingDesk, namespace: str) -> dict[str, Any]:
    """The desk as the pods read it: the same TradingDesk document ``tradingdesk serve -f`` loads.

    Defaults are left out (the pods fill in the same ones from the same model): the document stays about as
    large as what the person wrote, never the whole expanded model.
    """
    return {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": KIND,
        "metadata": {"name": desk.name, "namespace": namespace},
        "spec": desk.spec.model_dump(by_alias=True, mode="json", exclude_defaults=True),
    }


def config_hash(desk: TradingDesk, service: str) -> str:
    """Hash of the spec sections ``service`` reads, so only its own inputs roll its pods."""
    spec = desk.spec.model_dump(by_alias=True, mode="json")
    inputs = {key: spec[key] for key in SERVICE_INPUTS[service]}
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def addresses(desk: TradingDesk, namespace: str) -> dict[str, str]:
    """Service DNS address of every service, as ``TD_ADDR_<SERVICE>`` expects it."""
    services = desk.spec.services
    return {s: f"{child_name(desk.name, s)}.{namespace}.svc:{services.port_of(s)}" for s in SERVICE_NAMES}


RISK_HTTP_MOUNT = "/etc/tradingdesk/risk-http"


def risk_http_secret_name(desk_name: str) -> str:
    return f"{desk_name}-risk-http"


AUDIT_KEY_MOUNT = "/etc/tradingdesk/audit-signing"


def audit_signing_secret_name(desk_name: str) -> str:
    """The Secret holding compliance's checkpoint signing key (``signing.key``, from ``tradingdesk audit keygen``)."""
    return f"{desk_name}-audit-signing-key"


REPLAY_ORIGIN_ENV = "TD_REPLAY_ORIGIN_NS"
"""The variable ``tradingdesk.edge.clock`` reads the replay origin from (the operator may not import the edge; a
test checks the two names agree)."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def replay_origin_ns(desk: TradingDesk, owner: Owner) -> int | None:
    """The origin of the desk's replay clock in nanoseconds since the epoch: its creation time, the same for every
    pod and every reconcile, so pods agree on the time and a restarted one goes on from where the desk's clock is
    (deleting and creating the desk again starts the replay again from the open). ``None`` on the wall clock,
    which needs none, and for an owner without a creation time."""
    if clock_source(desk) != "replay" or not owner.created:
        return None
    created = datetime.fromisoformat(owner.created)  # the API server's "2026-12-05T03:44:46Z"
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return (created - EPOCH) // timedelta(microseconds=1) * 1_000


def _env(desk: TradingDesk, namespace: str, service: str, *, owner: Owner) -> list[dict[str, Any]]:
    env = [
        {"name": "TD_BIND", "value": f"0.0.0.0:{desk.spec.services.port_of(service)}"},
        {"name": "TD_DATA_DIR", "value": DATA_MOUNT},
    ]
    origin = replay_origin_ns(desk, owner)
    if origin is not None:
        env.append({"name": REPLAY_ORIGIN_ENV, "value": str(origin)})
    if desk.spec.monitoring.metrics_port:  # every pod serves /metrics on the same port
        env.append({"name": "TD_METRICS_BIND", "value": f"0.0.0.0:{desk.spec.monitoring.metrics_port}"})
    if service == "risk" and desk.spec.risk.http_port > 0:
        env.append({"name": "TD_RISK_HTTP_TOKEN_FILE", "value": f"{RISK_HTTP_MOUNT}/token"})
    if service == "compliance":
        env.append({"name": "TD_AUDIT_SIGNING_KEY_FILE", "value": f"{AUDIT_KEY_MOUNT}/signing.key"})
    env += storage.env(desk, service)
    env += [{"name": f"TD_ADDR_{s.upper()}", "value": a} for s, a in addresses(desk, namespace).items()]
    env.append({"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})
    return env


def _probe(port: int, period: int, failures: int) -> dict[str, Any]:
    return {"grpc": {"port": port}, "periodSeconds": period, "timeoutSeconds": 2, "failureThreshold": failures}


def _container(desk: TradingDesk, namespace: str, service: str, image: str, *, owner: Owner) -> dict[str, Any]:
    svc = getattr(desk.spec.services, service)
    port = desk.spec.services.port_of(service)
    ports = [{"name": "grpc", "containerPort": port, "protocol": "TCP"}]
    ports += [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in monitoring_ports(desk, service)]
    http_kill_switch = service == "risk" and desk.spec.risk.http_port > 0
    if http_kill_switch:
        ports.append({"name": "http", "containerPort": desk.spec.risk.http_port, "protocol": "TCP"})
    resources = {"cpu": svc.resources.cpu, "memory": svc.resources.memory}
    return {
        "name": service,
        "image": svc.image or image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["tradingdesk"],
        "args": ["serve", service, "-f", f"{SPEC_MOUNT}/{SPEC_FILE}"],
        "workingDir": DATA_MOUNT,
        "env": _env(desk, namespace, service, owner=owner),
        "ports": ports,
        # startup gives migrations a minute; after that readiness reacts within ~10 s, liveness within ~30 s
        "startupProbe": _probe(port, 2, 30),
        "readinessProbe": storage.readiness_probe(desk, service) or _probe(port, 5, 2),
        "livenessProbe": _probe(port, 10, 3),
        "resources": {"requests": resources, "limits": dict(resources)},
        "securityContext": container_security_context(),
        "volumeMounts": [
            {"name": "spec", "mountPath": SPEC_MOUNT, "readOnly": True},
            {"name": "data", "mountPath": DATA_MOUNT},
            {"name": "tmp", "mountPath": "/tmp"},
            *([{"name": "risk-http", "mountPath": RISK_HTTP_MOUNT, "readOnly": True}] if http_kill_switch else []),
            *storage.volume_mounts(desk, service),
            *(
                [{"name": "audit-signing", "mountPath": AUDIT_KEY_MOUNT, "readOnly": True}]
                if service == "compliance"
                else []
            ),
        ],
    }


def _strategy(replicas: int) -> dict[str, Any]:
    """Never fewer ready pods than needed during a rollout.

    One replica: surge a new pod before the old one goes. Several: replace one at a time, since a surge pod
    may find no host when required anti-affinity already fills every node of the colocation.
    """
    if replicas <= 1:
        return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}


def deployment(desk: TradingDesk, namespace: str, owner: Owner, service: str, image: str) -> dict[str, Any]:
    svc = getattr(desk.spec.services, service)
    pod_labels = labels(desk.name, service)
    pod_spec: dict[str, Any] = {
        "serviceAccountName": desk.name,
        "terminationGracePeriodSeconds": 30,
        "securityContext": pod_security_context(),
        **pod_placement(desk, service),
        "containers": [_container(desk, namespace, service, image, owner=owner)],
        "volumes": [
            {
                "name": "spec",
                "configMap": {"name": config_map_name(desk.name), "items": [{"key": SPEC_FILE, "path": SPEC_FILE}]},
            },
            {"name": "data", "emptyDir": {}},
            {"name": "tmp", "emptyDir": {}},
            *storage.volumes(desk, service),
        ],
    }
    if service == "risk" and desk.spec.risk.http_port > 0:
        # The HTTP kill switch's credential: a Secret the platform team creates; optional so the desk starts
        # without it (the endpoint then answers 503 until the Secret exists).
        secret = {
            "secretName": risk_http_secret_name(desk.name),
            "optional": True,
            "items": [{"key": "token", "path": "token"}],
        }
        pod_spec["volumes"].append({"name": "risk-http", "secret": secret})
    if service == "compliance":
        # The checkpoint signing key: optional, so a missing Secret shows as compliance NOT_SERVING with the reason
        # (records keep going into the spool, nothing is signed or sealed) instead of a pod stuck in creation.
        secret = {
            "secretName": audit_signing_secret_name(desk.name),
            "optional": True,
            "defaultMode": 0o400,
            "items": [{"key": "signing.key", "path": "signing.key"}],
        }
        pod_spec["volumes"].append({"name": "audit-signing", "secret": secret})
    meta = _meta(child_name(desk.name, service), namespace, owner, service)
    digest = config_hash(desk, service)
    meta["annotations"] = {CONFIG_HASH_ANNOTATION: digest}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": svc.replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector_labels(desk.name, service)},
            "strategy": storage.rollout(desk, service) or _strategy(svc.replicas),
            "template": {
                "metadata": {
                    "labels": pod_labels,
                    "annotations": {CONFIG_HASH_ANNOTATION: digest, POD_VERSION_ANNOTATION: pod_version(pod_spec)},
                },
                "spec": pod_spec,
            },
        },
    }


def pod_version(pod_spec: dict[str, Any]) -> str:
    """Hash of a pod template's spec: which pods run the Deployment's current version (a rollout's switchover
    tells old pods from new ones by it)."""
    return hashlib.sha256(json.dumps(pod_spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def service_object(desk: TradingDesk, namespace: str, owner: Owner, service: str) -> dict[str, Any]:
    port = desk.spec.services.port_of(service)
    ports = [{"name": "grpc", "port": port, "targetPort": "grpc", "protocol": "TCP", "appProtocol": "grpc"}]
    ports += [{"name": n, "port": p, "targetPort": n, "protocol": "TCP"} for n, p in monitoring_ports(desk, service)]
    if service == "risk" and desk.spec.risk.http_port > 0:
        ports.append({"name": "http", "port": desk.spec.risk.http_port, "targetPort": "http", "protocol": "TCP"})
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(child_name(desk.name, service), namespace, owner, service),
        "spec": {"type": "ClusterIP", "selector": selector_labels(desk.name, service), "ports": ports},
    }


def disruption_budget(desk: TradingDesk, namespace: str, owner: Owner, service: str) -> dict[str, Any]:
    """At most one pod of a service evicted at a time; a single replica stays drainable (never blocks a node drain)."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(child_name(desk.name, service), namespace, owner, service),
        "spec": {
            "maxUnavailable": storage.disruption_budget(desk, service) or 1,
            "selector": {"matchLabels": selector_labels(desk.name, service)},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


# Kubernetes refuses a ConfigMap whose data exceeds 1 MiB; what the operator writes must stay under it.
CONFIG_MAP_LIMIT = 1024 * 1024


def spec_text(desk: TradingDesk, namespace: str) -> str:
    """The pods' desk document as compact JSON (valid YAML, so ``-f`` reads it): a fifth smaller than block YAML,
    which keeps even a 10,000-instrument desk (650 KB) inside the ConfigMap limit."""
    return json.dumps(spec_document(desk, namespace), separators=(",", ":"), ensure_ascii=False)


def config_map(desk: TradingDesk, namespace: str, owner: Owner) -> dict[str, Any]:
    text = spec_text(desk, namespace)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(config_map_name(desk.name), namespace, owner),
        "data": {SPEC_FILE: text},
    }


def rbac(desk: TradingDesk, namespace: str, owner: Owner) -> list[dict[str, Any]]:
    """The desk's own identity: it may read its spec (ConfigMap and TradingDesk) and nothing else."""
    name = desk.name
    read = ["get", "watch"]
    rules = [
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [config_map_name(name)], "verbs": read},
        {"apiGroups": [API_GROUP], "resources": ["tradingdesks"], "resourceNames": [name], "verbs": read},
    ]
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name, namespace, owner)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _meta(name, namespace, owner),
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta(name, namespace, owner),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        },
    ]


def render(
    desk: TradingDesk, namespace: str, owner: Owner, image: str, *, prometheus_operator: bool = False
) -> list[dict[str, Any]]:
    """Every object of the desk, in creation order (identity and config before the pods that use them).
    ``prometheus_operator``: the cluster serves PrometheusRule and ServiceMonitor (see monitoring.py)."""
    objects = [*rbac(desk, namespace, owner), config_map(desk, namespace, owner)]
    objects += monitoring_objects(
        desk, namespace, lambda name: _meta(name, namespace, owner), prometheus_operator=prometheus_operator
    )
    for s in SERVICE_NAMES:
        objects.append(service_object(desk, namespace, owner, s))
        objects.append(disruption_budget(desk, namespace, owner, s))
    objects += policies(desk, namespace, owner.reference())
    objects += migrations.objects(desk, namespace, owner.reference(), image)
    objects += [deployment(desk, namespace, owner, s, image) for s in SERVICE_NAMES]
    podtls.secure(objects, desk)
    for obj in objects:
        stamp(obj)
    return objects


def stamp(obj: dict[str, Any]) -> None:
    """Annotate an object with the hash of its own rendering.

    Why: drift detection checks that every rendered field is live; a field the desk no longer renders (a removed
    node selector key) would pass that check. A changed hash makes the operator apply, and server-side apply
    removes the fields it owned and no longer sends.
    """
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    annotations = obj["metadata"].setdefault("annotations", {})
    annotations[RENDERED_HASH_ANNOTATION] = hashlib.sha256(text.encode()).hexdigest()[:16]


def key(obj: dict[str, Any]) -> tuple[str, str, str]:
    """Identity of an object within a namespace: (apiVersion, kind, name)."""
    return obj["apiVersion"], obj["kind"], obj["metadata"]["name"]
