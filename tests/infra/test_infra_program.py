"""The whole program under Pulumi's mocks (the example stack): every invariant of the issue, on the resources
the program actually registers, and every policy rule passes."""

from __future__ import annotations

import json
from typing import Any

from deskinfra import audit
from deskinfra.plan import Plan, paging_secret, storage_secret
from deskinfra.policy import Resource, check
from deskoperator.placement import node_selector
from tests.infra.mocks import INFRA, OIDC_ISSUER, StackMocks

Stack = tuple[StackMocks, Plan]


def of(mocks: StackMocks, type_: str) -> list[Resource]:
    return [r for r in mocks.resources if r.type == type_]


def named(mocks: StackMocks, type_: str, name: str) -> Resource:
    (found,) = [r for r in of(mocks, type_) if r.name == name]
    return found


def statements(policy: str) -> list[dict[str, Any]]:
    return json.loads(policy)["Statement"]


def actions(policy: str) -> set[str]:
    return {a for s in statements(policy) if s["Effect"] == "Allow" for a in s["Action"]}


def test_every_policy_rule_passes(example_stack: Stack) -> None:
    mocks, plan = example_stack
    assert check(mocks.resources, plan) == []


def test_hardware_a_node_group_per_colocation_in_a_cluster_placement_group(example_stack: Stack) -> None:
    mocks, plan = example_stack
    desk = plan.desks[0].desk
    group = named(mocks, "aws:ec2/placementGroup:PlacementGroup", "prod-ny4")
    assert group.inputs["strategy"] == "cluster"
    template = named(mocks, "aws:ec2/launchTemplate:LaunchTemplate", "prod-ny4")
    assert template.inputs["placement"] == {"groupName": group.outputs["name"]}
    assert template.inputs["metadataOptions"]["httpTokens"] == "required"
    ng = named(mocks, "aws:eks/nodeGroup:NodeGroup", "prod-ny4")
    assert ng.inputs["launchTemplate"]["id"] == template.id
    assert ng.inputs["subnetIds"] == ["subnet-prod-private-us-east-1a"]  # the zone the example stack pins ny4 to
    assert ng.inputs["instanceTypes"] == ["c7i.4xlarge", "c7i.8xlarge"]  # configured for latency
    assert ng.inputs["labels"] == node_selector(desk)  # exactly what the desk's pods select
    assert ng.inputs["taints"] == [{"key": "tradingdesk.io/desk", "value": "true", "effect": "NO_SCHEDULE"}]
    assert ng.inputs["scalingConfig"]["desiredSize"] == 2
    cluster = named(mocks, "aws:eks/cluster:Cluster", "prod-eks")
    assert cluster.inputs["vpcConfig"]["endpointPublicAccess"] is False
    assert len(cluster.inputs["vpcConfig"]["subnetIds"]) == 3
    assert named(mocks, "aws:ec2/vpc:Vpc", "prod-vpc").inputs["cidrBlock"] == "10.40.0.0/16"
    system = named(mocks, "aws:eks/nodeGroup:NodeGroup", "prod-system")
    assert "taints" not in system.inputs and system.inputs["scalingConfig"]["minSize"] == 2


