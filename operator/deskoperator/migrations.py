"""Schema migrations on Kubernetes: one Job per desk version, never a race between replicas.

Why a Job: with several replicas of a service (a leader and standbys), or a rolling upgrade where old and new
pods overlap, each pod migrating at start would race the others on the schema. Instead the operator renders
``<desk>-db-<version>``, which runs ``tradingdesk migrate`` once for the images the desk runs; the services start
with ``TD_MIGRATIONS=wait`` and report ready only once the schema is theirs. The version is a hash of what the
migrations depend on (the image of each service that keeps state, and the database), so a new image tag means
a new Job, and an unchanged desk never migrates again. The previous version's Job is pruned like any child no
longer rendered. A Job's pod template cannot be changed, so a new version is always a new name.

Migrations only ever add to a schema (see ``tradingdesk.storage.db.schema_ready``): pods of the old version keep
working while the new version's Job runs, which is what makes a rolling upgrade safe.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from deskoperator import storage
from deskoperator.names import SPEC_FILE, SPEC_MOUNT, config_map_name, labels
from deskoperator.placement import pod_placement
from deskoperator.security import container_security_context, pod_security_context
from tradingdesk.spec.model import TradingDesk

COMPONENT = "migrate"
VERSION_ANNOTATION = "tradingdesk.io/desk-version"
RESOURCES = {"cpu": "250m", "memory": "256Mi"}


def images(desk: TradingDesk, default_image: str) -> dict[str, str]:
    """The image each service that keeps state runs."""
    return {s: getattr(desk.spec.services, s).image or default_image for s in storage.STATEFUL}


def version(desk: TradingDesk, default_image: str) -> str:
    """What the migrations depend on, hashed: the stateful services' images and the database they use."""
    postgres = desk.spec.storage.postgres
    inputs = {"images": images(desk, default_image), "secretRef": postgres.secret_ref.model_dump() if postgres else {}}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:7]


def job_name(desk_name: str, desk_version: str) -> str:
    """``<desk>-db-<version>``: at most 63 characters for a desk name of at most 52 (a Job's name becomes a
    label value of its pods)."""
    return f"{desk_name}-db-{desk_version}"


def _containers(desk: TradingDesk, default_image: str) -> list[dict[str, Any]]:
    """One container per distinct image: each migrates the schemas of the services that run that image."""
    by_image: dict[str, list[str]] = {}
    for service, image in images(desk, default_image).items():
        by_image.setdefault(image, []).append(service)
    containers = []
    for i, (image, services) in enumerate(sorted(by_image.items())):
        args = ["migrate", "-f", f"{SPEC_MOUNT}/{SPEC_FILE}"]
        for service in services:
            args += ["--service", service]
        containers.append(
            {
                "name": COMPONENT if i == 0 else f"{COMPONENT}-{i}",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "command": ["tradingdesk"],
                "args": args,
                "env": [e for e in storage.env(desk, "routing") if e["name"] == "TD_DSN_FILE"],
                "resources": {"requests": dict(RESOURCES), "limits": dict(RESOURCES)},
                "securityContext": container_security_context(),
                "volumeMounts": [
                    {"name": "spec", "mountPath": SPEC_MOUNT, "readOnly": True},
                    {"name": "tmp", "mountPath": "/tmp"},
                    *storage.volume_mounts(desk, "routing"),
                ],
            }
        )
    return containers


def job(desk: TradingDesk, namespace: str, owner_ref: dict[str, Any], default_image: str) -> dict[str, Any]:
    desk_version = version(desk, default_image)
    meta_labels = labels(desk.name, COMPONENT)
    placement = pod_placement(desk, COMPONENT)
    placement.pop("topologySpreadConstraints", None)  # one pod: nothing to spread
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(desk.name, desk_version),
            "namespace": namespace,
            "labels": meta_labels,
            "annotations": {VERSION_ANNOTATION: desk_version},
            "ownerReferences": [owner_ref],
        },
        "spec": {
            # a database that is not reachable yet: retried with the Job controller's exponential backoff
            "backoffLimit": 10,
            "template": {
                "metadata": {"labels": meta_labels, "annotations": {VERSION_ANNOTATION: desk_version}},
                "spec": {
                    "restartPolicy": "Never",
                    "serviceAccountName": desk.name,
                    "securityContext": pod_security_context(),
                    **placement,
                    "containers": _containers(desk, default_image),
                    "volumes": [
                        {
                            "name": "spec",
                            "configMap": {
                                "name": config_map_name(desk.name),
                                "items": [{"key": SPEC_FILE, "path": SPEC_FILE}],
                            },
                        },
                        {"name": "tmp", "emptyDir": {}},
                        *storage.volumes(desk, "routing"),
                    ],
                },
            },
        },
    }


def objects(desk: TradingDesk, namespace: str, owner_ref: dict[str, Any], default_image: str) -> list[dict[str, Any]]:
    """The migration Job, when the desk keeps its state in PostgreSQL (SQLite pods migrate their own files)."""
    if desk.spec.storage.postgres is None:
        return []
    return [job(desk, namespace, owner_ref, default_image)]
