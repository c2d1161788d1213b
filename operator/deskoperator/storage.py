"""Where a desk keeps its state on Kubernetes: the PostgreSQL Secret mounted into the pods that keep state, and
the refusal of state on an emptyDir.

Why a mounted file and not an environment variable: the URL holds a password. A file from a Secret volume stays
out of the pod spec, ``kubectl describe`` and the environment of child processes; the spec, the desk's ConfigMap
and its status only ever name the Secret. Why refuse an emptyDir: it dies with the pod, and with it the
journal, the orders, positions, halts and limits: after a node failure a halted desk would come back trading.
"""

from __future__ import annotations

from typing import Any

from tradingdesk.spec.model import TradingDesk

#: The services that keep state (the others are rebuilt from their inputs).
STATEFUL = ("routing", "risk", "compliance")
#: Services with one active replica and hot standbys, fenced by the shared database.
SHARED_STATE = ("routing", "risk")
DB_MOUNT = "/etc/tradingdesk/db"
DB_FILE = "dsn"
DB_VOLUME = "db"


def refusal(desk: TradingDesk) -> str | None:
    """Why the operator will not run this desk, starting with the field to change; None when its state is safe."""
    storage = desk.spec.storage
    if storage.postgres is not None:
        return None
    if not storage.ephemeral:
        return (
            "spec.storage.postgres: not set, so routing, risk and compliance would keep the journal, orders, "
            "positions, halts, limits and audit index on an emptyDir, lost whenever a pod moves; set "
            "spec.storage.postgres.secretRef, or spec.storage.ephemeral: true for a throwaway desk"
        )
    for service in SHARED_STATE:
        replicas = getattr(desk.spec.services, service).replicas
        if replicas > 1:
            return (
                f"spec.services.{service}.replicas: {replicas} replicas need spec.storage.postgres: on an emptyDir "
                "each replica would be a desk of its own"
            )
    return None


def has_standbys(desk: TradingDesk, service: str) -> bool:
    return service in SHARED_STATE and desk.spec.storage.postgres is not None


def rollout(desk: TradingDesk, service: str) -> dict[str, Any] | None:
    """How a service with one active replica rolls: old pods first (the active one releases the writer lock as
    it stops), and the Deployment needs only one available pod, since standbys are never ready. With standbys,
    the operator's switchover (switchover.py) moves the active replica to the new version. None: the default."""
    if not has_standbys(desk, service):
        return None
    unavailable = max(1, getattr(desk.spec.services, service).replicas - 1)
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": unavailable}}


def disruption_budget(desk: TradingDesk, service: str) -> int | None:
    """``maxUnavailable`` of the PodDisruptionBudget of a service with one active replica: all its replicas.
    Its standbys are never ready, so any smaller budget would forbid evicting the active pod (a node drain
    would hang); evicting it is a takeover by a standby. None: the default budget."""
    return getattr(desk.spec.services, service).replicas if has_standbys(desk, service) else None


def ready_wanted(desk: TradingDesk) -> dict[str, int]:
    """Ready pods each service with standbys needs: one, its active replica."""
    return {s: min(1, getattr(desk.spec.services, s).replicas) for s in SHARED_STATE if has_standbys(desk, s)}


#: The gRPC service whose health says "this replica is the active one" (a standby reports it NOT_SERVING).
ACTIVE_SERVICE = {"routing": "tradingdesk.v1.OrderService", "risk": "tradingdesk.v1.RiskService"}


def readiness_probe(desk: TradingDesk, service: str) -> dict[str, Any] | None:
    """Only the active replica of routing or risk is ready, so only it is behind the Service: probe its service's
    own health (a standby is alive, its process health "" SERVING, but its service NOT_SERVING), every second so
    a takeover reaches clients within about one period. None: the default probe."""
    if service not in ACTIVE_SERVICE:
        return None
    port = desk.spec.services.port_of(service)
    grpc = {"port": port, "service": ACTIVE_SERVICE[service]}
    return {"grpc": grpc, "periodSeconds": 1, "timeoutSeconds": 1, "failureThreshold": 1, "successThreshold": 1}


def uses_postgres(desk: TradingDesk, service: str) -> bool:
    return service in STATEFUL and desk.spec.storage.postgres is not None


def env(desk: TradingDesk, service: str) -> list[dict[str, Any]]:
    """Where the pod finds its database URL, and that the migration Job, not the pod, migrates it."""
    if not uses_postgres(desk, service):
        return []
    return [
        {"name": "TD_DSN_FILE", "value": f"{DB_MOUNT}/{DB_FILE}"},
        {"name": "TD_MIGRATIONS", "value": "wait"},
    ]


def volume_mounts(desk: TradingDesk, service: str) -> list[dict[str, Any]]:
    if not uses_postgres(desk, service):
        return []
    return [{"name": DB_VOLUME, "mountPath": DB_MOUNT, "readOnly": True}]


def volumes(desk: TradingDesk, service: str) -> list[dict[str, Any]]:
    postgres = desk.spec.storage.postgres
    if postgres is None or service not in STATEFUL:
        return []
    ref = postgres.secret_ref
    # 0440 with the pods' fsGroup: readable by the service, by nobody else
    secret = {"secretName": ref.name, "items": [{"key": ref.key, "path": DB_FILE}], "defaultMode": 0o440}
    return [{"name": DB_VOLUME, "secret": secret}]
