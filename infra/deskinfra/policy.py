"""Rules every stack must satisfy, as plain functions over the resources a program registers.

Each rule takes the resources (type token, logical name, id, inputs and outputs: what Pulumi's mocks and a
CrossGuard stack policy both see) plus what the desks require, and returns the violations, empty when the
stack complies. tests/infra runs every rule over the whole program; each rule also has tests of its own
with a stack that breaks it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from deskinfra.plan import Plan, Taint, paging_secret, tolerates
from deskoperator.placement import node_selector, tolerations

EKS_EFFECT = {"NO_SCHEDULE": "NoSchedule", "PREFER_NO_SCHEDULE": "PreferNoSchedule", "NO_EXECUTE": "NoExecute"}
COLOCATION_TAG = "tradingdesk.io/colocation"

BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_ACL = "aws:s3/bucketAcl:BucketAcl"
OBJECT_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PLACEMENT_GROUP = "aws:ec2/placementGroup:PlacementGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
DB_INSTANCE = "aws:rds/instance:Instance"
KMS_KEY = "aws:kms/key:Key"
K8S_SECRET = "kubernetes:core/v1:Secret"
PD_INTEGRATION = "pagerduty:index/serviceIntegration:ServiceIntegration"
PD_SERVICE = "pagerduty:index/service:Service"
PD_POLICY = "pagerduty:index/escalationPolicy:EscalationPolicy"
EVENTS_API_V2 = "events_api_v2_inbound_integration"


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.outputs.get(key, self.inputs.get(key, default))


@dataclass(frozen=True)
class Violation:
    rule: str
    resource: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.resource}: {self.message}"


@dataclass(frozen=True)
class DeskPlacement:
    """What one desk's pods select and tolerate (from the operator's rendering), for the taint rule."""

    desk: str
    colocation: str
    node_selector: Mapping[str, str]
    tolerations: Sequence[Mapping[str, Any]]


class Index:
    def __init__(self, resources: Iterable[Resource]) -> None:
        self.all = list(resources)
        self.by_id = {r.id: r for r in self.all}

    def of(self, type_: str) -> list[Resource]:
        return [r for r in self.all if r.type == type_]

    def attached(self, type_: str, key: str, target: Resource) -> list[Resource]:
        """Resources of ``type_`` whose ``key`` points at ``target`` (by id, or by name for buckets)."""
        return [r for r in self.of(type_) if r.get(key) in (target.id, target.get("bucket"))]


def _statements(policy: Any) -> list[dict[str, Any]]:
    doc = json.loads(policy) if isinstance(policy, str) else (policy or {})
    statements = doc.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def no_public_buckets(resources: Iterable[Resource]) -> list[Violation]:
    """Every bucket blocks public access in all four ways; no ACL or policy opens it to everyone."""
    index, out = Index(resources), []
    for b in index.of(BUCKET):
        blocks = index.attached(PUBLIC_ACCESS_BLOCK, "bucket", b)
        flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        if not blocks or not all(blocks[0].get(f) is True for f in flags):
            out.append(Violation("no-public-bucket", b.name, "needs a public access block with all four flags on"))
        for acl in index.attached(BUCKET_ACL, "bucket", b):
            if str(acl.get("acl", "")).startswith("public"):
                out.append(Violation("no-public-bucket", b.name, f"ACL {acl.get('acl')} makes it public"))
        for policy in index.attached(BUCKET_POLICY, "bucket", b):
            for s in _statements(policy.get("policy")):
                if s.get("Effect") == "Allow" and s.get("Principal") in ("*", {"AWS": "*"}):
                    out.append(Violation("no-public-bucket", b.name, "its policy allows everyone"))
    return out


def object_lock_compliance(resources: Iterable[Resource], required_days: Mapping[str, int]) -> list[Violation]:
    """Each audit bucket (physical name -> the longest retentionDays of its desks) has Object Lock in
    COMPLIANCE mode by default, for at least that many days."""
    index, out = Index(resources), []
    buckets = {b.get("bucket"): b for b in index.of(BUCKET)}
    for name, days in sorted(required_days.items()):
        b = buckets.get(name)
        if b is None:
            out.append(Violation("object-lock", name, "the audit bucket is missing"))
            continue
        if b.get("objectLockEnabled") is not True:
            out.append(Violation("object-lock", b.name, "Object Lock is not enabled on the bucket"))
        locks = index.attached(OBJECT_LOCK, "bucket", b)
        retention = ((locks[0].get("rule") or {}).get("defaultRetention") or {}) if locks else {}
        if retention.get("mode") != "COMPLIANCE":
            out.append(
                Violation("object-lock", b.name, f"default retention mode {retention.get('mode')!r}, not COMPLIANCE")
            )
        have = int(retention.get("days") or 0) + 365 * int(retention.get("years") or 0)
        if have < days:
            out.append(Violation("object-lock", b.name, f"retains {have} days, the desks need {days}"))
    return out


def placement_groups_cluster(resources: Iterable[Resource]) -> list[Violation]:
    """Every desk node group (tagged with its colocation) runs in one zone, in a `cluster` placement group."""
    index, out = Index(resources), []
    for group in index.of(PLACEMENT_GROUP):
        if group.get("strategy") != "cluster":
            out.append(Violation("placement-cluster", group.name, f"strategy {group.get('strategy')!r}, not cluster"))
    for ng in index.of(NODE_GROUP):
        if COLOCATION_TAG not in (ng.get("tags") or {}):
            continue
        template = index.by_id.get((ng.get("launchTemplate") or {}).get("id", ""))
        group_name = ((template.get("placement") or {}).get("groupName") if template else None) or ""
        groups = [g for g in index.of(PLACEMENT_GROUP) if group_name in (g.get("name"), g.id)]
        if not groups or groups[0].get("strategy") != "cluster":
            out.append(Violation("placement-cluster", ng.name, "its launch template puts no cluster placement group"))
        if len(ng.get("subnetIds") or []) != 1:
            out.append(Violation("placement-cluster", ng.name, "a cluster placement group lives in one subnet/zone"))
    return out


def taints_match_tolerations(resources: Iterable[Resource], desks: Sequence[DeskPlacement]) -> list[Violation]:
    """Each colocation's node group carries every label its desks select, and only taints they all tolerate."""
    groups = {(ng.get("tags") or {}).get(COLOCATION_TAG): ng for ng in Index(resources).of(NODE_GROUP)}
    out = []
    for d in desks:
        ng = groups.get(d.colocation)
        if ng is None:
            out.append(Violation("taints-tolerated", d.desk, f"no node group for colocation {d.colocation!r}"))
            continue
        labels = ng.get("labels") or {}
        for key, value in d.node_selector.items():
            if labels.get(key) != value:
                out.append(
                    Violation("taints-tolerated", ng.name, f"lacks label {key}={value} that desk {d.desk} selects")
                )
        for t in ng.get("taints") or []:
            taint = Taint(t["key"], t.get("value", ""), EKS_EFFECT.get(t["effect"], t["effect"]))
            if not tolerates(d.tolerations, taint):
                out.append(Violation("taints-tolerated", ng.name, f"taint {taint} is not tolerated by desk {d.desk}"))
    return out


