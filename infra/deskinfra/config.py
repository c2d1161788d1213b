"""Typed stack configuration: every key checked at the start of `pulumi up`, errors naming the key.

Keys live in the `tradingdesk` namespace (`pulumi config set --path tradingdesk:database.instanceClass ...`).
Only what cannot be derived from the desks is configuration: where (region, zones, network), on what
(instance types), how big, and who gets paged. Colocations, labels, taints, retention and services come from
the TradingDesk spec files named by `tradingdesk:desks`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

NAMESPACE = "tradingdesk"
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$"
AZ_PATTERN = r"^[a-z]{2}(-[a-z]+)+-[0-9][a-z]$"
INSTANCE_TYPE_PATTERN = r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$"
# Why c7i: 4th-gen Xeon at up to 3.2 GHz all-core turbo, ENA networking, and supported in cluster placement
# groups; a desk's hot path is single-threaded latency, not core count. Override per colocation.
DEFAULT_DESK_INSTANCE_TYPES = ("c7i.4xlarge",)


class ConfigError(ValueError):
    """The stack configuration is invalid; one "tradingdesk:key.path: problem" line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid stack configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class Section(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, use_attribute_docstrings=True
    )


class NetworkConfig(Section):
    cidr: str = Field(default="10.40.0.0/16", pattern=r"^([0-9]{1,3}\.){3}[0-9]{1,3}/(1[6-9]|2[0-2])$")
    """The VPC's address range (/16 to /22): per zone a private subnet of a sixteenth of it, and a public one of a
    quarter of that."""
    availability_zones: list[str] = Field(min_length=2, max_length=6)
    """Zones of the VPC: at least two (EKS and a Multi-AZ database need two)."""

    @field_validator("availability_zones")
    @classmethod
    def _zones(cls, zones: list[str]) -> list[str]:
        for zone in zones:
            if not re.match(AZ_PATTERN, zone):
                raise ValueError(f"{zone!r} is not an availability zone name like us-east-1a")
        if len(set(zones)) != len(zones):
            raise ValueError("zones must be distinct")
        return zones


class ClusterConfig(Section):
    kubernetes_version: str = Field(default="1.33", pattern=r"^1\.[0-9]{2}$")
    """EKS control plane version."""
    system_instance_types: list[str] = Field(default_factory=lambda: ["m7i.large"], min_length=1)
    """Instance types of the untainted system node group (the operator, DNS, add-ons)."""
    system_nodes: int = Field(default=2, ge=2, le=20)
    """Nodes of the system group: two, so the operator's two replicas survive losing one."""
    public_endpoint_cidrs: list[str] = Field(default_factory=list)
    """CIDRs that may reach the API server's public endpoint; empty keeps the endpoint private only."""


class ColocationConfig(Section):
    availability_zone: str = Field(default="", pattern=r"^([a-z]{2}(-[a-z]+)+-[0-9][a-z])?$")
    """Zone of the colocation's placement group; empty picks one of the VPC's zones by the colocation's name."""
    instance_types: list[str] = Field(default_factory=lambda: list(DEFAULT_DESK_INSTANCE_TYPES), min_length=1)
    """Instance types of the colocation's desk nodes, first preferred."""
    nodes: int = Field(default=0, ge=0, le=100)
    """Desk nodes; 0 derives it: the most replicas of any desk service placed here, and never fewer than 2."""
    disk_gib: int = Field(default=100, ge=20, le=16_384)
    """Root volume of each desk node (encrypted gp3)."""

    @field_validator("instance_types")
    @classmethod
    def _types(cls, types: list[str]) -> list[str]:
        for t in types:
            if not re.match(INSTANCE_TYPE_PATTERN, t):
                raise ValueError(f"{t!r} is not an EC2 instance type like c7i.4xlarge")
        return types


class AuditConfig(Section):
    colder_storage_class: Literal["STANDARD_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"] = "GLACIER_IR"
    """Storage class sealed segments move to (Glacier Instant Retrieval: still read in milliseconds)."""
    transition_after_days: int = Field(default=90, ge=30, le=3_650)
    """Age at which segments move to the colder class (S3 needs 30 days before STANDARD_IA)."""
    auditor_principals: list[str] = Field(default_factory=list)
    """IAM ARNs that may assume the read-only auditor role; empty: the account's own administrators."""

    @field_validator("auditor_principals")
    @classmethod
    def _arns(cls, arns: list[str]) -> list[str]:
        for arn in arns:
            if not arn.startswith("arn:aws:iam::"):
                raise ValueError(f"{arn!r} is not an IAM ARN (arn:aws:iam::<account>:...)")
        return arns


