"""Signals SREs can trust: pods that cannot be placed say so, with the scheduler's own words."""

from __future__ import annotations

import re

import pytest

from tests.operator.helpers import test_desk_document
from tests.operator.kubectl import Kubectl
from tests.operator.process import Operator

pytestmark = [pytest.mark.k8s, pytest.mark.slow, pytest.mark.timeout(300)]

DESK = "us-equities"


def test_pods_that_cannot_be_placed_are_unschedulable_not_lost(
    kube: Kubectl, operator: Operator, namespace: str
) -> None:
    doc = test_desk_document()
    doc["spec"]["placement"]["colocation"] = "sg1"  # no node carries this colocation
    kube.apply(doc, namespace)

    def unschedulable() -> dict:
        cond = kube.condition(namespace, DESK, "Degraded")
        return cond if cond.get("reason") == "Unschedulable" else {}

    cond = kube.wait_until("Degraded Unschedulable", unschedulable, timeout=90)
    assert cond["status"] == "True"
    # the scheduler's own words; the node count depends on what other tests added to the shared cluster
    assert re.search(r"cannot be placed: 0/\d+ nodes are available", cond["message"]), cond["message"]
    assert "Unschedulable" in kube.event_reasons(namespace, DESK)
    assert "ReplicasUnavailable" not in kube.event_reasons(namespace, DESK)
    row = kube.desk_row(namespace, DESK)
    assert (row["DEGRADED"], row["REASON"]) == ("True", "Unschedulable")
