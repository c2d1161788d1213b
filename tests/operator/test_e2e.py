"""The operator against a real API server: apply -> Ready, rolling one service, rejection, drift, deletion.

Marked k8s and slow: needs the local control plane of tests/cluster (``k8s_cluster``); pods are kwok's.
"""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.operator.helpers import minimal_document, test_desk_document
from tests.operator.kubectl import Kubectl
from tests.operator.process import (
    KILL_SWITCH_DESK,
    KILL_SWITCH_NS,
    DeskTls,
    Operator,
    answers,
    real_service,
    risk_state,
)
from tradingdesk.security import channels
from tradingdesk.security.accesslog import read_records
from tradingdesk.v1 import common_pb2, compliance_pb2, compliance_pb2_grpc, risk_pb2, risk_pb2_grpc

pytestmark = [pytest.mark.k8s, pytest.mark.slow, pytest.mark.timeout(300)]

DESK = "us-equities"
NY4 = {"ny4-node-1", "ny4-node-2"}
SERVICES = ("feeds", "routing", "risk", "compliance", "monitoring")
CHILD_KINDS = "deployments,services,configmaps,poddisruptionbudgets,networkpolicies,serviceaccounts,roles,rolebindings"


def deployments(kube: Kubectl, ns: str, desk: str = DESK) -> dict[str, dict[str, Any]]:
    items = kube.json("get", "deployments", "-n", ns, "-l", f"app.kubernetes.io/instance={desk}")["items"]
    return {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in items}


def wait_generation_ready(kube: Kubectl, ns: str, name: str, generation: int, timeout: float = 120) -> dict:
    def ready() -> dict | None:
        desk = kube.desk(ns, name)
        status = desk.get("status", {})
        cond = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), {})
        ok = status.get("observedGeneration") == generation and cond.get("status") == "True"
        return desk if ok and cond.get("observedGeneration") == generation else None

    return kube.wait_until(f"desk {ns}/{name} generation {generation} Ready", ready, timeout=timeout)


def patch(kube: Kubectl, ns: str, spec: dict[str, Any], name: str = DESK, check: bool = True):
    return kube.run("patch", "desk", name, "-n", ns, "--type", "merge", "-p", json.dumps({"spec": spec}), check=check)


def test_example_desk_reaches_ready_on_colocated_nodes(kube: Kubectl, operator: Operator, namespace: str) -> None:
    kube.apply(test_desk_document(), namespace)
    kube.wait_ready(namespace, DESK, timeout=120)

    pods = kube.json("get", "pods", "-n", namespace, "-l", f"app.kubernetes.io/instance={DESK}")["items"]
    components = {p["metadata"]["labels"]["app.kubernetes.io/component"]: p for p in pods}
    assert sorted(components) == sorted([*SERVICES, "migrate"])  # and the migration Job's pod
    for name, p in components.items():
        phases = ("Running", "Succeeded") if name == "migrate" else ("Running",)  # kwok completes Job pods at once
        assert p["status"]["phase"] in phases, p["metadata"]["name"]
        assert p["spec"]["nodeName"] in NY4, (p["metadata"]["name"], p["spec"]["nodeName"])
    # a replay desk: every service's pod has the same clock origin, the desk's creation time
    created = kube.desk(namespace, DESK)["metadata"]["creationTimestamp"]
    origin = str(int(datetime.fromisoformat(created).timestamp()) * 1_000_000_000)
    for name in SERVICES:
        env = {e["name"]: e.get("value") for e in components[name]["spec"]["containers"][0]["env"]}
        assert env.get("TD_REPLAY_ORIGIN_NS") == origin, name

    row = kube.desk_row(namespace, DESK)
    assert list(row) == ["NAME", "READY", "TRADING", "SERVICES", "DEGRADED", "REASON", "AGE"]
    # kwok's pods run no RiskService: no trading state was ever confirmed, so none is shown
    assert {k: v for k, v in row.items() if k != "AGE"} == {
        "NAME": DESK, "READY": "True", "TRADING": "", "SERVICES": "5/5", "DEGRADED": "False", "REASON": "AsExpected"
    }  # fmt: skip

    desk = kube.desk(namespace, DESK)
    status = desk["status"]
    assert status["observedGeneration"] == desk["metadata"]["generation"]
    assert status["services"]["routing"] == {"replicas": 1, "readyReplicas": 1, "updatedReplicas": 1}
    types = {c["type"]: c["status"] for c in status["conditions"]}
    assert types == {
        "Ready": "True",
        "Progressing": "False",
        "Degraded": "False",
        "TradingHalted": "Unknown",
        "OperatorAvailable": "True",
    }
    assert "tradingState" not in status and status["trading"]["desired"] == "Active"
    assert status["operator"]["state"] == "Running" and status["operator"]["leader"]
    assert desk["metadata"]["finalizers"] == ["tradingdesk.io/finalizer"]
    # kopf keeps no copy of the spec on the object (a large desk would not fit one)
    assert not any("last-handled" in key for key in desk["metadata"].get("annotations", {}))

    children = kube.json("get", CHILD_KINDS, "-n", namespace, "-l", f"app.kubernetes.io/instance={DESK}")["items"]
    # 5 Deployments, Services, PDBs; 6 NetworkPolicies (one for the migration Job); 2 ConfigMaps (the spec, the
    # alert rules and scrape job); a ServiceAccount, Role and RoleBinding
    assert len(children) == 26
    for child in children:
        assert [r["uid"] for r in child["metadata"]["ownerReferences"]] == [desk["metadata"]["uid"]]

    reasons = kube.event_reasons(namespace, DESK)
    assert "Reconciled" in reasons
    assert "DriftRepaired" not in reasons  # the operator's own writes are never mistaken for drift
    explain = kube.run("explain", "desk.spec.placement.colocation").out
    assert "Colocation site whose nodes run the desk" in explain


