"""Per desk a PostgreSQL journal database: Multi-AZ, encrypted with its own key, backups retained, deletion
protected, TLS enforced, reachable only from the cluster. Its URL lands in the desk's storage Secret (kube.py).

Why one instance per desk: a desk's journal is its order book of record; one desk's load, failover or restore
never touches another's.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from deskinfra.config import StackConfig
from deskinfra.network import Network
from deskinfra.plan import DeskPlan

PORT = 5432


def db_name(desk: str) -> str:
    return desk.replace("-", "_")


def build_shared(cfg: StackConfig, network: Network, cluster_security_group: pulumi.Input[str], prefix: str,
                 tags: dict[str, str]) -> tuple[aws.rds.SubnetGroup, aws.ec2.SecurityGroup, aws.rds.ParameterGroup,
                                                aws.kms.Key]:  # fmt: skip
    subnets = aws.rds.SubnetGroup(
        f"{prefix}-db", subnet_ids=[s.id for s in network.private_subnets.values()], tags=tags
    )
    group = aws.ec2.SecurityGroup(
        f"{prefix}-db", vpc_id=network.vpc.id, description="PostgreSQL from the cluster's nodes only",
        ingress=[{"protocol": "tcp", "from_port": PORT, "to_port": PORT, "security_groups": [cluster_security_group]}],
        tags=tags,
    )  # fmt: skip
    major = cfg.database.engine_version.split(".")[0]
    params = aws.rds.ParameterGroup(
        f"{prefix}-db", family=f"postgres{major}",
        parameters=[{"name": "rds.force_ssl", "value": "1"}, {"name": "synchronous_commit", "value": "on"}],
        tags=tags,
    )  # fmt: skip
    key = aws.kms.Key(f"{prefix}-db", description=f"{prefix}: journal databases and their backups",
                      enable_key_rotation=True, deletion_window_in_days=30, tags=tags)  # fmt: skip
    return subnets, group, params, key


def build(cfg: StackConfig, desk: DeskPlan, shared, prefix: str, tags: dict[str, str]) -> pulumi.Output[str]:
    """The desk's database; returns its SQLAlchemy URL (a secret)."""
    subnets, group, params, key = shared
    password = random.RandomPassword(f"{desk.name}-db", length=40, special=False)
    instance = aws.rds.Instance(
        f"{desk.name}-db",
        identifier=f"{prefix}-{desk.name}",
        engine="postgres",
        engine_version=cfg.database.engine_version,
        instance_class=cfg.database.instance_class,
        allocated_storage=cfg.database.allocated_storage_gib,
        max_allocated_storage=cfg.database.max_allocated_storage_gib,
        storage_type="gp3",
        storage_encrypted=True,
        kms_key_id=key.arn,
        multi_az=True,
        backup_retention_period=cfg.database.backup_retention_days,
        deletion_protection=True,
        skip_final_snapshot=False,
        final_snapshot_identifier=f"{prefix}-{desk.name}-final",
        copy_tags_to_snapshot=True,
        db_name=db_name(desk.name),
        username="tradingdesk",
        password=password.result,
        port=PORT,
        publicly_accessible=False,
        db_subnet_group_name=subnets.name,
        vpc_security_group_ids=[group.id],
        parameter_group_name=params.name,
        auto_minor_version_upgrade=True,
        performance_insights_enabled=True,
        performance_insights_kms_key_id=key.arn,
        enabled_cloudwatch_logs_exports=["postgresql"],
        tags={**tags, "tradingdesk.io/desk": desk.name},
    )
    return pulumi.Output.secret(
        pulumi.Output.format(
            "postgresql+psycopg://tradingdesk:{0}@{1}:{2}/{3}?sslmode=require",
            password.result, instance.address, instance.port, db_name(desk.name),
        )
    )  # fmt: skip
