"""Drift detection: only fields the operator renders count, quantities by value."""

from __future__ import annotations

from decimal import Decimal

from deskoperator.diff import drift, quantity


def test_quantities() -> None:
    assert quantity("500m") == Decimal("0.5")
    assert quantity("1") == quantity("1000m")
    assert quantity("512Mi") == 512 * 2**20
    assert quantity("1e3") == 1000
    assert quantity("lots") is None


def rendered() -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "ns", "labels": {"a": "1"}, "annotations": {}},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"resources": {"limits": {"cpu": "1000m"}}}]}}},
    }


def test_server_defaults_and_extra_fields_are_not_drift() -> None:
    live = {
        "metadata": {"name": "d", "labels": {"a": "1", "extra": "x"}, "uid": "u"},
        "spec": {"replicas": 1, "strategy": {"type": "RollingUpdate"},
                 "template": {"spec": {"containers": [{"resources": {"limits": {"cpu": "1"}}, "tty": False}]}}},
        "status": {"readyReplicas": 1},
    }  # fmt: skip
    assert drift(rendered(), live) == []


def test_changed_and_missing_fields_are_drift() -> None:
    live = {"metadata": {"name": "d", "labels": {}}, "spec": {"replicas": 3, "template": {"spec": {"containers": []}}}}
    assert drift(rendered(), live) == [".metadata.labels.a", ".spec.replicas", ".spec.template.spec.containers"]