def _secret_value(secret: Resource, key: str) -> Any:
    data = secret.get("stringData") or {}
    return data.get(key)


def escalation_levels(resources: Iterable[Resource], paging_secrets: Mapping[str, tuple[str, str, str]],
                      minimum: int = 2) -> list[Violation]:  # fmt: skip
    """Every desk's paging Secret (desk -> (namespace, name, key)) holds the routing key of an Events API v2
    integration whose service escalates through at least ``minimum`` levels, each with someone to page."""
    index, out = Index(resources), []
    for desk, (namespace, name, key) in sorted(paging_secrets.items()):
        secret = next((s for s in index.of(K8S_SECRET) if (s.get("metadata") or {}).get("name") == name
                       and (s.get("metadata") or {}).get("namespace") == namespace), None)  # fmt: skip
        routing_key = _secret_value(secret, key) if secret else None
        integrations = [i for i in index.of(PD_INTEGRATION) if routing_key and i.get("integrationKey") == routing_key]
        integration = integrations[0] if integrations else None
        if integration is None:
            out.append(Violation("escalation", desk, f"Secret {namespace}/{name} holds no PagerDuty routing key"))
            continue
        if integration.get("type") != EVENTS_API_V2:
            out.append(
                Violation("escalation", integration.name, f"type {integration.get('type')!r}, not Events API v2")
            )
        service = index.by_id.get(integration.get("service", ""))
        policy = index.by_id.get(service.get("escalationPolicy", "")) if service else None
        rules = (policy.get("rules") or []) if policy else []
        staffed = [r for r in rules if r.get("targets")]
        if len(staffed) < minimum:
            out.append(
                Violation("escalation", desk, f"pages through {len(staffed)} escalation level(s), needs {minimum}")
            )
    return out


