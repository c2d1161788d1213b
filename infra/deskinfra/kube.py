"""The Kubernetes part of the stack: namespaces, the operator chart as a Helm release, and the desks.

Each desk is applied from its spec file as it is, after the release (its CRD and operator) and after the Secrets
and ServiceAccount its pods use, so `pulumi destroy` deletes the desks while the operator still runs their
finalizer. `pulumi up` returns when every desk reports Ready (the `pulumi.com/waitFor` annotation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from deskinfra.config import KubernetesConfig
from deskinfra.plan import DeskPlan, SecretRef

IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
WAIT_FOR_READY = {"pulumi.com/waitFor": "condition=Ready"}


@dataclass
class DeskExtras:
    """What the rest of the stack hands a desk in Kubernetes (empty for a Kubernetes-only stack)."""

    secrets: dict[SecretRef, pulumi.Input[str]] = field(default_factory=dict)
    role_arn: pulumi.Input[str] | None = None
    """IAM role the desk's ServiceAccount assumes (IRSA), for its compliance service's audit bucket writes."""


@dataclass
class KubernetesPart:
    release: k8s.helm.v3.Release
    desks: dict[str, k8s.apiextensions.CustomResource]


def build(
    cfg: KubernetesConfig,
    desks: list[DeskPlan],
    provider: k8s.Provider,
    *,
    base: Path,
    extras: dict[str, DeskExtras] | None = None,
) -> KubernetesPart:
    extras = extras or {}
    opts = pulumi.ResourceOptions(provider=provider)
    namespaces = {
        ns: k8s.core.v1.Namespace(ns, metadata={"name": ns}, opts=opts)
        for ns in sorted({cfg.operator_namespace, *(d.namespace for d in desks)})
    }
    release = k8s.helm.v3.Release(
        "tradingdesk-operator",
        name="tradingdesk-operator",
        chart=str((base / cfg.chart).resolve()),
        namespace=cfg.operator_namespace,
        values=cfg.operator_values,
        timeout=300,
        # every namespace first: with `namespaces:` in the values the chart puts Roles in the desks' namespaces
        opts=pulumi.ResourceOptions(provider=provider, depends_on=list(namespaces.values())),
    )
    applied = {}
    for desk in desks:
        extra = extras.get(desk.name, DeskExtras())
        before: list[pulumi.Resource] = [release, namespaces[desk.namespace]]
        for ref, value in extra.secrets.items():
            before.append(
                k8s.core.v1.Secret(
                    f"{desk.namespace}-{ref.name}",
                    metadata={"name": ref.name, "namespace": desk.namespace},
                    type="Opaque",
                    string_data={ref.key: value},
                    opts=pulumi.ResourceOptions(provider=provider, depends_on=[namespaces[desk.namespace]]),
                )
            )
        if extra.role_arn is not None:
            # The operator applies this ServiceAccount too (server-side apply): it owns its labels and owner
            # reference, this stack owns the IRSA annotation, and neither removes the other's fields.
            before.append(
                k8s.core.v1.ServiceAccount(
                    f"{desk.namespace}-{desk.service_account}",
                    metadata={
                        "name": desk.service_account,
                        "namespace": desk.namespace,
                        "annotations": {IRSA_ANNOTATION: extra.role_arn},
                    },
                    opts=pulumi.ResourceOptions(provider=provider, depends_on=[namespaces[desk.namespace]]),
                )
            )
        metadata: dict[str, Any] = dict(desk.document.get("metadata", {}))
        metadata.update(
            name=desk.name,
            namespace=desk.namespace,
            annotations={**(metadata.get("annotations") or {}), **WAIT_FOR_READY},
        )
        applied[desk.name] = k8s.apiextensions.CustomResource(
            f"{desk.namespace}-{desk.name}",
            api_version=desk.document["apiVersion"],
            kind=desk.document["kind"],
            metadata=metadata,
            spec=desk.document["spec"],
            opts=pulumi.ResourceOptions(
                provider=provider, depends_on=before, custom_timeouts=pulumi.CustomTimeouts(create="10m", update="10m")
            ),
        )
    pulumi.export("operatorRelease", release.status)
    return KubernetesPart(release, applied)