class DatabaseConfig(Section):
    engine_version: str = Field(default="17", pattern=r"^[0-9]{2}(\.[0-9]+)?$")
    """PostgreSQL major (or major.minor) version."""
    instance_class: str = Field(default="db.r7g.large", pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    """RDS instance class of each desk's journal database."""
    allocated_storage_gib: int = Field(default=100, ge=20, le=65_536)
    """Initial storage; RDS grows it up to maxAllocatedStorageGib."""
    max_allocated_storage_gib: int = Field(default=1_000, ge=20, le=65_536)
    """Ceiling of storage autoscaling."""
    backup_retention_days: int = Field(default=14, ge=7, le=35)
    """Days of automated backups and point-in-time recovery (at least a week)."""


class PagerDutyConfig(Section):
    primary: list[str] = Field(min_length=1)
    """Emails of the PagerDuty users in the on-call rotation (level 1)."""
    secondary: list[str] = Field(min_length=1)
    """Emails of the users paged when level 1 does not acknowledge (level 2)."""
    time_zone: str = "America/New_York"
    """Time zone of the rotation."""
    rotation_hours: int = Field(default=168, ge=1, le=2_160)
    """Length of one on-call turn (a week)."""
    escalation_delay_minutes: int = Field(default=10, ge=1, le=1_440)
    """Minutes an incident waits for an acknowledgement before the next level is paged."""

    @field_validator("primary", "secondary")
    @classmethod
    def _emails(cls, emails: list[str]) -> list[str]:
        for email in emails:
            if "@" not in email.strip("@"):
                raise ValueError(f"{email!r} is not an email address")
        return emails


class KubernetesConfig(Section):
    operator_namespace: str = Field(default="tradingdesk-system", pattern=NAME_PATTERN)
    """Namespace of the operator's Helm release."""
    desk_namespace: str = Field(default="trading", pattern=NAME_PATTERN)
    """Namespace of desks whose spec file names none."""
    chart: str = "../charts/tradingdesk-operator"
    """The operator chart (a directory, relative to infra/)."""
    operator_values: dict[str, Any] = Field(default_factory=dict)
    """Helm values for the operator release, checked by the chart's values.schema.json."""


class StackConfig(Section):
    desks: list[str] = Field(min_length=1)
    """TradingDesk spec files (relative to infra/): everything desk-specific is derived from them."""
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$")
    """AWS region."""
    name_prefix: str = Field(default="", pattern=r"^([a-z][a-z0-9-]{0,18}[a-z0-9])?$")
    """Prefix of every physical name; empty uses the stack name."""
    network: NetworkConfig
    """The VPC."""
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    """The EKS cluster and its system nodes."""
    colocations: dict[str, ColocationConfig] = Field(default_factory=dict)
    """Per colocation (as the desks name it): zone, instance types, node count."""
    audit: AuditConfig = Field(default_factory=AuditConfig)
    """The audit buckets' storage class and auditors (retention comes from the desks)."""
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    """Each desk's PostgreSQL journal database."""
    pagerduty: PagerDutyConfig
    """Who is paged for the desks' alerts."""
    kubernetes: KubernetesConfig = Field(default_factory=KubernetesConfig)
    """Namespaces, the operator chart and its values."""

    def colocation(self, name: str) -> ColocationConfig:
        return self.colocations.get(name) or ColocationConfig()


def _key(loc: tuple[Any, ...]) -> str:
    out = NAMESPACE
    for i, part in enumerate(loc):
        out += f"[{part}]" if isinstance(part, int) else (":" if i == 0 else ".") + str(part)
    return out


def _decode(value: Any) -> Any:
    """Pulumi hands structured values over as JSON text; plain strings stay strings."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def load(values: Mapping[str, Any]) -> StackConfig:
    """The stack configuration from Pulumi's ``namespace:key -> value`` map; keys of other namespaces ignored."""
    document: dict[str, Any] = {}
    for key, value in values.items():
        namespace, sep, name = key.partition(":")
        if sep and namespace == NAMESPACE:
            document[name] = _decode(value)
    try:
        return StackConfig.model_validate(document)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown key (a typo?)"
            problems.append(f"{_key(err['loc'])}: {message}")
        raise ConfigError(problems) from None


def from_pulumi() -> StackConfig:
    """The current stack's configuration, as the Pulumi engine set it (or PULUMI_CONFIG)."""
    from pulumi.runtime.config import CONFIG, get_config_env

    return load({**get_config_env(), **CONFIG.get()})
