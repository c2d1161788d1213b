"""Each policy rule on its own: the example stack passes it, and a stack that breaks it is caught, by name."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from deskinfra import policy
from deskinfra.plan import Plan
from deskinfra.policy import DeskPlacement, Resource, Violation
from tests.infra.mocks import StackMocks

Stack = tuple[StackMocks, Plan]
Edit = Callable[[dict[str, Any]], None]


def broken(resources: list[Resource], type_: str, edit: Edit, name: str | None = None) -> list[Resource]:
    """The resources with ``edit`` applied to the inputs (and outputs) of each ``type_`` (named ``name``)."""
    out = []
    for r in resources:
        if r.type == type_ and (name is None or r.name == name):
            inputs, outputs = copy.deepcopy(r.inputs), copy.deepcopy(r.outputs)
            edit(inputs)
            edit(outputs)
            r = Resource(r.type, r.name, r.id, inputs, outputs)
        out.append(r)
    return out


def messages(violations: list[Violation]) -> list[str]:
    return [str(v) for v in violations]


@pytest.fixture
def resources(example_stack: Stack) -> list[Resource]:
    return list(example_stack[0].resources)


@pytest.fixture
def plan(example_stack: Stack) -> Plan:
    return example_stack[1]


def required_days(plan: Plan) -> dict[str, int]:
    return {b.name: b.retention_days for b in plan.buckets}


def placements(plan: Plan) -> list[DeskPlacement]:
    from deskoperator.placement import node_selector, tolerations

    return [DeskPlacement(d.name, d.desk.spec.placement.colocation, node_selector(d.desk), tolerations(d.desk))
            for d in plan.desks]  # fmt: skip


def paging(plan: Plan) -> dict[str, tuple[str, str, str]]:
    return {d.name: (d.namespace, f"{d.name}-pagerduty", "routingKey") for d in plan.desks}


# -- no public bucket ------------------------------------------------------------------------------------------


def test_public_access_block_with_a_flag_off_is_caught(resources: list[Resource]) -> None:
    assert policy.no_public_buckets(resources) == []
    bad = broken(resources, policy.PUBLIC_ACCESS_BLOCK, lambda p: p.update(restrictPublicBuckets=False))
    assert messages(policy.no_public_buckets(bad)) == [
        "[no-public-bucket] prod-us-equities-audit: needs a public access block with all four flags on"
    ]


def test_a_bucket_without_a_public_access_block_is_caught(resources: list[Resource]) -> None:
    bad = [r for r in resources if r.type != policy.PUBLIC_ACCESS_BLOCK]
    assert len(policy.no_public_buckets(bad)) == 1


def test_a_policy_allowing_everyone_is_caught(resources: list[Resource]) -> None:
    def open_to_all(p: dict[str, Any]) -> None:
        doc = json.loads(p["policy"])
        doc["Statement"].append({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"})
        p["policy"] = json.dumps(doc)

    bad = broken(resources, policy.BUCKET_POLICY, open_to_all)
    assert messages(policy.no_public_buckets(bad)) == [
        "[no-public-bucket] prod-us-equities-audit: its policy allows everyone"
    ]


# -- Object Lock COMPLIANCE with retention >= the spec's -------------------------------------------------------------


def test_retention_shorter_than_a_desks_is_caught(resources: list[Resource], plan: Plan) -> None:
    assert policy.object_lock_compliance(resources, required_days(plan)) == []
    longer = {name: days + 1 for name, days in required_days(plan).items()}
    assert messages(policy.object_lock_compliance(resources, longer)) == [
        "[object-lock] prod-us-equities-audit: retains 2557 days, the desks need 2558"
    ]


def test_governance_mode_and_a_missing_lock_are_caught(resources: list[Resource], plan: Plan) -> None:
    def governance(p: dict[str, Any]) -> None:
        p["rule"]["defaultRetention"]["mode"] = "GOVERNANCE"

    bad = broken(resources, policy.OBJECT_LOCK, governance)
    assert (
        "default retention mode 'GOVERNANCE', not COMPLIANCE"
        in messages(policy.object_lock_compliance(bad, required_days(plan)))[0]
    )
    unlocked = broken(resources, policy.BUCKET, lambda p: p.update(objectLockEnabled=False))
    assert "Object Lock is not enabled" in messages(policy.object_lock_compliance(unlocked, required_days(plan)))[0]
    assert messages(policy.object_lock_compliance(resources, {"other-audit": 1})) == [
        "[object-lock] other-audit: the audit bucket is missing"
    ]


# -- placement groups `cluster` ----------------------------------------------------------------------------------


def test_a_spread_placement_group_is_caught(resources: list[Resource]) -> None:
    assert policy.placement_groups_cluster(resources) == []
    bad = broken(resources, policy.PLACEMENT_GROUP, lambda p: p.update(strategy="spread"))
    assert messages(policy.placement_groups_cluster(bad)) == [
        "[placement-cluster] prod-ny4: strategy 'spread', not cluster",
        "[placement-cluster] prod-ny4: its launch template puts no cluster placement group",
    ]


def test_a_desk_node_group_over_two_zones_is_caught(resources: list[Resource]) -> None:
    bad = broken(resources, policy.NODE_GROUP, lambda p: p.update(subnetIds=["a", "b"]), name="prod-ny4")
    assert messages(policy.placement_groups_cluster(bad)) == [
        "[placement-cluster] prod-ny4: a cluster placement group lives in one subnet/zone"
    ]


# -- node taints match desk tolerations ------------------------------------------------------------------------------


def test_a_taint_the_desk_does_not_tolerate_is_caught(resources: list[Resource], plan: Plan) -> None:
    assert policy.taints_match_tolerations(resources, placements(plan)) == []

    def gpu(p: dict[str, Any]) -> None:
        p["taints"].append({"key": "gpu", "value": "true", "effect": "NO_SCHEDULE"})

    bad = broken(resources, policy.NODE_GROUP, gpu, name="prod-ny4")
    assert messages(policy.taints_match_tolerations(bad, placements(plan))) == [
        "[taints-tolerated] prod-ny4: taint Taint(key='gpu', value='true', effect='NoSchedule') is not tolerated by "
        "desk us-equities"
    ]


def test_a_missing_label_or_node_group_is_caught(resources: list[Resource], plan: Plan) -> None:
    bad = broken(resources, policy.NODE_GROUP, lambda p: p.update(labels={}), name="prod-ny4")
    assert messages(policy.taints_match_tolerations(bad, placements(plan))) == [
        "[taints-tolerated] prod-ny4: lacks label tradingdesk.io/colocation=ny4 that desk us-equities selects"
    ]
    elsewhere = [DeskPlacement("fx", "ld4", {}, [])]
    assert messages(policy.taints_match_tolerations(resources, elsewhere)) == [
        "[taints-tolerated] fx: no node group for colocation 'ld4'"
    ]


# -- every desk pages through >= 2 levels ----------------------------------------------------------------------------


def test_a_single_level_escalation_is_caught(resources: list[Resource], plan: Plan) -> None:
    assert policy.escalation_levels(resources, paging(plan)) == []
    bad = broken(resources, policy.PD_POLICY, lambda p: p.update(rules=p["rules"][:1]))
    assert messages(policy.escalation_levels(bad, paging(plan))) == [
        "[escalation] us-equities: pages through 1 escalation level(s), needs 2"
    ]
    empty_level = broken(resources, policy.PD_POLICY, lambda p: p["rules"][1].update(targets=[]))
    assert len(policy.escalation_levels(empty_level, paging(plan))) == 1


def test_a_desk_without_its_routing_key_is_caught(resources: list[Resource], plan: Plan) -> None:
    bad = [r for r in resources if not (r.type == policy.K8S_SECRET and r.name.endswith("-pagerduty"))]
    assert messages(policy.escalation_levels(bad, paging(plan))) == [
        "[escalation] us-equities: Secret trading/us-equities-pagerduty holds no PagerDuty routing key"
    ]


# -- encryption on every store ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "edit", "expected"),
    [
        (policy.ENCRYPTION, lambda p: p["rules"][0]["applyServerSideEncryptionByDefault"].update(sseAlgorithm="AES256"),
         "prod-us-equities-audit: no SSE-KMS default encryption"),
        (policy.DB_INSTANCE, lambda p: p.update(storageEncrypted=False), "us-equities-db: storage not encrypted"),
        (policy.EKS_CLUSTER, lambda p: p.update(encryptionConfig={}), "prod-eks: Kubernetes Secrets are not"),
        (policy.LAUNCH_TEMPLATE, lambda p: p["blockDeviceMappings"][0]["ebs"].update(encrypted="false"),
         "node volumes are not encrypted"),
        (policy.KMS_KEY, lambda p: p.update(enableKeyRotation=False), "KMS key rotation is off"),
    ],
)  # fmt: skip
def test_an_unencrypted_store_is_caught(resources: list[Resource], type_: str, edit: Edit, expected: str) -> None:
    assert policy.encryption_everywhere(resources) == []
    found = messages(policy.encryption_everywhere(broken(resources, type_, edit)))
    assert found and all("[encryption]" in m for m in found)
    assert any(expected in m for m in found), found