def test_spec_change_rolls_only_the_affected_deployments(kube: Kubectl, operator: Operator, namespace: str) -> None:
    kube.apply(test_desk_document(), namespace)
    kube.wait_ready(namespace, DESK, timeout=120)
    before = deployments(kube, namespace)

    patch(kube, namespace, {"services": {"risk": {"resources": {"cpu": "750m"}}}})
    wait_generation_ready(kube, namespace, DESK, 2)
    after = deployments(kube, namespace)
    rolled = {s for s in SERVICES if after[s]["metadata"]["generation"] != before[s]["metadata"]["generation"]}
    assert rolled == {"risk"}
    limits = after["risk"]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits["cpu"] == "750m"

    patch(kube, namespace, {"risk": {"maxOrderQuantity": "1000"}})  # live: SetLimits, no pod restarts
    wait_generation_ready(kube, namespace, DESK, 3)
    final = deployments(kube, namespace)
    assert all(final[s]["metadata"]["generation"] == after[s]["metadata"]["generation"] for s in SERVICES)
    cm = kube.json("get", "configmap", f"{DESK}-spec", "-n", namespace)
    assert json.loads(cm["data"]["desk.yaml"])["spec"]["risk"]["maxOrderQuantity"] == "1000"  # for pods started later


def invalid(**spec: Any) -> dict[str, Any]:
    doc = test_desk_document("bad-desk")
    for key, value in spec.items():
        doc["spec"][key] = value
    return doc


