"""Everything desk-specific the stack provisions, derived from the TradingDesk spec files. No Pulumi here.

Each value comes from the spec model or from the operator's own rendering, never restated: a node pool's
labels are what the operator puts in the desk pods' nodeSelector (``deskoperator.placement.node_selector``), its
taints are what every desk placed there tolerates (``deskoperator.placement.tolerations``), its size is what
the desks' replicas and anti-affinity need, a bucket's retention is the longest ``retentionDays`` of the desks
writing to it, and each desk's ServiceAccount is the one the operator renders for its pods.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deskinfra.config import StackConfig
from deskoperator.placement import node_selector, tolerations
from deskoperator.render import Owner, rbac
from tradingdesk.spec.load import load_desk
from tradingdesk.spec.model import SERVICE_NAMES, TradingDesk

# Taints under these domains belong to Kubernetes and its SIG projects (node lifecycle, kwok, ...): a desk may
# tolerate them, but a node group never gets them from us.
RESERVED_TAINT_DOMAINS = ("kubernetes.io", "k8s.io", "x-k8s.io")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
MIN_DESK_NODES = 2  # a colocation survives losing one node (docs/runbooks/node-failure.md)
S3_NAME_MAX = 63
RDS_IDENTIFIER_MAX = 63  # each desk's database is "<prefix>-<desk>"


class PlanError(ValueError):
    """The desks cannot be provisioned as configured; one line per problem, naming the file or key."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("cannot plan the stack:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True, order=True)
class Taint:
    key: str
    value: str
    effect: str


@dataclass(frozen=True)
class SecretRef:
    name: str
    key: str


@dataclass(frozen=True)
class DeskPlan:
    desk: TradingDesk
    document: dict[str, Any]
    """The spec file's TradingDesk document, applied as it is."""
    source: Path
    namespace: str
    service_account: str
    """The ServiceAccount the operator gives the desk's pods (the compliance writer role trusts it)."""

    @property
    def name(self) -> str:
        return self.desk.name


@dataclass(frozen=True)
class NodePool:
    colocation: str
    zone: str
    instance_types: tuple[str, ...]
    nodes: int
    disk_gib: int
    labels: dict[str, str]
    taints: tuple[Taint, ...]
    desks: tuple[str, ...]


@dataclass(frozen=True)
class AuditBucketPlan:
    name: str
    retention_days: int
    desks: tuple[str, ...]


@dataclass
class Plan:
    desks: list[DeskPlan]
    node_pools: list[NodePool]
    buckets: list[AuditBucketPlan]
    warnings: list[str] = field(default_factory=list)

    def bucket_of(self, desk: str) -> AuditBucketPlan:
        return next(b for b in self.buckets if desk in b.desks)


def storage_secret(desk: TradingDesk) -> SecretRef:
    """The Secret holding the desk's journal database URL.

    Not yet referenced by the spec: ``spec.storage`` has no Secret reference (issue #11 adds it); until then the
    name is this convention, and this function is the one place that reads the reference once it exists.
    """
    return SecretRef(f"{desk.name}-storage", "dsn")


def paging_secret(desk: TradingDesk) -> SecretRef:
    """The Secret holding the desk's PagerDuty Events API v2 routing key, for its Alertmanager configuration.

    Not yet referenced by the spec (the alerting issue, #10, adds it); this is the one place that will read it.
    """
    return SecretRef(f"{desk.name}-pagerduty", "routingKey")


def reserved(key: str) -> bool:
    domain = key.partition("/")[0] if "/" in key else ""
    return any(domain == d or domain.endswith("." + d) for d in RESERVED_TAINT_DOMAINS)


def tolerates(tolerations_: Iterable[Mapping[str, Any]], taint: Taint) -> bool:
    """Kubernetes' own matching: effect empty or equal; Exists matches any value (and any key when key is empty)."""
    for t in tolerations_:
        if t.get("effect") and t["effect"] != taint.effect:
            continue
        if t.get("operator", "Equal") == "Exists":
            if not t.get("key") or t["key"] == taint.key:
                return True
        elif t.get("key") == taint.key and t.get("value", "") == taint.value:
            return True
    return False


def default_zone(colocation: str, zones: Sequence[str]) -> str:
    """A zone chosen by the colocation's name alone, so adding another colocation never moves this one's nodes."""
    return zones[zlib.crc32(colocation.encode()) % len(zones)]


def candidate_taints(desk: TradingDesk) -> set[Taint]:
    """Taints a node could carry for this desk: each of its own tolerations that names a key and an effect."""
    out = set()
    for t in desk.spec.placement.tolerations:
        if t.key and t.effect and not reserved(t.key):
            out.add(Taint(t.key, t.value if t.operator == "Equal" else "true", t.effect))
    return out


def read_desks(paths: Sequence[str], base: Path) -> list[tuple[TradingDesk, dict[str, Any], Path]]:
    """Each spec file validated by the spec model (errors name the file and field), with its raw document."""
    out = []
    for relative in paths:
        path = (base / relative).resolve()
        desk = load_desk(path)
        document = next(d for d in yaml.safe_load_all(path.read_text()) if d and d.get("kind") == "TradingDesk")
        out.append((desk, document, path))
    return out


