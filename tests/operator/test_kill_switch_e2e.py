"""spec.tradingState is never lost and never misreported, and spec.risk reaches the running RiskService live.

Each case of issue #16 item 1, against the real API server with a real RiskService process on the host:
(a) a halt inside a spec the model refuses (the webhook off, the chart's default) is delivered at once and
    survives fixing the spec; (b) on the largest desk the CRD admits, a halt is delivered and confirmed, kopf
    keeps no copy of the spec and deletion completes; (c) a RiskService that is down when the halt is written
    gets it when it comes up, without an operator restart, and status never says Halted before it confirmed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from deskoperator.render import Owner, render
from tests.operator.helpers import test_desk_document
from tests.operator.kubectl import Kubectl
from tests.operator.process import DeskTls, Operator, answers, real_risk, risk_limits, risk_state
from tradingdesk.spec.load import parse_desk
from tradingdesk.v1 import common_pb2

pytestmark = [pytest.mark.k8s, pytest.mark.slow, pytest.mark.timeout(300)]

WEBHOOK = "tradingdesk.io.validating"
SERVICES = ("feeds", "routing", "risk", "compliance", "monitoring")


@contextmanager
def desk_namespace(kube: Kubectl, name: str) -> Iterator[str]:
    kube.fresh_namespace(name)
    try:
        yield name
    finally:
        kube.run("delete", "desk", "--all", "-n", name, "--timeout=90s", check=False, timeout=100)
        kube.run("delete", "namespace", name, "--wait=false", check=False)


@contextmanager
def ready_desk(kube: Kubectl, operator: Operator, doc: dict[str, Any], ns: str, tmp: Path) -> Iterator[str]:
    """``doc`` applied (server-side) and Ready in a fresh ``ns``, its RiskService a real process (mutual TLS under
    the desk's CA, which the test makes first); yields its address."""
    name = doc["metadata"]["name"]
    with (
        desk_namespace(kube, ns),
        real_risk(doc, operator.risk_ports[(ns, name)], tmp, tls=DeskTls(kube, ns, name)) as address,
    ):
        kube.wait_until("risk service", lambda: answers(address), timeout=60)
        kube.run("apply", "--server-side", "-n", ns, "-f", "-", stdin=yaml.safe_dump(doc), timeout=120)
        kube.wait_ready(ns, name, timeout=300)
        yield address


@contextmanager
def webhook_off(kube: Kubectl) -> Iterator[None]:
    """The chart's default: no validating webhook, only the schema and CEL."""
    saved = kube.json("get", "validatingwebhookconfiguration", WEBHOOK)
    kube.run("delete", "validatingwebhookconfiguration", WEBHOOK)
    try:
        yield
    finally:
        for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"):
            saved["metadata"].pop(key, None)
        kube.run("create", "-f", "-", stdin=json.dumps(saved))


def patch(kube: Kubectl, ns: str, name: str, spec: dict[str, Any], check: bool = True):
    return kube.run("patch", "desk", name, "-n", ns, "--type", "merge", "-p", json.dumps({"spec": spec}), check=check)


def status(kube: Kubectl, ns: str, name: str) -> dict[str, Any]:
    return kube.desk(ns, name).get("status", {})


def wait_confirmed(kube: Kubectl, ns: str, name: str, state: str, timeout: float = 60) -> None:
    def confirmed() -> bool:
        st = status(kube, ns, name)
        halted = next((c for c in st.get("conditions", []) if c["type"] == "TradingHalted"), {})
        return st.get("tradingState") == state and halted.get("status") in ("True", "False")

    kube.wait_until(f"{ns}/{name} confirmed {state}", confirmed, timeout=timeout)


def generations(kube: Kubectl, ns: str, name: str) -> dict[str, int]:
    items = kube.json("get", "deployments", "-n", ns, "-l", f"app.kubernetes.io/instance={name}")["items"]
    return {d["metadata"]["labels"]["app.kubernetes.io/component"]: d["metadata"]["generation"] for d in items}


def test_a_halt_in_a_refused_spec_is_delivered_and_survives_the_fix(
    kube: Kubectl, operator: Operator, tmp_path: Path
) -> None:
    ns, name = "td-e2e-invalid", "ks-invalid"
    doc = test_desk_document(name)
    with ready_desk(kube, operator, doc, ns, tmp_path) as address:
        wait_confirmed(kube, ns, name, "Active")

        venues = doc["spec"]["venues"]
        refused = [{**venues[0], "symbols": ["TSLA"]}, *venues[1:]]  # not an instrument: only the model knows
        with webhook_off(kube):
            # what CEL covers never depends on the webhook
            cel = patch(kube, ns, name, {"routing": {"defaultVenue": "nowhere"}}, check=False)
            assert not cel.ok and "spec.routing.defaultVenue" in cel.err
            kube.wait_until(
                "the API server to admit a spec only the model refuses",
                lambda: patch(kube, ns, name, {"venues": refused, "tradingState": "Halted"}, check=False).ok,
                timeout=30,
            )
            kube.wait_until("risk HALTED", lambda: risk_state(address).state == common_pb2.TRADING_STATE_HALTED, 30)
            wait_confirmed(kube, ns, name, "Halted")
            ready = kube.condition(ns, name, "Ready")
            assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
            assert "spec.venues[0].symbols[0]" in ready["message"]
            # a risk pod that restarts now starts halted: the ConfigMap carries the halt of the refused spec
            cm = kube.json("get", "configmap", f"{name}-spec", "-n", ns)
            assert yaml.safe_load(cm["data"]["desk.yaml"])["spec"]["tradingState"] == "Halted"

            patch(kube, ns, name, {"venues": venues})  # the spec is fixed: the halt stays
        kube.wait_ready(ns, name, timeout=60)
        assert risk_state(address).state == common_pb2.TRADING_STATE_HALTED
        assert status(kube, ns, name)["tradingState"] == "Halted"
        assert kube.condition(ns, name, "TradingHalted")["status"] == "True"

        patch(kube, ns, name, {"tradingState": "Active"})
        kube.wait_until("risk ACTIVE", lambda: risk_state(address).state == common_pb2.TRADING_STATE_ACTIVE, 30)
        wait_confirmed(kube, ns, name, "Active")


def test_a_halt_sent_while_the_risk_service_is_down_arrives_when_it_comes_up(
    kube: Kubectl, operator: Operator, tmp_path: Path
) -> None:
    ns, name = "td-e2e-late", "ks-late"
    doc = test_desk_document(name)
    with desk_namespace(kube, ns):
        kube.apply(doc, ns)
        kube.wait_ready(ns, name, timeout=120)
        patch(kube, ns, name, {"tradingState": "Halted"})

        def retrying() -> bool:
            trading = status(kube, ns, name).get("trading", {})
            return trading.get("desired") == "Halted" and trading.get("attempts", 0) >= 2

        kube.wait_until("the operator retrying the halt", retrying, timeout=60)
        st = status(kube, ns, name)
        assert st.get("tradingState") is None  # nothing confirmed: no state shown, never the wish
        halted = kube.condition(ns, name, "TradingHalted")
        assert (halted["status"], halted["reason"]) == ("Unknown", "RiskServiceUnreachable")
        assert "spec.tradingState is Halted" in halted["message"] and "UNAVAILABLE" in st["trading"]["lastError"]

        pid = operator.process.pid
        tls = DeskTls(kube, ns, name)  # the CA the operator made for the desk
        with real_risk(doc, operator.risk_ports[(ns, name)], tmp_path, tls=tls) as address:  # it starts Active
            kube.wait_until(
                "risk HALTED",
                lambda: answers(address) and risk_state(address).state == common_pb2.TRADING_STATE_HALTED,
                60,
            )
            wait_confirmed(kube, ns, name, "Halted")
            assert kube.condition(ns, name, "TradingHalted")["reason"] == "HaltedBySpec"
            assert operator.process.poll() is None and operator.process.pid == pid  # no restart needed


def large_desk(name: str, instruments: int = 5_000) -> dict[str, Any]:
    """The largest desk the CRD admits: 5,000 instruments (its maximum) and 512 restricted symbols (its maximum).

    Applied server-side: client-side apply would need a 1+ MB last-applied annotation (the limit is 256 KiB).
    """
    doc = test_desk_document(name)
    listed = doc["spec"]["instruments"]
    sectors = ("technology", "financials", "energy", "healthcare", "staples", "consumer", "industrials")
    extra = [
        {"symbol": f"Z{i:05d}", "tickSize": "0.01", "lotSize": "1", "sector": sectors[i % 7], "referencePrice": "42.5"}
        for i in range(instruments - len(listed))
    ]
    doc["spec"]["instruments"] = listed + extra
    doc["spec"]["risk"]["restrictedSymbols"] = [i["symbol"] for i in extra[:512]]
    return doc


@pytest.mark.timeout(900)  # every write of a 1.25 MB object costs the API server seconds on a loaded machine
def test_the_largest_desk_is_reconciled_once_halted_and_deleted(
    kube: Kubectl, operator: Operator, tmp_path: Path
) -> None:
    ns, name = "td-e2e-large", "ks-large"
    doc = large_desk(name)
    with ready_desk(kube, operator, doc, ns, tmp_path) as address:
        wait_confirmed(kube, ns, name, "Active", timeout=300)

        def halt_written() -> bool:  # a patch the API server timed out on may still have been applied
            return patch(kube, ns, name, {"tradingState": "Halted"}, check=False).ok or (
                kube.desk(ns, name)["spec"]["tradingState"] == "Halted"
            )

        kube.wait_until("the halt written", halt_written, timeout=300, every=5)
        kube.wait_until("risk HALTED", lambda: risk_state(address).state == common_pb2.TRADING_STATE_HALTED, 300)
        wait_confirmed(kube, ns, name, "Halted", timeout=300)

        desk = kube.desk(ns, name)
        annotations = desk["metadata"].get("annotations", {})
        assert sum(len(k) + len(v) for k, v in annotations.items()) < 1024, list(annotations)
        reconciled = [e for e in kube.events(ns, name) if e["reason"] == "Reconciled"]
        # PrometheusRule and ServiceMonitor too when the cluster serves them (an earlier test may have installed
        # the Prometheus Operator's CRDs in this long-lived cluster): the operator renders what the cluster serves
        served = kube.run("api-resources", "--api-group=monitoring.coreos.com", "-o", "name", check=False).out
        owner = Owner(name, desk["metadata"]["uid"])
        children = len(render(parse_desk(doc), ns, owner, "image", prometheus_operator="prometheusrules" in served))
        created = [e for e in reconciled if f"created {children}" in e["message"]]
        assert len(created) == 1 and created[0].get("count", 1) == 1, reconciled  # never handled as a new desk again
        cm = kube.json("get", "configmap", f"{name}-spec", "-n", ns)
        assert len(cm["data"]["desk.yaml"]) < 1024 * 1024

        kube.run("delete", "desk", name, "-n", ns, "--wait=false")
        kube.wait_until("the desk gone", lambda: not kube.run("get", "desk", name, "-n", ns, check=False).ok, 300)


def test_risk_limits_reach_the_running_service_without_restarting_pods(
    kube: Kubectl, operator: Operator, tmp_path: Path
) -> None:
    ns, name = "td-e2e-limits", "ks-limits"
    doc = test_desk_document(name)
    with ready_desk(kube, operator, doc, ns, tmp_path) as address:
        kube.wait_until(
            "the spec's limits confirmed",
            lambda: (lim := status(kube, ns, name).get("riskLimits", {})) and lim["confirmedFor"] == lim["desired"],
            timeout=60,
        )
        before_version = risk_limits(address).version
        before = generations(kube, ns, name)

        patch(kube, ns, name, {"risk": {"maxOrderQuantity": "777", "restrictedSymbols": ["KO"]}})

        def applied() -> bool:
            lim = status(kube, ns, name).get("riskLimits", {})
            return lim.get("confirmedFor") == lim.get("desired") and lim.get("reported") != str(before_version)

        kube.wait_until("the new limits confirmed", applied, timeout=60)
        live = risk_limits(address)
        assert (live.max_order_quantity, list(live.restricted_symbols)) == ("777", ["KO"])
        assert live.version > before_version
        assert status(kube, ns, name)["riskLimits"]["reported"] == str(live.version)
        assert "LimitsApplied" in kube.event_reasons(ns, name)
        kube.wait_ready(ns, name, timeout=60)
        assert generations(kube, ns, name) == before  # no pod restarted: routing and risk took them live