def test_storage_the_audit_bucket_is_worm_encrypted_and_private(example_stack: Stack) -> None:
    mocks, plan = example_stack
    (bucket_plan,) = plan.buckets
    bucket = named(mocks, "aws:s3/bucket:Bucket", bucket_plan.name)
    assert bucket.inputs["objectLockEnabled"] is True and bucket.inputs["forceDestroy"] is False
    lock = named(mocks, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", bucket_plan.name)
    retention = plan.desks[0].desk.spec.compliance.audit_bucket.retention_days
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": retention}
    versioning = named(mocks, "aws:s3/bucketVersioning:BucketVersioning", bucket_plan.name)
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
    key = named(mocks, "aws:kms/key:Key", f"{bucket_plan.name}-key")
    sse = named(
        mocks, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        bucket_plan.name,
    )  # fmt: skip
    default = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key.outputs["arn"]}
    # a dedicated key: no other store uses it
    users = [r.name for r in mocks.resources if key.outputs["arn"] in json.dumps(r.inputs) and r is not sse]
    assert sorted(users) == ["prod-auditor", "us-equities-audit-writer"]  # only the roles that read/write it
    block = named(mocks, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", bucket_plan.name)
    assert all(block.inputs[f] is True for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                                  "restrictPublicBuckets"))  # fmt: skip
    policy = statements(named(mocks, "aws:s3/bucketPolicy:BucketPolicy", bucket_plan.name).inputs["policy"])
    deny_delete, deny_http = policy
    assert deny_delete["Effect"] == "Deny" and deny_delete["Principal"] == {"AWS": "*"}
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:DeleteBucket"} == set(deny_delete["Action"])
    assert deny_http["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and deny_http["Effect"] == "Deny"
    lifecycle = named(mocks, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", bucket_plan.name)
    assert lifecycle.inputs["rules"][0]["transitions"] == [{"days": 90, "storageClass": "GLACIER_IR"}]
    assert "expiration" not in lifecycle.inputs["rules"][0]  # records are never expired by a rule


def test_storage_the_auditor_only_reads_and_the_writer_is_the_desks_service_account(example_stack: Stack) -> None:
    mocks, plan = example_stack
    auditor = named(mocks, "aws:iam/rolePolicy:RolePolicy", "prod-auditor").inputs["policy"]
    assert actions(auditor) == set(audit.READ_ACTIONS) | {"kms:Decrypt"}
    assert not any(a.startswith(("s3:Put", "s3:Delete")) for a in actions(auditor))
    trust = statements(named(mocks, "aws:iam/role:Role", "prod-auditor").inputs["assumeRolePolicy"])
    assert trust[0]["Principal"] == {"AWS": ["arn:aws:iam::123456789012:root"]}  # default: the account's admins
    desk = plan.desks[0]
    writer_trust = statements(named(mocks, "aws:iam/role:Role", "us-equities-audit-writer").inputs["assumeRolePolicy"])
    issuer = OIDC_ISSUER.removeprefix("https://")
    assert writer_trust[0]["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert writer_trust[0]["Condition"]["StringEquals"] == {
        f"{issuer}:sub": f"system:serviceaccount:{desk.namespace}:{desk.service_account}",
        f"{issuer}:aud": "sts.amazonaws.com",
    }
    writer = named(mocks, "aws:iam/rolePolicy:RolePolicy", "us-equities-audit-writer").inputs["policy"]
    assert "s3:PutObject" in actions(writer) and not any("Delete" in a for a in actions(writer))
    sa = named(mocks, "kubernetes:core/v1:ServiceAccount", f"{desk.namespace}-{desk.service_account}")
    role = named(mocks, "aws:iam/role:Role", "us-equities-audit-writer")
    assert sa.inputs["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": role.outputs["arn"]}


def test_state_a_multi_az_database_whose_url_lands_in_the_desks_secret(example_stack: Stack) -> None:
    mocks, plan = example_stack
    db = named(mocks, "aws:rds/instance:Instance", "us-equities-db")
    assert db.inputs["multiAz"] is True and db.inputs["deletionProtection"] is True
    assert db.inputs["backupRetentionPeriod"] == 14 and db.inputs["storageEncrypted"] is True
    assert db.inputs["publiclyAccessible"] is False and db.inputs["skipFinalSnapshot"] is False
    desk = plan.desks[0]
    ref = storage_secret(desk.desk)
    secret = named(mocks, "kubernetes:core/v1:Secret", f"{desk.namespace}-{ref.name}")
    assert secret.inputs["metadata"] == {"name": "us-equities-storage", "namespace": "trading"}
    password = named(mocks, "random:index/randomPassword:RandomPassword", "us-equities-db").outputs["result"]
    assert secret.inputs["stringData"] == {
        ref.key: f"postgresql+psycopg://tradingdesk:{password}@{db.outputs['address']}:5432/us_equities?sslmode=require"
    }
    params = named(mocks, "aws:rds/parameterGroup:ParameterGroup", "prod-db").inputs["parameters"]
    assert {"name": "rds.force_ssl", "value": "1"} in params


def test_paging_two_levels_and_the_routing_key_in_the_desks_secret(example_stack: Stack) -> None:
    mocks, plan = example_stack
    schedule = named(mocks, "pagerduty:index/schedule:Schedule", "us-equities-oncall")
    assert schedule.inputs["layers"][0]["users"] == ["PONCALL-1", "PONCALL-2"]  # the primary emails' users
    policy = named(mocks, "pagerduty:index/escalationPolicy:EscalationPolicy", "us-equities-escalation")
    level_1, level_2 = policy.inputs["rules"]
    assert level_1["targets"] == [{"type": "schedule_reference", "id": schedule.id}]
    assert level_2["targets"] == [{"type": "user_reference", "id": "PDESK-HEAD"}]
    integration = named(mocks, "pagerduty:index/serviceIntegration:ServiceIntegration", "us-equities-events")
    assert integration.inputs["type"] == "events_api_v2_inbound_integration"
    desk = plan.desks[0]
    ref = paging_secret(desk.desk)
    secret = named(mocks, "kubernetes:core/v1:Secret", f"{desk.namespace}-{ref.name}")
    assert secret.inputs["stringData"] == {ref.key: integration.outputs["integrationKey"]}
    looked_up = sorted(a["email"] for token, a in mocks.calls if token == "pagerduty:index/getUser:getUser")
    assert looked_up == sorted(["oncall-1@example.com", "oncall-2@example.com", "desk-head@example.com"])


def test_kubernetes_the_operator_release_and_the_desk_as_its_file_says(example_stack: Stack) -> None:
    mocks, plan = example_stack
    namespaces = sorted(r.inputs["metadata"]["name"] for r in of(mocks, "kubernetes:core/v1:Namespace"))
    assert namespaces == ["trading", "tradingdesk-system"]
    release = named(mocks, "kubernetes:helm.sh/v3:Release", "tradingdesk-operator")
    assert release.inputs["chart"] == str((INFRA / "../charts/tradingdesk-operator").resolve())
    assert release.inputs["namespace"] == "tradingdesk-system"
    desk = plan.desks[0]
    (applied,) = of(mocks, "kubernetes:tradingdesk.io/v1alpha1:TradingDesk")
    assert applied.inputs["spec"] == desk.document["spec"]  # the spec file as it is, nothing restated
    assert applied.inputs["metadata"]["namespace"] == "trading"
    assert applied.inputs["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Ready"
