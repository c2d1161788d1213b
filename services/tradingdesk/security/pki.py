"""The desk's certificate authority and the certificates it issues (``cryptography``).

One CA per desk: every service certificate and every client certificate of the desk is signed by it, and a
service trusts nothing else. Keys are ECDSA P-256 (fast handshakes, small certificates), written with mode
0600. A certificate's common name is its identity: ``svc:<service>`` for the desk's own services and the
operator, the identity's name from ``spec.access.identities`` for people and programs.

The embedded runtime keeps the CA under ``<dataDir>/<desk>/tls`` (created on the first ``tradingdesk up``,
reused after); on Kubernetes the operator keeps it in a Secret and issues each service's into its own.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tradingdesk.spec.access import SERVICE_PREFIX

CA_DAYS = 3_650
ORGANIZATION = "tradingdesk"


@dataclass(frozen=True, slots=True)
class Issued:
    """A certificate and its private key, PEM-encoded."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def not_after(cert_pem: bytes) -> dt.datetime:
    """When a PEM certificate expires (UTC)."""
    return x509.load_pem_x509_certificate(cert_pem).not_valid_after_utc


def common_name(cert_pem: bytes) -> str:
    attrs = x509.load_pem_x509_certificate(cert_pem).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else ""


class CertificateAuthority:
    """Signs the desk's certificates. Holds the CA key in memory only while issuing."""

    def __init__(self, cert_pem: bytes, key_pem: bytes) -> None:
        self.cert_pem = cert_pem
        self.cert = x509.load_pem_x509_certificate(cert_pem)
        self._key = serialization.load_pem_private_key(key_pem, password=None)
        self.key_pem = key_pem

    @classmethod
    def create(cls, desk: str, *, days: int = CA_DAYS) -> CertificateAuthority:
        key = _new_key()
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{desk} desk CA"),
            ]
        )
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))

    def signed(self, cert: x509.Certificate) -> bool:
        """Whether this CA signed ``cert`` (by signature, not by name: every desk's CA has a similar name)."""
        try:
            cert.verify_directly_issued_by(self.cert)
        except (ValueError, TypeError, InvalidSignature):
            return False
        return True

    def issue(self, identity: str, *, hosts: tuple[str, ...] = (), days: int = 30) -> Issued:
        """A leaf certificate for ``identity``: a client certificate, and also a server certificate for
        ``hosts`` (DNS names or IP addresses) when any are given."""
        if not identity or len(identity) > 64:
            raise ValueError(f"a certificate identity is 1 to 64 characters, got {identity!r}")
        key = _new_key()
        now = _now()
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
        if hosts:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        builder = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                        x509.NameAttribute(NameOID.COMMON_NAME, identity),
                    ]
                )
            )
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(min(now + dt.timedelta(days=days), self.cert.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.cert.public_key()),  # type: ignore[arg-type]
                critical=False,
            )
        )
        if hosts:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([_san(h) for h in dict.fromkeys(hosts)]), critical=False
            )
        cert = builder.sign(self._key, hashes.SHA256())  # type: ignore[arg-type]
        return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def service_identity(service: str) -> str:
    return f"{SERVICE_PREFIX}{service}"


LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def _write(path: Path, data: bytes, *, private: bool) -> None:
    """Write atomically (a reader never sees half a key) with the mode set before any byte lands."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class LocalPki:
    """The embedded runtime's CA and certificates on disk::

    <dir>/ca.crt, ca.key                      the desk CA
    <dir>/services/<service>.crt, .key        one per service (server and client)
    <dir>/clients/<identity>.crt, .key        one per identity of spec.access with certificate: true
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def ca_path(self) -> Path:
        return self.directory / "ca.crt"

    def service_paths(self, service: str) -> tuple[Path, Path]:
        return self.directory / "services" / f"{service}.crt", self.directory / "services" / f"{service}.key"

    def client_paths(self, identity: str) -> tuple[Path, Path]:
        return self.directory / "clients" / f"{identity}.crt", self.directory / "clients" / f"{identity}.key"

    def authority(self, desk: str) -> CertificateAuthority:
        """The desk's CA, created on first use."""
        key_path = self.directory / "ca.key"
        if self.ca_path.exists() and key_path.exists():
            return CertificateAuthority(self.ca_path.read_bytes(), key_path.read_bytes())
        ca = CertificateAuthority.create(desk)
        _write(key_path, ca.key_pem, private=True)
        _write(self.ca_path, ca.cert_pem, private=False)
        return ca

    def ensure(
        self,
        desk: str,
        *,
        services: dict[str, tuple[str, ...]],
        clients: tuple[str, ...] = (),
        days: int = 30,
        renew_before: dt.timedelta | None = None,
    ) -> list[str]:
        """Issue what is missing or due: a certificate per service (for its hosts) and per client identity.
        Returns the names issued. Certificates with more than ``renew_before`` (a third of ``days`` by default)
        left are reused."""
        ca = self.authority(desk)
        margin = renew_before if renew_before is not None else dt.timedelta(days=days) / 3
        issued: list[str] = []
        wanted = [(service_identity(s), self.service_paths(s), hosts) for s, hosts in services.items()]
        wanted += [(c, self.client_paths(c), ()) for c in clients]
        for identity, (crt, key), hosts in wanted:
            if crt.exists() and key.exists() and self._fresh(crt.read_bytes(), ca, hosts, margin):
                continue
            leaf = ca.issue(identity, hosts=hosts, days=days)
            _write(key, leaf.key_pem, private=True)
            _write(crt, leaf.cert_pem, private=False)
            issued.append(identity)
        return issued

    @staticmethod
    def _fresh(cert_pem: bytes, ca: CertificateAuthority, hosts: tuple[str, ...], margin: dt.timedelta) -> bool:
        cert = x509.load_pem_x509_certificate(cert_pem)
        if not ca.signed(cert) or cert.not_valid_after_utc - _now() < margin:
            return False
        if not hosts:
            return True
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return False
        return {_san(h) for h in hosts} <= set(san)
