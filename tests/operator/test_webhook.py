"""The validating webhook's decision function: the model's own rules, with the field named."""

from __future__ import annotations

import copy
import subprocess

from deskoperator.webhook import problems, review, self_signed
from tests.operator.helpers import example_document, minimal_document


def test_valid_desks_pass() -> None:
    assert problems(example_document()) == []
    assert problems(minimal_document()) == []


def test_rules_cel_cannot_state_are_named_by_field() -> None:
    doc = example_document()
    doc["spec"]["venues"][0]["symbols"] = ["TSLA"]
    doc["spec"]["services"] = {"risk": {"port": 50051}, "feeds": {"resources": {"cpu": "lots"}}}
    found = problems(doc)
    assert "spec.venues[0].symbols[0]: 'TSLA' is not an instrument of the desk" in found
    assert "spec.services[].port: must be distinct, repeated: 50051" in found
    doc["spec"]["services"] = {"feeds": {"resources": {"cpu": "lots"}}}
    doc["spec"]["venues"][0]["symbols"] = []
    assert problems(doc) == ["spec.services.feeds.resources.cpu: 'lots' is not a Kubernetes quantity"]


def test_the_outage_spool_is_refused_on_kubernetes_with_one_routing_replica_or_two() -> None:
    """The model allows it (the embedded desk's standby shares the spool's disk); pods share none."""
    for replicas in (1, 2):
        doc = example_document()
        doc["spec"]["routing"] = {**doc["spec"].get("routing", {}), "outageSpool": True}
        doc["spec"]["services"] = {"routing": {"replicas": replicas}}
        found = problems(doc)
        assert [p for p in found if p.startswith("spec.routing.outageSpool: not yet on Kubernetes")] == found, found
        assert len(found) == 1


def test_names_must_fit_service_names() -> None:
    doc = minimal_document("9" + "a" * 60)
    found = problems(doc)
    assert any(p.startswith("metadata.name: at most 52") for p in found)
    assert any(p.startswith("metadata.name: must start with a letter") for p in found)


def test_review_lets_metadata_only_updates_and_deletions_through() -> None:
    bad = example_document()
    bad["spec"]["routing"]["defaultVenue"] = "nowhere"
    assert review("CREATE", bad, None)
    assert review("UPDATE", bad, example_document())
    assert review("UPDATE", bad, copy.deepcopy(bad)) == []  # e.g. kopf removing its finalizer
    deleting = copy.deepcopy(bad)
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert review("UPDATE", deleting, example_document()) == []
    assert review("DELETE", bad, None) == []


def test_self_signed_certificate_names_the_host(tmp_path) -> None:
    cert, key = self_signed("127.0.0.1", tmp_path)
    text = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-text"], capture_output=True, text=True)
    assert "IP Address:127.0.0.1" in text.stdout
    assert key.read_text().startswith("-----BEGIN")
