"""EKS: the control plane (secrets encrypted with its own KMS key), a system node group, and per colocation a
desk node group in a `cluster` placement group, labelled and tainted exactly as the plan derives."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from deskinfra.config import StackConfig
from deskinfra.iam import service_role
from deskinfra.network import Network
from deskinfra.plan import NodePool

# Kubernetes taint effect -> the EKS API's spelling
EKS_EFFECT = {"NoSchedule": "NO_SCHEDULE", "PreferNoSchedule": "PREFER_NO_SCHEDULE", "NoExecute": "NO_EXECUTE"}
NODE_POLICIES = ["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"]


@dataclass
class Cluster:
    eks: aws.eks.Cluster
    oidc: aws.iam.OpenIdConnectProvider
    node_groups: dict[str, aws.eks.NodeGroup]
    """colocation -> its desk node group."""


def launch_template(name: str, disk_gib: int, tags: dict[str, str], group: aws.ec2.PlacementGroup | None = None):
    """Nodes with an encrypted gp3 root volume and IMDSv2 only (one hop: pods cannot borrow the node's role)."""
    return aws.ec2.LaunchTemplate(
        name,
        placement={"group_name": group.name} if group is not None else None,
        block_device_mappings=[{
            "device_name": "/dev/xvda",
            "ebs": {"volume_size": disk_gib, "volume_type": "gp3", "encrypted": "true",
                    "delete_on_termination": "true"},
        }],
        metadata_options={"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 1},
        tag_specifications=[{"resource_type": "instance", "tags": {**tags, "Name": name}}],
        tags=tags,
    )  # fmt: skip


def template_ref(template: aws.ec2.LaunchTemplate) -> dict:
    return {"id": template.id, "version": template.latest_version.apply(str)}


def desk_node_group(
    cluster: aws.eks.Cluster, node_role: aws.iam.Role, network: Network, pool: NodePool, prefix: str,
    tags: dict[str, str],
) -> aws.eks.NodeGroup:  # fmt: skip
    """One colocation's nodes: one zone, one cluster placement group (lowest latency between them)."""
    name = f"{prefix}-{pool.colocation}"
    group = aws.ec2.PlacementGroup(
        name, strategy="cluster", tags={**tags, "tradingdesk.io/colocation": pool.colocation}
    )
    return aws.eks.NodeGroup(
        name,
        cluster_name=cluster.name,
        node_role_arn=node_role.arn,
        subnet_ids=[network.private_subnets[pool.zone].id],
        instance_types=list(pool.instance_types),
        capacity_type="ON_DEMAND",
        scaling_config={"desired_size": pool.nodes, "min_size": pool.nodes, "max_size": pool.nodes + 1},
        update_config={"max_unavailable": 1},
        launch_template=template_ref(launch_template(name, pool.disk_gib, tags, group)),
        labels=pool.labels,
        taints=[{"key": t.key, "value": t.value, "effect": EKS_EFFECT[t.effect]} for t in pool.taints],
        tags={**tags, "tradingdesk.io/colocation": pool.colocation},
    )


def build(cfg: StackConfig, network: Network, pools: list[NodePool], prefix: str, tags: dict[str, str]) -> Cluster:
    secrets_key = aws.kms.Key(
        f"{prefix}-eks-secrets", description=f"{prefix}: envelope encryption of Kubernetes Secrets",
        enable_key_rotation=True, deletion_window_in_days=30, tags=tags,
    )  # fmt: skip
    role = service_role(f"{prefix}-eks", "eks.amazonaws.com", ["AmazonEKSClusterPolicy"], tags)
    public = bool(cfg.cluster.public_endpoint_cidrs)
    eks = aws.eks.Cluster(
        f"{prefix}-eks",
        role_arn=role.arn,
        version=cfg.cluster.kubernetes_version,
        vpc_config={
            "subnet_ids": [s.id for s in network.private_subnets.values()],
            "endpoint_private_access": True,
            "endpoint_public_access": public,
            "public_access_cidrs": cfg.cluster.public_endpoint_cidrs or None,
        },
        encryption_config={"provider": {"key_arn": secrets_key.arn}, "resources": ["secrets"]},
        access_config={"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": True},
        enabled_cluster_log_types=["api", "audit", "authenticator"],
        tags=tags,
    )
    issuer = eks.identities.apply(lambda ids: ids[0]["oidcs"][0]["issuer"])
    oidc = aws.iam.OpenIdConnectProvider(f"{prefix}-oidc", url=issuer, client_id_lists=["sts.amazonaws.com"], tags=tags)
    node_role = service_role(f"{prefix}-nodes", "ec2.amazonaws.com", NODE_POLICIES, tags)
    aws.eks.NodeGroup(
        f"{prefix}-system",
        cluster_name=eks.name,
        node_role_arn=node_role.arn,
        subnet_ids=[s.id for s in network.private_subnets.values()],
        instance_types=cfg.cluster.system_instance_types,
        scaling_config={
            "desired_size": cfg.cluster.system_nodes, "min_size": cfg.cluster.system_nodes,
            "max_size": cfg.cluster.system_nodes + 2,
        },
        launch_template=template_ref(launch_template(f"{prefix}-system", 50, tags)),
        labels={"tradingdesk.io/role": "system"},
        tags=tags,
    )  # fmt: skip
    groups = {pool.colocation: desk_node_group(eks, node_role, network, pool, prefix, tags) for pool in pools}
    pulumi.export("clusterName", eks.name)
    pulumi.export("clusterEndpoint", eks.endpoint)
    return Cluster(eks, oidc, groups)