def encryption_everywhere(resources: Iterable[Resource]) -> list[Violation]:
    """Every store is encrypted with a rotated KMS key: buckets (SSE-KMS), databases, Kubernetes Secrets (EKS
    envelope encryption) and node volumes (launch templates of every node group)."""
    index, out = Index(resources), []
    for b in index.of(BUCKET):
        sse = index.attached(ENCRYPTION, "bucket", b)
        rule = ((sse[0].get("rules") or [{}])[0].get("applyServerSideEncryptionByDefault") or {}) if sse else {}
        if rule.get("sseAlgorithm") != "aws:kms" or not rule.get("kmsMasterKeyId"):
            out.append(Violation("encryption", b.name, "no SSE-KMS default encryption with a KMS key"))
    for db in index.of(DB_INSTANCE):
        if db.get("storageEncrypted") is not True or not db.get("kmsKeyId"):
            out.append(Violation("encryption", db.name, "storage not encrypted with a KMS key"))
    for cluster in index.of(EKS_CLUSTER):
        config = cluster.get("encryptionConfig") or {}
        if "secrets" not in (config.get("resources") or []) or not (config.get("provider") or {}).get("keyArn"):
            out.append(Violation("encryption", cluster.name, "Kubernetes Secrets are not envelope-encrypted with KMS"))
    for ng in index.of(NODE_GROUP):
        template = index.by_id.get((ng.get("launchTemplate") or {}).get("id", ""))
        volumes = (template.get("blockDeviceMappings") or []) if template else []
        if not volumes or not all(str((v.get("ebs") or {}).get("encrypted")).lower() == "true" for v in volumes):
            out.append(Violation("encryption", ng.name, "node volumes are not encrypted (no launch template says so)"))
    for key in index.of(KMS_KEY):
        if key.get("enableKeyRotation") is not True:
            out.append(Violation("encryption", key.name, "KMS key rotation is off"))
    return out


def check(resources: Sequence[Resource], plan: Plan) -> list[Violation]:
    """Every rule, with what the plan's desks require."""
    required = {b.name: max(d.desk.spec.compliance.audit_bucket.retention_days for d in plan.desks
                            if d.name in b.desks) for b in plan.buckets}  # fmt: skip
    placements = [
        DeskPlacement(d.name, d.desk.spec.placement.colocation, node_selector(d.desk), tolerations(d.desk))
        for d in plan.desks
    ]
    secrets = {d.name: (d.namespace, paging_secret(d.desk).name, paging_secret(d.desk).key) for d in plan.desks}
    return [
        *no_public_buckets(resources),
        *object_lock_compliance(resources, required),
        *placement_groups_cluster(resources),
        *taints_match_tolerations(resources, placements),
        *escalation_levels(resources, secrets),
        *encryption_everywhere(resources),
    ]