def test_invalid_desks_are_rejected_with_the_field_named(kube: Kubectl, operator: Operator, namespace: str) -> None:
    venues = test_desk_document()["spec"]["venues"]
    long_name = test_desk_document("a" * 53)
    cases = [
        ("schema", invalid(instruments=[{"symbol": "aapl"}]), "spec.instruments[0].symbol"),
        ("list-map", invalid(venues=[venues[0], venues[0]]), "spec.venues[1]: Duplicate value"),
        ("cel", invalid(routing={"defaultVenue": "nowhere"}), "spec.routing.defaultVenue"),
        ("cel", invalid(risk={"restrictedSymbols": ["TSLA"]}), "spec.risk.restrictedSymbols"),
        ("cel", invalid(services={"risk": {"resources": {"cpu": "lots"}}}), "spec.services.risk.resources.cpu"),
        ("cel", long_name, "metadata.name must be at most 52 characters"),
        ("webhook", invalid(venues=[{**venues[0], "symbols": ["TSLA"]}]), "spec.venues[0].symbols[0]"),
        ("webhook", invalid(services={"risk": {"port": 50051}}), "spec.services[].port: must be distinct"),
    ]
    for layer, doc, field in cases:
        result = kube.apply(doc, namespace, check=False)
        assert not result.ok, f"{layer}: accepted a desk with a bad {field}"
        assert field in result.err, f"{layer}: {field!r} not named in: {result.err}"
        if layer == "webhook":
            assert 'admission webhook "spec.tradingdesk.io.validating" denied the request' in result.err
    assert kube.json("get", "desk", "-n", namespace)["items"] == []

    kube.apply(minimal_document(), namespace)  # defaults fill in the rest
    kube.wait_ready(namespace, "minimal", timeout=120)
    result = patch(kube, namespace, {"routing": {"defaultVenue": "nowhere"}}, name="minimal", check=False)
    assert not result.ok and "spec.routing.defaultVenue" in result.err


def test_deleted_and_edited_children_are_restored(kube: Kubectl, operator: Operator, namespace: str) -> None:
    kube.apply(test_desk_document(), namespace)
    kube.wait_ready(namespace, DESK, timeout=120)
    service_uid = kube.json("get", "service", f"{DESK}-risk", "-n", namespace)["metadata"]["uid"]

    kube.run("delete", "service", f"{DESK}-risk", "-n", namespace)
    kube.run("delete", "deployment", f"{DESK}-feeds", "-n", namespace)
    kube.run("scale", "deployment", f"{DESK}-routing", "-n", namespace, "--replicas=3")
    kube.run(
        "patch", "configmap", f"{DESK}-spec", "-n", namespace, "--type", "merge", "-p", '{"data":{"desk.yaml":"x"}}'
    )

    def restored() -> bool:
        svc = kube.run("get", "service", f"{DESK}-risk", "-n", namespace, "-o", "json", check=False)
        if not svc.ok or json.loads(svc.out)["metadata"]["uid"] == service_uid:
            return False
        deps = deployments(kube, namespace)
        cm = kube.json("get", "configmap", f"{DESK}-spec", "-n", namespace)
        return "feeds" in deps and deps["routing"]["spec"]["replicas"] == 1 and cm["data"]["desk.yaml"] != "x"

    kube.wait_until("children restored", restored, timeout=60)
    kube.wait_ready(namespace, DESK, timeout=120)
    repairs = [e["message"] for e in kube.events(namespace, DESK) if e["reason"] == "DriftRepaired"]
    assert any("Service/us-equities-risk" in m for m in repairs), repairs
    assert any("Deployment/us-equities-feeds" in m for m in repairs), repairs
    assert any(".spec.replicas of Deployment/us-equities-routing" in m for m in repairs), repairs


def test_delete_completes_when_the_desk_is_unreachable(kube: Kubectl, operator: Operator, namespace: str) -> None:
    kube.apply(test_desk_document(), namespace)
    kube.wait_ready(namespace, DESK, timeout=120)
    before = deployments(kube, namespace)

    patch(kube, namespace, {"tradingState": "Halted"})  # kwok pods serve no gRPC: delivery fails, honestly shown
    halted = kube.wait_until(
        "TradingHalted Unknown",
        lambda: kube.condition(namespace, DESK, "TradingHalted").get("reason") == "RiskServiceUnreachable",
        timeout=30,
    )
    assert halted
    assert "TradingStateNotDelivered" in kube.event_reasons(namespace, DESK)
    assert kube.desk(namespace, DESK)["status"].get("tradingState") is None  # never a state nobody confirmed
    after = deployments(kube, namespace)
    assert all(after[s]["metadata"]["generation"] == before[s]["metadata"]["generation"] for s in SERVICES)

    started = time.monotonic()
    kube.run("delete", "desk", DESK, "-n", namespace, "--timeout=60s", timeout=70)
    assert time.monotonic() - started < 30  # each call bounded by --rpc-timeout 3
    reasons = kube.event_reasons(namespace, DESK)
    for reason in ("HaltFailed", "AuditSealFailed", "Finalized"):
        assert reason in reasons
    kube.wait_until(
        "children garbage-collected",
        lambda: not kube.json("get", CHILD_KINDS, "-n", namespace, "-l", f"app.kubernetes.io/instance={DESK}")["items"],
        timeout=60,
    )


