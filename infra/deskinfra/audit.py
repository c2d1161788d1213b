"""The audit buckets (SEC 17a-4(f) WORM storage): Object Lock in COMPLIANCE mode with the desks' retention,
versioning, SSE-KMS with a dedicated key, public access blocked, deletes and plain HTTP denied to everyone,
a move to colder storage; an auditor role that can only read, and per desk a writer role for its compliance
service (IRSA: the desk's Kubernetes ServiceAccount assumes it)."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from deskinfra.config import StackConfig
from deskinfra.iam import allow, document
from deskinfra.plan import AuditBucketPlan, DeskPlan

READ_ACTIONS = [
    "s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectRetention", "s3:GetObjectLegalHold",
    "s3:GetBucketObjectLockConfiguration", "s3:GetBucketVersioning", "s3:ListBucket", "s3:ListBucketVersions",
]  # fmt: skip
WRITE_ACTIONS = ["s3:PutObject"]
# Nobody, not even the account's administrators, deletes a record or the bucket. (Object Lock in COMPLIANCE
# mode already refuses to delete a retained version; this also refuses delete markers, so nothing ever looks
# deleted.) Changing the lock configuration stays possible: a desk may raise retentionDays.
DENIED_TO_ALL = ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:DeleteBucket"]


def bucket_policy(bucket_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    objects = pulumi.Output.concat(bucket_arn, "/*")
    everyone = {"AWS": "*"}
    return document(
        {"Sid": "DenyDeletes", "Effect": "Deny", "Principal": everyone, "Action": DENIED_TO_ALL,
         "Resource": [bucket_arn, objects]},
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": everyone, "Action": "s3:*",
         "Resource": [bucket_arn, objects], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    )  # fmt: skip


def bucket(cfg: StackConfig, plan: AuditBucketPlan, tags: dict[str, str]) -> tuple[aws.s3.Bucket, aws.kms.Key]:
    name = plan.name
    key = aws.kms.Key(
        f"{name}-key", description=f"audit bucket {name}: SSE-KMS, used by nothing else",
        enable_key_rotation=True, deletion_window_in_days=30, tags=tags,
    )  # fmt: skip
    aws.kms.Alias(f"{name}-key", name=f"alias/{name}", target_key_id=key.key_id)
    b = aws.s3.Bucket(name, bucket=name, object_lock_enabled=True, force_destroy=False, tags=tags,
                      opts=pulumi.ResourceOptions(protect=True))  # fmt: skip
    aws.s3.BucketOwnershipControls(name, bucket=b.id, rule={"object_ownership": "BucketOwnerEnforced"})
    block = aws.s3.BucketPublicAccessBlock(
        name, bucket=b.id, block_public_acls=True, block_public_policy=True, ignore_public_acls=True,
        restrict_public_buckets=True,
    )  # fmt: skip
    versioning = aws.s3.BucketVersioning(name, bucket=b.id, versioning_configuration={"status": "Enabled"})
    aws.s3.BucketObjectLockConfiguration(
        name, bucket=b.id, object_lock_enabled="Enabled",
        rule={"default_retention": {"mode": "COMPLIANCE", "days": plan.retention_days}},
        opts=pulumi.ResourceOptions(depends_on=[versioning]),
    )  # fmt: skip
    aws.s3.BucketServerSideEncryptionConfiguration(
        name, bucket=b.id,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn},
                "bucket_key_enabled": True}],
    )  # fmt: skip
    aws.s3.BucketLifecycleConfiguration(
        name, bucket=b.id,
        rules=[{
            "id": "colder-storage", "status": "Enabled", "filter": {},
            "transitions": [{"days": cfg.audit.transition_after_days, "storage_class": cfg.audit.colder_storage_class}],
            "noncurrent_version_transitions": [
                {"noncurrent_days": cfg.audit.transition_after_days, "storage_class": cfg.audit.colder_storage_class}
            ],
        }],
        opts=pulumi.ResourceOptions(depends_on=[versioning]),
    )  # fmt: skip
    aws.s3.BucketPolicy(name, bucket=b.id, policy=bucket_policy(b.arn), opts=pulumi.ResourceOptions(depends_on=[block]))
    return b, key


def auditor_role(cfg: StackConfig, buckets: list[tuple[aws.s3.Bucket, aws.kms.Key]], prefix: str,
                 tags: dict[str, str]) -> aws.iam.Role:  # fmt: skip
    """Reads every audit bucket (what `tradingdesk audit verify` needs) and nothing else: no write, no delete."""
    principals = cfg.audit.auditor_principals or [
        aws.get_caller_identity_output().account_id.apply(lambda account: f"arn:aws:iam::{account}:root")
    ]
    role = aws.iam.Role(
        f"{prefix}-auditor", description="read-only access to the audit buckets",
        assume_role_policy=document(allow(["sts:AssumeRole"], principal={"AWS": principals})), tags=tags,
    )  # fmt: skip
    arns = [arn for b, _ in buckets for arn in (b.arn, pulumi.Output.concat(b.arn, "/*"))]
    aws.iam.RolePolicy(
        f"{prefix}-auditor", role=role.id,
        policy=document(allow(READ_ACTIONS, arns), allow(["kms:Decrypt"], [k.arn for _, k in buckets])),
    )  # fmt: skip
    pulumi.export("auditorRoleArn", role.arn)
    return role


def writer_role(desk: DeskPlan, b: aws.s3.Bucket, key: aws.kms.Key, oidc: aws.iam.OpenIdConnectProvider,
                tags: dict[str, str]) -> aws.iam.Role:  # fmt: skip
    """What the desk's compliance service needs to seal segments: put, read back, list; never delete."""
    issuer = oidc.url.apply(lambda url: url.removeprefix("https://"))
    subject = f"system:serviceaccount:{desk.namespace}:{desk.service_account}"
    trust = pulumi.Output.all(issuer, oidc.arn).apply(lambda a: {
        "Effect": "Allow", "Principal": {"Federated": a[1]}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{a[0]}:sub": subject, f"{a[0]}:aud": "sts.amazonaws.com"}},
    })  # fmt: skip
    role = aws.iam.Role(f"{desk.name}-audit-writer", assume_role_policy=document(trust), tags=tags)
    aws.iam.RolePolicy(
        f"{desk.name}-audit-writer", role=role.id,
        policy=document(
            allow([*WRITE_ACTIONS, "s3:GetObject", "s3:ListBucket"], [b.arn, pulumi.Output.concat(b.arn, "/*")]),
            allow(["kms:GenerateDataKey", "kms:Decrypt"], [key.arn]),
        ),
    )  # fmt: skip
    return role
