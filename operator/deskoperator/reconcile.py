"""Bringing a desk's children to what ``render`` says, touching only what differs. No kopf here.

Each child is read first and written (server-side apply) only when a rendered field is missing or different,
so an unchanged spec costs reads and no writes, and an edit to one service rolls only that Deployment.
Children that the desk no longer renders are deleted (pruned), found by the desk's labels and owner uid.

Some edits cannot be undone by apply: apply merges lists by key, so a Service port whose number someone changed
stays beside the rendered one and the API server refuses the result (two ports named ``grpc``: HTTP 422).
``put_back`` then replaces the object whole, and deletes and recreates it if even that is refused (an immutable
field), so a repair never wedges on what someone did to a child.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from deskoperator.diff import drift
from deskoperator.kube import CHILD_KINDS, Kube, KubeError
from deskoperator.names import INSTANCE_LABEL, owned_selector

log = logging.getLogger(__name__)
GONE_TIMEOUT_S = 30.0


@dataclass
class Changes:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.created or self.updated or self.deleted)

    def summary(self) -> str:
        parts = []
        for verb, items in (("created", self.created), ("updated", self.updated), ("deleted", self.deleted)):
            if items:
                parts.append(f"{verb} {len(items)}: {', '.join(items)}")
        return "; ".join(parts) or "nothing to change"


def label(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def owned_by(obj: dict[str, Any], uid: str) -> bool:
    return any(ref.get("uid") == uid for ref in obj.get("metadata", {}).get("ownerReferences", []) or [])


def sync(
    kube: Kube, desired: list[dict[str, Any]], namespace: str, desk: str, uid: str, fresh: bool = False
) -> Changes:
    """Apply every rendered object that is missing or drifted, then prune what is no longer rendered.

    ``fresh``: the desk was just created, so nothing exists to compare with or prune: apply everything without
    reading first. Always server-side apply, never a plain create: fields the operator stops rendering later are
    removed only from objects it owns through apply.
    """
    changes = Changes()
    if fresh:
        for obj in desired:
            put_back(kube, obj)
            changes.created.append(label(obj))
        return changes
    for obj in desired:
        live = kube.get(obj["kind"], namespace, obj["metadata"]["name"])
        if live is None:
            put_back(kube, obj)
            changes.created.append(label(obj))
        elif drift(obj, live):
            put_back(kube, obj)
            changes.updated.append(label(obj))
    wanted = {(o["kind"], o["metadata"]["name"]) for o in desired}
    selector = f"{owned_selector()},{INSTANCE_LABEL}={desk}"
    for kind in CHILD_KINDS:
        for live in kube.list(kind, namespace, selector):
            name = live["metadata"]["name"]
            if (kind, name) not in wanted and owned_by(live, uid):
                kube.delete(kind, namespace, name)
                changes.deleted.append(f"{kind}/{name}")
    return changes


def find(desired: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any] | None:
    return next((o for o in desired if o["kind"] == kind and o["metadata"]["name"] == name), None)


def put_back(kube: Kube, obj: dict[str, Any]) -> str:
    """Make the live object what ``obj`` renders: apply; replace if apply is refused; recreate if that is too.

    Returns how ("applied", "replaced" or "recreated"). Only HTTP 422 (the API server refused the merged result)
    escalates; any other error is raised, naming the object, for the caller to report and retry.
    """
    try:
        return _put_back(kube, obj)
    except KubeError as exc:
        raise KubeError(exc.status, f"{label(obj)}: {exc.message}", kind=obj["kind"]) from None


def _put_back(kube: Kube, obj: dict[str, Any]) -> str:
    try:
        kube.apply(obj)
        return "applied"
    except KubeError as exc:
        if exc.status != 422:
            raise
        log.warning("apply of %s refused (%s): replacing it", label(obj), exc)
    kind, meta = obj["kind"], obj["metadata"]
    live = kube.get(kind, meta["namespace"], meta["name"])
    if live is not None:
        try:
            kube.replace(obj, live)
            kube.apply(obj)  # back to apply ownership, so fields dropped from the rendering later are removed
            return "replaced"
        except KubeError as exc:
            if exc.status not in (409, 422):
                raise
            log.warning("replace of %s refused (%s): recreating it", label(obj), exc)
        kube.delete(kind, meta["namespace"], meta["name"], orphan=True)  # a Deployment's pods keep running
        deadline = time.monotonic() + GONE_TIMEOUT_S
        while kube.get(kind, meta["namespace"], meta["name"]) is not None:
            if time.monotonic() > deadline:
                raise KubeError(504, f"{label(obj)} still exists {GONE_TIMEOUT_S:.0f}s after deleting it")
            time.sleep(0.1)
    kube.apply(obj)
    return "recreated"
