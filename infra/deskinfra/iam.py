"""IAM helpers: managed-policy attachments and JSON policy documents that may hold Outputs."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

MANAGED = "arn:aws:iam::aws:policy/"


def service_role(name: str, service: str, managed: list[str], tags: dict[str, str]) -> aws.iam.Role:
    """A role an AWS service assumes, with AWS-managed policies attached."""
    role = aws.iam.Role(name, assume_role_policy=document(allow(["sts:AssumeRole"], principal={"Service": service})),
                        tags=tags)  # fmt: skip
    for policy in managed:
        aws.iam.RolePolicyAttachment(f"{name}-{policy.split('/')[-1]}", role=role.name, policy_arn=MANAGED + policy)
    return role


def allow(actions: list[str], resources: Any = None, principal: Any = None, **extra: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": actions}
    if resources is not None:
        statement["Resource"] = resources
    if principal is not None:
        statement["Principal"] = principal
    return {**statement, **extra}


def document(*statements: dict[str, Any]) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})
