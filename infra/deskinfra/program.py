"""The whole stack: configuration and plan first (every problem reported before anything is created), then
the network, the cluster, the audit buckets, the databases, paging, and the Kubernetes part."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from deskinfra import audit, cluster, database, kube, network, paging
from deskinfra.config import StackConfig, from_pulumi
from deskinfra.plan import Plan, build, paging_secret, read_desks, storage_secret

INFRA = Path(__file__).resolve().parents[1]


def kubeconfig(eks: cluster.Cluster, region: str) -> pulumi.Output[str]:
    """A kubeconfig that authenticates with `aws eks get-token` (the caller's AWS identity)."""
    c = eks.eks
    return pulumi.Output.all(c.name, c.endpoint, c.certificate_authority).apply(
        lambda a: json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "eks",
            "clusters": [{"name": "eks", "cluster": {"server": a[1], "certificate-authority-data": a[2]["data"]}}],
            "contexts": [{"name": "eks", "context": {"cluster": "eks", "user": "eks"}}],
            "users": [{"name": "eks", "user": {"exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
                "args": ["eks", "get-token", "--cluster-name", a[0], "--region", region],
            }}}],
        })
    )  # fmt: skip


def stack(cfg: StackConfig, *, stack_name: str, base: Path = INFRA) -> Plan:
    prefix = cfg.name_prefix or stack_name
    plan = build(cfg, read_desks(cfg.desks, base), prefix)
    for warning in plan.warnings:
        pulumi.log.warn(warning)
    tags = {"tradingdesk.io/stack": prefix, "managed-by": "pulumi"}

    net = network.build(cfg, prefix, tags)
    eks = cluster.build(cfg, net, plan.node_pools, prefix, tags)

    buckets = {b.name: audit.bucket(cfg, b, tags) for b in plan.buckets}
    audit.auditor_role(cfg, list(buckets.values()), prefix, tags)
    shared_db = database.build_shared(cfg, net, eks.eks.vpc_config.cluster_security_group_id, prefix, tags)

    extras: dict[str, kube.DeskExtras] = {}
    for desk in plan.desks:
        b, key = buckets[plan.bucket_of(desk.name).name]
        writer = audit.writer_role(desk, b, key, eks.oidc, tags)
        extras[desk.name] = kube.DeskExtras(
            secrets={
                storage_secret(desk.desk): database.build(cfg, desk, shared_db, prefix, tags),
                paging_secret(desk.desk): paging.build(cfg, desk),
            },
            role_arn=writer.arn,
        )

    provider = k8s.Provider(
        f"{prefix}-eks", kubeconfig=kubeconfig(eks, cfg.region),
        opts=pulumi.ResourceOptions(depends_on=list(eks.node_groups.values())),
    )  # fmt: skip
    kube.build(cfg.kubernetes, plan.desks, provider, base=base, extras=extras)
    return plan


def main() -> None:
    """Entry point of `pulumi up` (infra/__main__.py)."""
    stack(from_pulumi(), stack_name=pulumi.get_stack())
