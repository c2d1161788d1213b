"""The Helm chart without helm (not installed here): its files parse and its templates use only known values."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[2] / "charts" / "tradingdesk-operator"


def lookup(values: dict[str, Any], dotted: str) -> bool:
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_chart_metadata_and_values_parse() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2" and chart["name"] == "tradingdesk-operator"
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["replicas"] == 2  # two replicas; kopf peering lets one act


def test_templates_reference_only_defined_values() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for template in (CHART / "templates").glob("*"):
        for ref in re.findall(r"\.Values\.([A-Za-z0-9_.]+)", template.read_text()):
            assert lookup(values, ref), f"{template.name}: .Values.{ref} is not in values.yaml"


def test_operator_runs_with_peering_liveness_and_metrics() -> None:
    text = (CHART / "templates" / "deployment.yaml").read_text()
    assert "command: [python, -m, deskoperator]" in text
    assert "--liveness=http://0.0.0.0:" in text and "--metrics-port=" in text
    assert "--standalone" not in text  # peering stays on


def test_crds_are_in_the_chart() -> None:
    names = sorted(p.name for p in (CHART / "crds").glob("*.yaml"))
    assert names == ["tradingdesks.yaml"]
