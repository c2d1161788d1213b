"""The operator's certificates for a desk: what it issues, when it renews, what cert-manager gets."""

from __future__ import annotations

import base64
import datetime as dt

from cryptography import x509

from deskoperator.certificates import cert_manager_objects, plan, service_hosts
from deskoperator.podtls import service_secret_name
from deskoperator.render import Owner
from tests.operator.helpers import example_document
from tradingdesk.security.pki import common_name
from tradingdesk.spec.load import parse_desk
from tradingdesk.spec.model import SERVICE_NAMES

NS = "trading"
OWNER = Owner("us-equities", "uid-1")
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def desk(days: int = 30):
    doc = example_document()
    doc["spec"]["access"]["certificateDays"] = days
    return parse_desk(doc)


def as_existing(secrets: list[dict]) -> dict[str, dict]:
    return {s["metadata"]["name"]: s for s in secrets}


def cert_of(secret: dict) -> x509.Certificate:
    return x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))


def test_first_time_a_ca_and_a_certificate_per_service() -> None:
    writes, expiry = plan(desk(), NS, OWNER, {}, NOW)
    names = [s["metadata"]["name"] for s in writes]
    assert names == [
        "us-equities-tls-ca",
        *(service_secret_name("us-equities", s) for s in SERVICE_NAMES),
        "us-equities-prometheus-tls",
    ]
    for secret in writes:
        assert secret["type"] == "kubernetes.io/tls"
        assert secret["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
        assert set(secret["data"]) == {"ca.crt", "tls.crt", "tls.key"}
    risk = as_existing(writes)["us-equities-risk-tls"]
    assert common_name(base64.b64decode(risk["data"]["tls.crt"])) == "svc:risk"
    san = cert_of(risk).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "us-equities-risk.trading.svc" in san.get_values_for_type(x509.DNSName)
    assert "us-equities-metrics.trading.svc" in san.get_values_for_type(x509.DNSName)  # Prometheus checks it
    assert set(expiry) == {*SERVICE_NAMES, "prometheus"}
    scraper = as_existing(writes)["us-equities-prometheus-tls"]
    assert common_name(base64.b64decode(scraper["data"]["tls.crt"])) == "svc:prometheus"
    usage = cert_of(scraper).extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]  # a client only


def test_fresh_certificates_are_kept_and_due_ones_renewed() -> None:
    writes, first = plan(desk(), NS, OWNER, {}, NOW)
    existing = as_existing(writes)
    again, same = plan(desk(), NS, OWNER, existing, NOW + dt.timedelta(days=5))
    assert again == [] and same == first
    # within the last third of a 30-day life: every service renewed, the CA kept
    renewed, later = plan(desk(), NS, OWNER, existing, dt.datetime.now(dt.UTC) + dt.timedelta(days=21))
    assert [s["metadata"]["name"] for s in renewed] == [
        *(service_secret_name("us-equities", s) for s in SERVICE_NAMES),
        "us-equities-prometheus-tls",
    ]
    ca = base64.b64decode(existing["us-equities-tls-ca"]["data"]["tls.crt"])
    assert all(base64.b64decode(s["data"]["ca.crt"]) == ca for s in renewed)
    old = {name: cert_of(existing[name]).serial_number for name in (s["metadata"]["name"] for s in renewed)}
    assert all(cert_of(s).serial_number != old[s["metadata"]["name"]] for s in renewed)
    assert set(later) == {*SERVICE_NAMES, "prometheus"}


def test_a_certificate_missing_a_name_or_from_another_ca_is_reissued() -> None:
    writes, _ = plan(desk(), NS, OWNER, {}, NOW)
    existing = as_existing(writes)
    moved, _ = plan(desk(), "elsewhere", OWNER, existing, NOW)  # new namespace: new DNS names
    assert len(moved) == len(SERVICE_NAMES)  # Prometheus' client certificate names no host: kept
    other_ca, _ = plan(desk(), NS, OWNER, {}, NOW)
    existing["us-equities-feeds-tls"] = as_existing(other_ca)["us-equities-feeds-tls"]
    fixed, _ = plan(desk(), NS, OWNER, existing, NOW)
    assert [s["metadata"]["name"] for s in fixed] == ["us-equities-feeds-tls"]


def test_cert_manager_gets_an_issuer_and_a_certificate_per_service() -> None:
    objects = cert_manager_objects(desk(days=30), NS, OWNER)
    issuer, *certs = objects
    assert issuer["kind"] == "Issuer" and issuer["spec"] == {"ca": {"secretName": "us-equities-tls-ca"}}
    assert [c["spec"]["secretName"] for c in certs] == [
        *(service_secret_name("us-equities", s) for s in SERVICE_NAMES),
        "us-equities-prometheus-tls",
    ]
    routing = certs[1]["spec"]
    assert routing["commonName"] == "svc:routing"
    assert routing["dnsNames"] == [*service_hosts("us-equities", NS, "routing")[:5], "localhost"]
    assert routing["ipAddresses"] == ["127.0.0.1", "::1"]
    assert (routing["duration"], routing["renewBefore"]) == ("720h", "240h")
    assert routing["usages"] == ["server auth", "client auth"]
    scraper = certs[-1]["spec"]
    assert scraper["commonName"] == "svc:prometheus" and scraper["usages"] == ["client auth"]
    assert "dnsNames" not in scraper and "ipAddresses" not in scraper