def desk_plans(
    desks: list[tuple[TradingDesk, dict[str, Any], Path]], *, default_namespace: str, problems: list[str] | None = None
) -> list[DeskPlan]:
    """Each desk with its namespace and ServiceAccount; alone, this is all the Kubernetes part of a stack needs."""
    own = problems is None
    problems = [] if problems is None else problems
    plans = []
    seen: dict[tuple[str, str], Path] = {}
    for desk, document, path in desks:
        namespace = desk.metadata.namespace or default_namespace
        if (namespace, desk.name) in seen:
            problems.append(f"{path}: desk {namespace}/{desk.name} is also defined in {seen[namespace, desk.name]}")
        seen[namespace, desk.name] = path
        service_account = rbac(desk, namespace, Owner(desk.name, ""))[0]["metadata"]["name"]
        plans.append(DeskPlan(desk, document, path, namespace, service_account))
    if own and problems:
        raise PlanError(problems)
    return plans


def _node_pools(cfg: StackConfig, plans: list[DeskPlan], problems: list[str]) -> list[NodePool]:
    by_colocation: dict[str, list[DeskPlan]] = {}
    for p in plans:
        if p.desk.spec.placement.colocation:
            by_colocation.setdefault(p.desk.spec.placement.colocation, []).append(p)
        else:
            problems.append(
                f"{p.source}: spec.placement.colocation is empty: desk nodes are provisioned per colocation"
            )
    for name in sorted(set(cfg.colocations) - set(by_colocation)):
        used = ", ".join(sorted(by_colocation)) or "none"
        problems.append(f"tradingdesk:colocations.{name}: no desk is placed there (desks use: {used})")
    zones = cfg.network.availability_zones
    pools = []
    for colocation, members in sorted(by_colocation.items()):
        conf = cfg.colocation(colocation)
        key = f"tradingdesk:colocations.{colocation}"
        zone = conf.availability_zone or default_zone(colocation, zones)
        if zone not in zones:
            problems.append(f"{key}.availabilityZone: {zone} is not one of tradingdesk:network.availabilityZones")
        labels: dict[str, str] = {}
        for p in members:
            for label, value in node_selector(p.desk).items():
                if labels.setdefault(label, value) != value:
                    problems.append(
                        f"{p.source}: spec.placement.nodeSelector[{label}]={value!r} contradicts another desk at "
                        f"{colocation} ({labels[label]!r}): they share one node group"
                    )
        taints = set.union(*(candidate_taints(p.desk) for p in members))
        taints = {t for t in taints if all(tolerates(tolerations(p.desk), t) for p in members)}
        needed = max(
            MIN_DESK_NODES, *(getattr(p.desk.spec.services, s).replicas for p in members for s in SERVICE_NAMES)
        )
        if conf.nodes and conf.nodes < needed:
            problems.append(
                f"{key}.nodes: {conf.nodes} is fewer than the {needed} the desks there need (replicas of one service "
                "run on different nodes, and a colocation must survive losing a node)"
            )
        pools.append(
            NodePool(
                colocation=colocation,
                zone=zone,
                instance_types=tuple(conf.instance_types),
                nodes=conf.nodes or needed,
                disk_gib=conf.disk_gib,
                labels=dict(sorted(labels.items())),
                taints=tuple(sorted(taints)),
                desks=tuple(sorted(p.name for p in members)),
            )
        )
    return pools


def _buckets(prefix: str, plans: list[DeskPlan], problems: list[str], warnings: list[str]) -> list[AuditBucketPlan]:
    by_name: dict[str, list[DeskPlan]] = {}
    for p in plans:
        spec = p.desk.spec.compliance.audit_bucket
        name = spec.bucket or f"{prefix}-{p.name}-audit"
        if len(name) > S3_NAME_MAX:
            problems.append(
                f"{p.source}: the audit bucket name {name!r} is longer than {S3_NAME_MAX} characters: "
                "set spec.compliance.auditBucket.bucket"
            )
        if spec.kind != "s3":
            warnings.append(
                f"desk {p.name} writes its audit log to the filesystem ({p.source}); set "
                f"spec.compliance.auditBucket {{kind: s3, bucket: {name}}} to seal it into the provisioned bucket"
            )
        by_name.setdefault(name, []).append(p)
    return [
        AuditBucketPlan(
            name=name,
            retention_days=max(p.desk.spec.compliance.audit_bucket.retention_days for p in members),
            desks=tuple(sorted(p.name for p in members)),
        )
        for name, members in sorted(by_name.items())
    ]


def build(cfg: StackConfig, desks: list[tuple[TradingDesk, dict[str, Any], Path]], prefix: str) -> Plan:
    """The whole plan, or a PlanError listing every problem at once."""
    problems: list[str] = []
    warnings: list[str] = []
    plans = desk_plans(desks, default_namespace=cfg.kubernetes.desk_namespace, problems=problems)
    pools = _node_pools(cfg, plans, problems)
    buckets = _buckets(prefix, plans, problems, warnings)
    for p in plans:
        if len(f"{prefix}-{p.name}") > RDS_IDENTIFIER_MAX:
            problems.append(
                f"{p.source}: the database identifier {prefix}-{p.name} is longer than {RDS_IDENTIFIER_MAX} "
                "characters: set a shorter tradingdesk:namePrefix"
            )
    if problems:
        raise PlanError(problems)
    return Plan(plans, pools, buckets, warnings)
