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
#: Services of which more than one replica needs one shared database (a leader fenced by it, standbys).
SHARED_STATE = ("routing", "risk")
DB_MOUNT = "/etc/tradingdesk/db"
DB_FILE = "dsn"
DB_VOLUME = "db"


def refusal(desk: TradingDesk) -> str | None:
    """Why the operator will not run this desk, starting with the field to change; None when its state is safe."""
    storage = desk.spec.storage
    if storage.postgres is not None:
        for service in SHARED_STATE:
            replicas = getattr(desk.spec.services, service).replicas
            if replicas > 1:
                return (
                    f"spec.services.{service}.replicas: {replicas} replicas need hot standbys, which are not built "
                    "yet: a second replica would only wait for the writer lock the first holds; use 1"
                )
        return None
    if not storage.ephemeral:
        return (
            "spec.storage.postgres: not set, so routing, risk and compliance would keep the journal, orders, "
            "positions, halts, limits and audit mirror on an emptyDir, lost whenever a pod moves; set "
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


def rollout(desk: TradingDesk, service: str) -> dict[str, Any] | None:
    """How a service that holds a writer lock rolls: the old pod goes first (it releases the lock as it stops),
    then the new one takes the lock and replays the journal. A surge pod would wait for the lock while the old
    one waits for the surge pod to be ready. None: the default strategy."""
    if service not in SHARED_STATE or desk.spec.storage.postgres is None:
        return None
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}


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
