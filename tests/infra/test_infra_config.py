"""Typed stack configuration: the example loads, and every mistake is refused with the key it is under."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from deskinfra.config import ConfigError, from_pulumi, load
from tests.infra.mocks import example_config


def with_changes(**changes: Any) -> dict[str, str]:
    values = example_config()
    for key, value in changes.items():
        full = f"tradingdesk:{key}"
        if value is None:
            values.pop(full)
        else:
            values[full] = value if isinstance(value, str) else json.dumps(value)
    return values


def problems(values: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load(values)
    return exc.value.problems


def test_the_example_stack_loads_with_defaults_filled_in() -> None:
    cfg = load(example_config())
    assert cfg.desks == ["../examples/desk.yaml"]
    assert cfg.network.availability_zones == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert cfg.colocation("ny4").instance_types == ["c7i.4xlarge", "c7i.8xlarge"]
    assert cfg.colocation("ld4").instance_types == ["c7i.4xlarge"]  # a colocation without config: defaults
    assert cfg.database.backup_retention_days == 14 and cfg.database.engine_version == "17"
    assert cfg.pagerduty.secondary == ["desk-head@example.com"]
    assert cfg.cluster.public_endpoint_cidrs == []  # private API endpoint unless asked


def test_the_engines_config_is_read_with_other_namespaces_ignored() -> None:
    pulumi.runtime.set_all_config({**example_config(), "aws:region": "eu-west-1", "kubernetes:context": "x"})
    try:
        assert from_pulumi().region == "us-east-1"
    finally:
        pulumi.runtime.set_all_config({})


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"pagerduty": None}, "tradingdesk:pagerduty: Field required"),
        ({"desks": []}, "tradingdesk:desks: List should have at least 1 item"),
        ({"databse": {"instanceClass": "db.r7g.large"}}, "tradingdesk:databse: unknown key (a typo?)"),
        ({"database": {"backupRetentionDays": 3}}, "tradingdesk:database.backupRetentionDays: Input should be"),
        ({"database": {"instanceClass": "r7g.large"}}, "tradingdesk:database.instanceClass: String should match"),
        ({"network": {"availabilityZones": ["us-east-1a"]}}, "tradingdesk:network.availabilityZones: List should"),
        ({"network": {"availabilityZones": ["us-east-1a", "east"]}}, "'east' is not an availability zone name"),
        ({"colocations": {"ny4": {"instanceTypes": ["fast"]}}}, "tradingdesk:colocations.ny4.instanceTypes: "),
        ({"colocations": {"ny4": {"nodes": -1}}}, "tradingdesk:colocations.ny4.nodes: Input should be"),
        ({"pagerduty": {"primary": ["ops"], "secondary": ["b@x.io"]}}, "tradingdesk:pagerduty.primary: "),
        ({"pagerduty": {"primary": ["a@x.io"], "secondary": []}}, "tradingdesk:pagerduty.secondary: List should"),
        ({"audit": {"auditorPrincipals": ["root"]}}, "'root' is not an IAM ARN"),
        ({"audit": {"colderStorageClass": "TAPE"}}, "tradingdesk:audit.colderStorageClass: Input should be"),
        ({"kubernetes": {"deskNamespace": "Trading"}}, "tradingdesk:kubernetes.deskNamespace: String should match"),
        ({"region": "Virginia"}, "tradingdesk:region: String should match"),
    ],
)
def test_a_mistake_is_refused_naming_its_key(changes: dict[str, Any], expected: str) -> None:
    found = problems(with_changes(**changes))
    assert any(expected in p for p in found), found


def test_every_problem_is_reported_at_once() -> None:
    found = problems(with_changes(region="x", database={"backupRetentionDays": 40}, pagerduty=None))
    assert {p.split(":")[1].split(" ")[0] for p in found} == {"region", "database.backupRetentionDays", "pagerduty"}
