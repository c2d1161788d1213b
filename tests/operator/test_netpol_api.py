"""The NetworkPolicies the operator created, read back from the API server, table-tested with cyclonus's matcher:
every caller, callee and port of the desk, allowed and denied as designed (tests/netpol/expectations.py)."""

from __future__ import annotations

import pytest

from tests.netpol.analysis import allowed
from tests.netpol.expectations import DB_PORT, DESK, RISK_HTTP, Design
from tests.operator.helpers import test_desk_document
from tests.operator.kubectl import Kubectl
from tests.operator.process import Operator

pytestmark = [pytest.mark.k8s, pytest.mark.slow, pytest.mark.timeout(300)]


def test_policies_read_back_from_the_api_server_allow_exactly_the_design(
    kube: Kubectl, operator: Operator, namespace: str
) -> None:
    doc = test_desk_document(DESK)
    doc["spec"]["risk"]["httpPort"] = RISK_HTTP
    doc["spec"]["storage"]["postgres"]["port"] = DB_PORT
    kube.apply(doc, namespace)
    kube.wait_ready(namespace, DESK, timeout=120)
    live = kube.json("get", "networkpolicies", "-n", namespace, "-l", f"app.kubernetes.io/instance={DESK}")["items"]
    assert sorted(p["metadata"]["name"].removeprefix(f"{DESK}-") for p in live) == sorted(
        ["feeds", "routing", "risk", "compliance", "monitoring", "migrate"]
    )
    design = Design(namespace)
    answers = allowed(live, design.connections())
    assert not design.differences(answers), "\n".join(design.differences(answers))
    assert sum(answers.values()) > 40
