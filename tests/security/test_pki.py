"""The desk CA and its certificates: created once, reused, renewed when due, keys private, SANs right, and a
server that trusts only its own CA."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

from cryptography import x509

from tradingdesk.security.pki import CertificateAuthority, LocalPki, common_name, not_after


def test_ca_is_created_once_and_reused(tmp_path: Path) -> None:
    pki = LocalPki(tmp_path / "tls")
    issued = pki.ensure("d", services={"routing": ("localhost", "127.0.0.1")}, clients=("alice",))
    assert issued == ["svc:routing", "alice"]
    ca_before = pki.ca_path.read_bytes()
    assert pki.ensure("d", services={"routing": ("localhost", "127.0.0.1")}, clients=("alice",)) == []
    assert pki.ca_path.read_bytes() == ca_before
    for key in (tmp_path / "tls" / "ca.key", pki.service_paths("routing")[1], pki.client_paths("alice")[1]):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key


def test_certificates_name_their_identity_and_hosts(tmp_path: Path) -> None:
    pki = LocalPki(tmp_path)
    pki.ensure("d", services={"risk": ("localhost", "127.0.0.1", "risk.ns.svc")}, clients=("bob",))
    cert_pem = pki.service_paths("risk")[0].read_bytes()
    assert common_name(cert_pem) == "svc:risk"
    san = x509.load_pem_x509_certificate(cert_pem).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.DNSName) == ["localhost", "risk.ns.svc"]
    client = x509.load_pem_x509_certificate(pki.client_paths("bob")[0].read_bytes())
    eku = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert [u.dotted_string for u in eku] == ["1.3.6.1.5.5.7.3.2"]  # client auth only: never a server


def test_a_new_host_or_a_short_life_left_reissues(tmp_path: Path) -> None:
    pki = LocalPki(tmp_path)
    pki.ensure("d", services={"feeds": ("localhost",)}, days=30)
    assert pki.ensure("d", services={"feeds": ("localhost", "10.0.0.7")}, days=30) == ["svc:feeds"]
    assert pki.ensure("d", services={"feeds": ("localhost",)}, days=30, renew_before=dt.timedelta(days=31)) == [
        "svc:feeds"
    ]
    left = not_after(pki.service_paths("feeds")[0].read_bytes()) - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=29) < left <= dt.timedelta(days=30)


def test_a_certificate_of_another_ca_is_reissued(tmp_path: Path) -> None:
    pki = LocalPki(tmp_path)
    pki.ensure("d", services={}, clients=("alice",))
    other = CertificateAuthority.create("other").issue("alice")
    pki.client_paths("alice")[0].write_bytes(other.cert_pem)
    assert pki.ensure("d", services={}, clients=("alice",)) == ["alice"]
