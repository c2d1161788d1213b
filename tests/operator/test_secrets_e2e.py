"""Secrets stay in Secrets on Kubernetes: known values planted in every Secret a desk names (the database URL,
the HTTP kill switch token, the audit signing key, the PagerDuty routing key), and the desk's own private keys,
are searched for in every other object of the namespace (ConfigMaps, workloads, Services, the desk's status,
Events, whatever else the API server lists there) and in every line the operator logged.

The embedded desk's twin is tests/security/test_desk_access.py::test_planted_secrets_work_and_never_leak (every
file the desk writes)."""

from __future__ import annotations

import base64
import json

import pytest

from tests.operator.helpers import test_desk_document
from tests.operator.kubectl import Kubectl
from tests.operator.process import Operator

pytestmark = [pytest.mark.k8s, pytest.mark.slow, pytest.mark.timeout(300)]

DESK = "us-equities"
PLANTED = {
    "us-equities-db": {"dsn": "postgresql://desk:planted-db-password-7f3e@pg.db.svc:5432/trading"},
    "us-equities-risk-http": {"token": "planted-http-token-c41d"},
    "us-equities-audit-signing-key": {"signing.key": "planted-signing-key-9a0b"},
    "pagerduty": {"routingKey": "planted-pagerduty-key-e25f"},
}


def secret_document(name: str, data: dict[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": "Opaque", "stringData": data}


def listable_kinds(kube: Kubectl) -> list[str]:
    """Every namespaced kind the API server lists, but Secrets (where the values belong)."""
    names = kube.run("api-resources", "--namespaced", "--verbs=list", "-o", "name").out.split()
    return [n for n in names if n.split(".")[0] != "secrets"]


def private_key_lines(kube: Kubectl, namespace: str) -> list[str]:
    """The base64 lines of every private key the operator issued into the desk's TLS Secrets."""
    lines = []
    for secret in kube.json("get", "secrets", "-n", namespace)["items"]:
        if not secret["metadata"]["name"].startswith(f"{DESK}-") or secret["metadata"]["name"] in PLANTED:
            continue
        for key, value in (secret.get("data") or {}).items():
            if key.endswith(".key"):
                pem = base64.b64decode(value).decode()
                lines += [line for line in pem.splitlines()[1:-1] if len(line) >= 40]
    return lines


def test_planted_secrets_stay_in_their_secrets(kube: Kubectl, operator: Operator, namespace: str) -> None:
    for name, data in PLANTED.items():
        kube.apply(secret_document(name, data), namespace)
    doc = test_desk_document(DESK)
    doc["spec"]["risk"]["httpPort"] = 8053
    kube.apply(doc, namespace)
    kube.wait_ready(namespace, DESK, timeout=120)
    # a change, so the operator's change path (its diff, its Events) has seen the desk too
    kube.run(
        "patch", "desk", DESK, "-n", namespace, "--type", "merge", "-p", '{"spec":{"risk":{"maxOrderQuantity":"9"}}}'
    )
    kube.wait_until("generation 2 applied", lambda: kube.desk(namespace, DESK)["status"].get("observedGeneration") == 2)
    kube.wait_ready(namespace, DESK, timeout=120)

    keys = private_key_lines(kube, namespace)
    assert keys, "the operator issued no private key into the desk's TLS Secrets"
    values = [v for data in PLANTED.values() for v in data.values()]
    encoded = [base64.b64encode(v.encode()).decode() for v in values]

    kinds = listable_kinds(kube)
    assert {"configmaps", "events", "tradingdesks.tradingdesk.io"} <= set(kinds), kinds
    listed = kube.run("get", ",".join(kinds), "-n", namespace, "-o", "json", timeout=120).out
    objects = json.loads(listed)["items"]
    kinds_seen = {o["kind"] for o in objects}
    assert {"ConfigMap", "Deployment", "Service", "TradingDesk", "Event"} <= kinds_seen, kinds_seen
    places = {f"{o['kind']}/{o['metadata']['name']}": json.dumps(o) for o in objects}
    places["the operator's log"] = operator.log.read_text()
    assert "Ready" in places[f"TradingDesk/{DESK}"]  # the status was read, not an empty object

    for where, text in places.items():
        for value in values + encoded:
            assert value not in text, f"a planted secret ({value[:12]}...) found in {where}"
        for line in keys:
            assert line not in text, f"a line of a private key found in {where}"

    # the Secrets the operator made for the desk hold certificates and keys of its own, never a planted value
    for secret in kube.json("get", "secrets", "-n", namespace)["items"]:
        if secret["metadata"]["name"] in PLANTED:
            continue
        decoded = "".join(base64.b64decode(v).decode(errors="replace") for v in (secret.get("data") or {}).values())
        assert not any(v in decoded for v in values), f"a planted secret copied into {secret['metadata']['name']}"
