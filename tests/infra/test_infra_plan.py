"""What the stack derives from the desks' spec files: node pools, labels, taints, sizes, buckets, identities."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from deskinfra.config import StackConfig, load
from deskinfra.plan import PlanError, Taint, build, desk_plans, read_desks, tolerates
from deskoperator.placement import node_selector
from deskoperator.render import Owner, rbac
from tests.infra.desks import DESK_TOLERATION, KWOK_TOLERATION, desk_file, placement
from tests.infra.mocks import INFRA, example_config


def config(desks: list[str], **sections: Any) -> StackConfig:
    values = example_config()
    values.pop("tradingdesk:colocations")
    cfg = load(values).model_dump(by_alias=True)
    cfg.update(desks=desks, **sections)
    return StackConfig.model_validate(cfg)


def plan_of(cfg: StackConfig):
    return build(cfg, read_desks(cfg.desks, INFRA), "prod")


def test_the_example_desk_gets_its_colocations_node_pool(tmp_path: Path) -> None:
    cfg = config(["../examples/desk.yaml"])
    p = plan_of(cfg)
    (pool,) = p.node_pools
    desk = p.desks[0].desk
    assert pool.colocation == "ny4" == desk.spec.placement.colocation
    assert pool.labels == node_selector(desk) == {"tradingdesk.io/colocation": "ny4"}
    # the desk tolerates tradingdesk.io/desk (Exists) and kwok's test taint; only ours becomes a node taint
    assert pool.taints == (Taint("tradingdesk.io/desk", "true", "NoSchedule"),)
    assert pool.nodes == 2 and pool.zone == "us-east-1a" and pool.instance_types == ("c7i.4xlarge",)
    assert p.desks[0].namespace == "trading"  # the file names no namespace: the stack's default
    assert p.desks[0].service_account == rbac(desk, "trading", Owner(desk.name, ""))[0]["metadata"]["name"]
    (bucket,) = p.buckets
    assert bucket.name == "prod-us-equities-audit" and bucket.retention_days == 2557


def test_pools_follow_the_desks_not_a_hand_written_list(tmp_path: Path) -> None:
    london = desk_file(
        tmp_path, "ldn-fx",
        placement=placement("ld4", DESK_TOLERATION, {"key": "fx", "operator": "Equal", "value": "only",
                                                     "effect": "NoExecute"}, nodeSelector={"cpu": "icelake"}),
        services={"routing": {"replicas": 3}},
    )  # fmt: skip
    cfg = config(["../examples/desk.yaml", london])
    pools = {p.colocation: p for p in plan_of(cfg).node_pools}
    assert sorted(pools) == ["ld4", "ny4"]
    ld4 = pools["ld4"]
    assert ld4.labels == {"cpu": "icelake", "tradingdesk.io/colocation": "ld4"}
    assert ld4.taints == (Taint("fx", "only", "NoExecute"), Taint("tradingdesk.io/desk", "true", "NoSchedule"))
    assert ld4.nodes == 3  # three routing replicas on different nodes
    # a zone picked by the colocation's name alone: adding ld4 did not move ny4 (us-east-1a, as before)
    assert ld4.zone == "us-east-1b" and pools["ny4"].zone == "us-east-1a"


def test_a_taint_only_some_desks_of_a_colocation_tolerate_is_left_off(tmp_path: Path) -> None:
    a = desk_file(tmp_path, "desk-a", placement=placement("ny4", DESK_TOLERATION,
                  {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}))  # fmt: skip
    b = desk_file(tmp_path, "desk-b", placement=placement("ny4", DESK_TOLERATION, KWOK_TOLERATION))
    (pool,) = plan_of(config([a, b])).node_pools
    assert pool.taints == (Taint("tradingdesk.io/desk", "true", "NoSchedule"),)
    assert pool.desks == ("desk-a", "desk-b")


def test_desks_sharing_a_bucket_get_the_longest_retention(tmp_path: Path) -> None:
    a = desk_file(tmp_path, "desk-a", compliance={"auditBucket": {"kind": "s3", "bucket": "shared-audit",
                                                                  "retentionDays": 2557}})  # fmt: skip
    b = desk_file(tmp_path, "desk-b", compliance={"auditBucket": {"kind": "s3", "bucket": "shared-audit",
                                                                  "retentionDays": 3650}})  # fmt: skip
    p = plan_of(config([a, b]))
    (bucket,) = p.buckets
    assert bucket.retention_days == 3650 and bucket.desks == ("desk-a", "desk-b")
    assert p.warnings == []  # both write to S3: nothing to warn about


def test_every_problem_is_named(tmp_path: Path) -> None:
    nowhere = desk_file(tmp_path, "nowhere", placement={"tolerations": []})
    big = desk_file(tmp_path, "big", services={"risk": {"replicas": 4}})
    clash = desk_file(tmp_path, "clash", placement=placement("ny4", DESK_TOLERATION, nodeSelector={"cpu": "amd"}))
    other = desk_file(tmp_path, "other", placement=placement("ny4", DESK_TOLERATION, nodeSelector={"cpu": "intel"}))
    cfg = config(
        [nowhere, big, clash, other],
        colocations={"ny4": {"nodes": 2}, "ld5": {}, "ny5": {"availabilityZone": "us-west-2a"}},
    )
    with pytest.raises(PlanError) as exc:
        plan_of(cfg)
    text = "\n".join(exc.value.problems)
    assert "nowhere.yaml: spec.placement.colocation is empty" in text
    assert "tradingdesk:colocations.ld5: no desk is placed there (desks use: ny4)" in text
    assert "tradingdesk:colocations.ny4.nodes: 2 is fewer than the 4 the desks there need" in text
    assert "spec.placement.nodeSelector[cpu]='intel' contradicts another desk at ny4 ('amd')" in text


def test_names_too_long_for_aws_are_refused_with_the_way_out(tmp_path: Path) -> None:
    long_desk = desk_file(tmp_path, "d" * 50)
    with pytest.raises(PlanError) as exc:
        build(config([long_desk]), read_desks([long_desk], INFRA), "production-stack")
    text = "\n".join(exc.value.problems)
    assert "longer than 63 characters: set spec.compliance.auditBucket.bucket" in text
    assert "longer than 63 characters: set a shorter tradingdesk:namePrefix" in text


def test_the_same_desk_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="desk trading/us-equities is also defined in"):
        desk_plans(read_desks(["../examples/desk.yaml"] * 2, INFRA), default_namespace="trading")


def test_a_bad_spec_file_names_the_file_and_field(tmp_path: Path) -> None:
    bad = desk_file(tmp_path, "bad", routing={"defaultVenue": "nyse"})
    with pytest.raises(ValueError, match=r"bad\.yaml: invalid TradingDesk:\n.*spec.routing.defaultVenue"):
        read_desks([bad], INFRA)


@pytest.mark.parametrize(
    ("toleration", "taint", "expected"),
    [
        ({"key": "a", "operator": "Exists", "effect": "NoSchedule"}, Taint("a", "x", "NoSchedule"), True),
        ({"key": "a", "operator": "Exists", "effect": "NoSchedule"}, Taint("a", "x", "NoExecute"), False),
        ({"key": "a", "operator": "Equal", "value": "x"}, Taint("a", "x", "NoExecute"), True),  # any effect
        ({"key": "a", "operator": "Equal", "value": "x"}, Taint("a", "y", "NoSchedule"), False),
        ({"operator": "Exists"}, Taint("anything", "v", "NoSchedule"), True),  # empty key tolerates all
        ({"key": "b", "operator": "Exists"}, Taint("a", "", "NoSchedule"), False),
    ],
)
def test_toleration_matching_is_kubernetes_own(toleration: dict[str, Any], taint: Taint, expected: bool) -> None:
    assert tolerates([toleration], taint) is expected