def test_kill_switch_and_finalizer_reach_a_real_risk_service(kube: Kubectl, operator: Operator, tmp_path: Path) -> None:
    """The operator issues the desk's certificates; real risk and compliance services serve mutual TLS with the
    ones the operator put in their Secrets; the operator's halt, resume, finalizer, seal and the record of its
    actions go through them."""
    doc = test_desk_document(KILL_SWITCH_DESK)
    kube.fresh_namespace(KILL_SWITCH_NS)
    try:
        kube.apply(doc, KILL_SWITCH_NS)  # first: the services serve the certificates the operator issues for it
        tls = DeskTls(kube, KILL_SWITCH_NS, KILL_SWITCH_DESK)
        with (
            real_service("risk", doc, operator.risk_port, tmp_path, tls=tls, from_operator=True) as address,
            real_service(
                "compliance",
                doc,
                operator.compliance_port,
                tmp_path,
                tls=tls,
                from_operator=True,
                env={"TD_ADDR_RISK": address},
            ) as compliance_address,  # it records risk's change journal too
        ):
            kube.wait_until("risk service", lambda: answers(address), timeout=60)
            kube.wait_until("compliance service", lambda: answers(compliance_address), timeout=60)
            with grpc.insecure_channel(address) as plaintext, pytest.raises(grpc.RpcError):  # none gets in without one
                risk_pb2_grpc.RiskServiceStub(plaintext).GetTradingState(risk_pb2.GetTradingStateRequest(), timeout=5)
            kube.wait_ready(KILL_SWITCH_NS, KILL_SWITCH_DESK, timeout=120)
            kube.wait_until(
                "status Active (confirmed)",
                lambda: kube.desk(KILL_SWITCH_NS, KILL_SWITCH_DESK)["status"].get("tradingState") == "Active",
                timeout=30,
            )

            patch(kube, KILL_SWITCH_NS, {"tradingState": "Halted"}, name=KILL_SWITCH_DESK)
            kube.wait_until(
                "status Halted",
                lambda: kube.desk(KILL_SWITCH_NS, KILL_SWITCH_DESK)["status"].get("tradingState") == "Halted",
                timeout=30,
            )
            cond = kube.condition(KILL_SWITCH_NS, KILL_SWITCH_DESK, "TradingHalted")
            assert (cond["status"], cond["reason"]) == ("True", "HaltedBySpec")
            info = risk_state(address)
            assert info.state == common_pb2.TRADING_STATE_HALTED
            assert info.actor == "tradingdesk-operator"
            # how far the halt reached the routing gates (GateDelivery): no router runs next to this risk service
            delivery = "applied by 0 of 0 routing gate(s)"
            assert kube.desk(KILL_SWITCH_NS, KILL_SWITCH_DESK)["status"]["trading"]["delivery"] == delivery
            assert cond["message"].endswith(delivery)
            changed = f"RiskService at 127.0.0.1:{operator.risk_port} confirmed Halted, {delivery}"
            kube.wait_until(
                "the TradingStateChanged Event",
                lambda: changed in [e["message"] for e in kube.events(KILL_SWITCH_NS, KILL_SWITCH_DESK)],
                timeout=30,
            )
            table = kube.run("get", "desk", KILL_SWITCH_DESK, "-n", KILL_SWITCH_NS).out
            assert "Halted" in table
            access = tmp_path / f"data-{operator.risk_port}" / KILL_SWITCH_DESK / "access" / "risk.jsonl"
            records = read_records(access)
            assert ("svc:operator", "OK") in {(r["identity"], r["outcome"]) for r in records if r["privileged"]}

            patch(kube, KILL_SWITCH_NS, {"tradingState": "Active"}, name=KILL_SWITCH_DESK)
            kube.wait_until("risk ACTIVE", lambda: risk_state(address).state == common_pb2.TRADING_STATE_ACTIVE, 30)
            # The kill switch goes its own faster way; the reconcile of this generation (its audit record) too.
            wait_generation_ready(kube, KILL_SWITCH_NS, KILL_SWITCH_DESK, 3)

            kube.run("delete", "desk", KILL_SWITCH_DESK, "-n", KILL_SWITCH_NS, "--timeout=60s", timeout=70)
            info = risk_state(address)
            assert (info.state, info.reason) == (common_pb2.TRADING_STATE_HALTED, "desk deleted")
            reasons = kube.event_reasons(KILL_SWITCH_NS, KILL_SWITCH_DESK)
            assert "TradingHalted" in reasons and "AuditSealed" in reasons
            # The finalizer sealed through the RPC: the seal is in the log, by the operator, and in the bucket
            # (read as the example desk's auditor: a service identity may not query the audit trail).
            with channels.channel(compliance_address, credentials=tls.client("auditor")) as channel:
                stub = compliance_pb2_grpc.ComplianceServiceStub(channel)
                sealed = stub.GetCheckpoint(compliance_pb2.GetCheckpointRequest(), timeout=5)
                seals = stub.QueryAudit(compliance_pb2.QueryAuditRequest(), timeout=5).events
            assert sealed.tree_size >= 1 and sealed.pending_segments == 0
            assert any(e.kind == "seal" and '"actor":"tradingdesk-operator"' in e.payload_json for e in seals)
            # What the operator did is on record, once each: applied (generation 1), changed twice, deleted (the
            # API server bumps a custom resource's generation when it marks it deleted); and its kill switches are in
            # risk's change journal with the door they came through.
            actions = [json.loads(e.payload_json) for e in seals if e.kind == "operator_action"]
            assert [(a["action"], a["generation"]) for a in actions] == [
                ("apply", 1),
                ("change", 2),
                ("change", 3),
                ("delete", 4),
            ]
            assert all(a["desk"] == KILL_SWITCH_DESK and len(a["spec_hash"]) == 64 and a["action_id"] for a in actions)
            hashes = [a["spec_hash"] for a in actions]
            assert hashes[0] != hashes[1] != hashes[2] == hashes[3]  # Halted, then Active, then deleted as it was
            halts = [json.loads(e.payload_json) for e in seals if e.source == "risk" and e.kind == "trading_state"]
            by_operator = [(h["state"], h["door"], h["reason"]) for h in halts if h["actor"] == "tradingdesk-operator"]
            assert by_operator == [
                ("HALTED", "operator", "spec.tradingState set to Halted"),
                ("ACTIVE", "operator", "spec.tradingState set to Active"),
                ("HALTED", "operator", "desk deleted"),
            ]
    finally:
        kube.run("delete", "desk", "--all", "-n", KILL_SWITCH_NS, "--timeout=60s", check=False)
        kube.run("delete", "namespace", KILL_SWITCH_NS, "--wait=false", check=False)


