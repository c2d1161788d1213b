"""The policies the operator renders, table-tested with cyclonus's matcher for every caller, callee and port.

tests/operator/test_netpol_api.py asks the same questions of the policies read back from a real API server.
"""

from __future__ import annotations

import pytest

from deskoperator.netpol import OperatorPeer
from deskoperator.render import Owner, render
from tests.netpol.analysis import DESK_NS, OPERATOR_NS, allowed
from tests.netpol.expectations import DB_PORT, RISK_HTTP, Design
from tests.operator.helpers import example_document
from tradingdesk.spec.load import parse_desk


def rendered_policies(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """The example desk's policies as the operator renders them (HTTP kill switch on, PostgreSQL on 5432)."""
    monkeypatch.setenv("TD_OPERATOR_NAMESPACE", OPERATOR_NS)
    doc = example_document()
    doc["spec"]["risk"]["httpPort"] = RISK_HTTP
    doc["spec"]["storage"]["postgres"]["port"] = DB_PORT
    desk = parse_desk(doc)
    return [o for o in render(desk, DESK_NS, Owner(desk.name, "uid-1"), "img") if o["kind"] == "NetworkPolicy"]


def test_every_connection_is_allowed_exactly_as_designed(monkeypatch: pytest.MonkeyPatch) -> None:
    design = Design()
    table = design.connections()
    answers = allowed(rendered_policies(monkeypatch), table)
    wrong = design.differences(answers)
    assert not wrong, f"{len(wrong)} of {len(table)} connections differ from the design:\n" + "\n".join(wrong)
    # the table is not vacuous: both answers occur, for the pairs this issue is about
    by_name = {str(c): answers[c] for c in table}
    assert by_name["operator -> risk:50053"] and by_name["monitoring -> risk:50053"]
    assert not by_name["operator-labels-in-another-namespace -> risk:50053"]
    assert by_name["compliance -> feeds:50051"] and not by_name["feeds -> risk:50053"]  # surveillance reads the market
    assert by_name["compliance -> risk:50053"] and by_name["operator -> compliance:50054"]  # the audit trail
    assert not by_name["operator-labels-in-another-namespace -> compliance:50054"]
    assert by_name["order-client-outside-the-cluster -> routing:50052"]
    assert not by_name["order-client-outside-the-cluster -> risk:50053"]
    assert sum(answers.values()) > 40 and len(table) - sum(answers.values()) > 400


@pytest.mark.parametrize("peer_namespace", ["tradingdesk-system", "ops"])
def test_the_operator_peer_follows_where_the_operator_runs(monkeypatch, peer_namespace: str) -> None:
    monkeypatch.setenv("TD_OPERATOR_NAMESPACE", peer_namespace)
    assert OperatorPeer.from_environment().peer()["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": peer_namespace}
    }