def test_health_and_metrics(kube: Kubectl, operator: Operator, namespace: str) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{operator.health_port}/readyz", timeout=5) as resp:
        assert resp.status == 200  # the webhook serves: this replica can take admission requests
    kube.apply(test_desk_document(), namespace)
    kube.wait_ready(namespace, DESK, timeout=120)

    def scraped() -> str | None:  # the gauges follow the status the operator writes, a moment after it
        with urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics_port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        return text if f'tradingdesk_operator_desk_ready{{desk="{DESK}",namespace="{namespace}"}} 1.0' in text else None

    text = kube.wait_until("the desk's gauges", scraped, timeout=30)
    assert "# TYPE tradingdesk_operator_reconcile_duration_seconds histogram" in text
    assert 'tradingdesk_operator_reconcile_total{result="success"}' in text
    assert "tradingdesk_operator_leader 1.0" in text
    assert f'tradingdesk_operator_desk_ready_services{{desk="{DESK}",namespace="{namespace}"}} 5.0' in text
    assert f'tradingdesk_operator_desk_ready{{desk="{DESK}",namespace="{namespace}"}} 1.0' in text
    assert (
        f'tradingdesk_operator_desk_last_reconcile_timestamp_seconds{{desk="{DESK}",namespace="{namespace}"}}' in text
    )
