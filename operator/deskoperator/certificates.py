"""The desk's certificates on Kubernetes: one CA per desk, one certificate per service, renewed before expiry.

The operator keeps the desk's CA in the Secret ``<desk>-tls-ca`` and issues each service a certificate into
``<desk>-<service>-tls`` (``ca.crt``, ``tls.crt``, ``tls.key``: the ``kubernetes.io/tls`` layout), for the
Service's DNS names. A timer renews any certificate with less than a third of ``spec.access.certificateDays``
left. The kubelet updates the mounted files in place and the service serves the new certificate to new
connections without a restart, so live streams carry on. When the cluster has cert-manager's CRDs, the
operator creates a CA ``Issuer`` and a ``Certificate`` per service instead, and cert-manager writes (and
renews) the same Secrets.

The operator dials a desk's risk service with a certificate of its own (``svc:operator``), issued in memory
from the desk's CA and never written anywhere. Prometheus gets a client certificate too, ``svc:prometheus`` (the
scraper role: /metrics only) in ``<desk>-prometheus-tls``, which the desk's ServiceMonitor names; every service
certificate also carries the name Prometheus checks it against (``scrape_server_name``), since it scrapes pod
addresses. Each certificate's expiry is the metric ``tradingdesk_operator_desk_certificate_expiry_timestamp_seconds``
(``service="prometheus"`` for the scraper's).
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import kopf
from cryptography import x509

from deskoperator import metrics
from deskoperator.crd import PLURAL
from deskoperator.kube import Kube, KubeError
from deskoperator.names import API_GROUP, API_VERSION, child_name, labels
from deskoperator.podtls import SCRAPER, scrape_server_name, scraper_secret_name, service_secret_name
from deskoperator.render import Owner
from deskoperator.rpc import Addresses
from tradingdesk.security.channels import ClientCredentials
from tradingdesk.security.identity import SCRAPER_IDENTITY
from tradingdesk.security.pki import LOCAL_HOSTS, CertificateAuthority, Issued, service_identity
from tradingdesk.spec.load import SpecError, parse_desk
from tradingdesk.spec.model import SERVICE_NAMES, TradingDesk

log = logging.getLogger(__name__)

OPERATOR_IDENTITY = service_identity("operator")
EXPIRY_METRIC = "tradingdesk_operator_desk_certificate_expiry_timestamp_seconds"
RENEW_CHECK_S = 600.0
CERT_MANAGER = "/apis/cert-manager.io/v1"
RESOURCES = (("", "secrets"), ("cert-manager.io", "issuers"), ("cert-manager.io", "certificates"))
"""What the operator reads and applies here (``Kube.get_at``/``apply_at``): the chart grants exactly these."""

metrics.HELP[EXPIRY_METRIC] = ("gauge", "When each service certificate of a desk expires (Unix time).")


def ca_secret_name(desk: str) -> str:
    return f"{desk}-tls-ca"


def service_hosts(desk: str, namespace: str, service: str) -> tuple[str, ...]:
    """The names a service is dialled by: its Service's DNS names, the scrape name, loopback for its own probe."""
    name = child_name(desk, service)
    return (
        name,
        f"{name}.{namespace}",
        f"{name}.{namespace}.svc",
        f"{name}.{namespace}.svc.cluster.local",
        scrape_server_name(desk, namespace),
        *LOCAL_HOSTS,
    )


def leaves(desk: TradingDesk, namespace: str) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(label, Secret, common name, hosts) of every certificate the desk's CA issues: one per service (server
    and client), then Prometheus' (client only)."""
    out = [
        (s, service_secret_name(desk.name, s), service_identity(s), service_hosts(desk.name, namespace, s))
        for s in SERVICE_NAMES
    ]
    out.append((SCRAPER, scraper_secret_name(desk.name), SCRAPER_IDENTITY, ()))
    return out


# -- issuing and renewing ----------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(secret: dict[str, Any] | None, key: str) -> bytes | None:
    value = ((secret or {}).get("data") or {}).get(key)
    return base64.b64decode(value) if value else None


def _secret(name: str, namespace: str, owner: Owner, data: dict[str, bytes], service: str | None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels(owner.name, service),
            "ownerReferences": [owner.reference()],
        },
        "data": {k: _b64(v) for k, v in data.items()},
    }


def due(
    cert_pem: bytes | None, ca: CertificateAuthority, hosts: tuple[str, ...], *, days: int, now: dt.datetime
) -> bool:
    """Whether a service certificate must be (re)issued: missing, another CA's, missing a host, or within the
    last third of its life."""
    if not cert_pem:
        return True
    cert = x509.load_pem_x509_certificate(cert_pem)
    if not ca.signed(cert):
        return True
    if cert.not_valid_after_utc - now < dt.timedelta(days=days) / 3:
        return True
    if not hosts:  # a client certificate names no host
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return True
    return not set(hosts) <= set(san.get_values_for_type(x509.DNSName)) | {
        str(ip) for ip in san.get_values_for_type(x509.IPAddress)
    }


def plan(
    desk: TradingDesk,
    namespace: str,
    owner: Owner,
    existing: dict[str, dict[str, Any] | None],
    now: dt.datetime,
) -> tuple[list[dict[str, Any]], dict[str, dt.datetime]]:
    """The Secrets to write (the CA if new, each service certificate that is due) and every service
    certificate's expiry afterwards. ``existing`` maps Secret names to what the API server holds (or None)."""
    days = desk.spec.access.certificate_days
    ca_name = ca_secret_name(desk.name)
    ca_secret = existing.get(ca_name)
    ca_cert, ca_key = _unb64(ca_secret, "tls.crt"), _unb64(ca_secret, "tls.key")
    writes: list[dict[str, Any]] = []
    if ca_cert and ca_key:
        ca = CertificateAuthority(ca_cert, ca_key)
    else:
        ca = CertificateAuthority.create(desk.name)
        data = {"tls.crt": ca.cert_pem, "tls.key": ca.key_pem, "ca.crt": ca.cert_pem}
        writes.append(_secret(ca_name, namespace, owner, data, None))
    expiry: dict[str, dt.datetime] = {}
    for label, name, identity, hosts in leaves(desk, namespace):
        current = _unb64(existing.get(name), "tls.crt")
        if due(current, ca, hosts, days=days, now=now):
            leaf: Issued = ca.issue(identity, hosts=hosts, days=days)
            data = {"ca.crt": ca.cert_pem, "tls.crt": leaf.cert_pem, "tls.key": leaf.key_pem}
            writes.append(_secret(name, namespace, owner, data, label if label in SERVICE_NAMES else None))
            current = leaf.cert_pem
        expiry[label] = x509.load_pem_x509_certificate(current).not_valid_after_utc
    return writes, expiry


def cert_manager_objects(desk: TradingDesk, namespace: str, owner: Owner) -> list[dict[str, Any]]:
    """A CA Issuer over the desk's CA Secret, and a Certificate per service writing the same Secret layout."""
    days = desk.spec.access.certificate_days
    meta = {"namespace": namespace, "labels": labels(owner.name), "ownerReferences": [owner.reference()]}
    issuer = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": {"name": ca_secret_name(desk.name), **meta},
        "spec": {"ca": {"secretName": ca_secret_name(desk.name)}},
    }
    out = [issuer]
    for _label, name, identity, hosts in leaves(desk, namespace):
        names = {
            "dnsNames": [h for h in hosts if not h[0].isdigit() and ":" not in h],
            "ipAddresses": [h for h in hosts if h[0].isdigit() or ":" in h],
        }
        out.append(
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "Certificate",
                "metadata": {"name": name, **meta},
                "spec": {
                    "secretName": name,
                    "commonName": identity,
                    **(names if hosts else {}),
                    "duration": f"{days * 24}h",
                    "renewBefore": f"{days * 8}h",
                    "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                    "usages": ["server auth", "client auth"] if hosts else ["client auth"],
                    "issuerRef": {"name": ca_secret_name(desk.name), "kind": "Issuer", "group": "cert-manager.io"},
                },
            }
        )
    return out


class Certificates:
    """Issues and renews a desk's certificates through the API server, and gives the operator its own."""

    def __init__(self, kube: Kube, addresses: Addresses, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.kube = kube
        self.addresses = addresses
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._lock = threading.Lock()
        self._ca: dict[tuple[str, str], tuple[str, bytes, bytes] | None] = {}
        """(namespace, desk) -> the CA Secret's resourceVersion, the CA's certificate and key, as last read or
        written (None: read, and there is no CA yet). Kept until ``ensure`` reads the Secret at its renewal check
        or writes it, or a call to the desk fails its TLS handshake (``forget_address``: a CA replaced by hand, or
        a desk dialled without TLS because it had no CA): every call to a desk's service needs the CA, and reading
        it for each one (each retry of a delivery to a service that is down) was a sixth of the operator's
        requests once desks were Ready."""
        self._mine: dict[tuple[str, str], tuple[bytes, Issued]] = {}
        self._tls: dict[tuple[str, str], bool] = {}

    def _secret_path(self, namespace: str, name: str = "") -> str:
        return f"/api/v1/namespaces/{quote(namespace)}/secrets" + (f"/{quote(name)}" if name else "")

    def _get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.kube.get_at(self._secret_path(namespace, name))

    def _apply(self, obj: dict[str, Any], url_path: str) -> dict[str, Any]:
        """Server-side apply; the object as the API server now holds it (with its resourceVersion)."""
        return self.kube.apply_at(url_path, obj)

    def _remember_ca(
        self, namespace: str, desk: str, secret: dict[str, Any] | None, *, unless_known: bool = False
    ) -> tuple[bytes, bytes] | None:
        """The CA in ``secret`` (just read, or the API server's answer to writing it), kept with its
        resourceVersion, or that there is none. ``unless_known``: a read made because nothing was kept does not
        replace what another thread kept meanwhile (``ensure`` writing the CA while a delivery read none)."""
        cert, key = _unb64(secret, "tls.crt"), _unb64(secret, "tls.key")
        version = str(((secret or {}).get("metadata") or {}).get("resourceVersion", ""))
        with self._lock:
            if unless_known and (namespace, desk) in self._ca:
                kept = self._ca[(namespace, desk)]
                return (kept[1], kept[2]) if kept is not None else None
            self._ca[(namespace, desk)] = (version, cert, key) if cert and key else None
        return (cert, key) if cert and key else None

    def _desk_ca(self, namespace: str, desk: str) -> tuple[bytes, bytes] | None:
        """The desk's CA certificate and key (None: it has none yet): as last read or written, else read now."""
        with self._lock:
            if (namespace, desk) in self._ca:
                kept = self._ca[(namespace, desk)]
                return (kept[1], kept[2]) if kept is not None else None
        secret = self._get_secret(namespace, ca_secret_name(desk))
        return self._remember_ca(namespace, desk, secret, unless_known=True)

    def forget_address(self, address: str) -> None:
        """A call to ``address`` failed its TLS handshake: the desk's CA may have been replaced, so the next call
        reads the CA Secret again (a thread's callback from ``rpc``)."""
        found = self._desk_of(address)
        if found is not None:
            with self._lock:
                if found in self._ca:
                    del self._ca[found]
                    log.info("%s/%s: TLS handshake failed at %s; reading the desk's CA again", *found, address)

    def forget_desk(self, namespace: str, desk: str) -> None:
        """The desk is gone: nothing of it is kept (a desk made again under its name gets its own CA)."""
        with self._lock:
            for kept in (self._ca, self._mine, self._tls):
                kept.pop((namespace, desk), None)

    def cert_manager(self) -> bool:
        try:
            found = self.kube.get_at(CERT_MANAGER)
        except KubeError:
            return False
        return bool(found) and any(r.get("name") == "certificates" for r in found.get("resources", []))

    def ensure(self, desk: TradingDesk, namespace: str, owner: Owner) -> dict[str, dt.datetime]:
        """Everything the desk's TLS needs exists and is current; returns each service certificate's expiry."""
        self._tls[(namespace, desk.name)] = desk.spec.access.tls
        if not desk.spec.access.tls:
            return {}
        issued = leaves(desk, namespace)
        names = [ca_secret_name(desk.name), *(name for _, name, _, _ in issued)]
        existing = {name: self._get_secret(namespace, name) for name in names}
        self._remember_ca(namespace, desk.name, existing[names[0]])
        if self.cert_manager():
            if existing[names[0]] is None:  # cert-manager's CA issuer needs the CA Secret: the operator makes it
                ca_writes, _ = plan(desk, namespace, owner, {}, self.clock())
                written = self._apply(ca_writes[0], self._secret_path(namespace, names[0]))
                self._remember_ca(namespace, desk.name, written or ca_writes[0])
            for obj in cert_manager_objects(desk, namespace, owner):
                plural = "issuers" if obj["kind"] == "Issuer" else "certificates"
                url = f"{CERT_MANAGER}/namespaces/{quote(namespace)}/{plural}/{quote(obj['metadata']['name'])}"
                self._apply(obj, url)
            expiry = {}
            for label, name, _, _ in issued:
                cert = _unb64(existing[name], "tls.crt")
                if cert:
                    expiry[label] = x509.load_pem_x509_certificate(cert).not_valid_after_utc
        else:
            writes, expiry = plan(desk, namespace, owner, existing, self.clock())
            for obj in writes:
                written = self._apply(obj, self._secret_path(namespace, obj["metadata"]["name"]))
                if obj["metadata"]["name"] == names[0]:
                    self._remember_ca(namespace, desk.name, written or obj)
                log.info("%s/%s: issued %s", namespace, desk.name, obj["metadata"]["name"])
        for service, when in expiry.items():
            self._gauge(namespace, desk.name, service, when.timestamp())
        return expiry

    @staticmethod
    def _gauge(namespace: str, desk: str, service: str, value: float) -> None:
        key = tuple(sorted({"namespace": namespace, "desk": desk, "service": service}.items()))
        with metrics.METRICS._lock:
            metrics.METRICS.counters[EXPIRY_METRIC][key] = value

    def credentials(self, namespace: str, desk: str) -> ClientCredentials | None:
        """The operator's own certificate for a desk (None: that desk runs without TLS, or has no CA yet)."""
        if self._tls.get((namespace, desk)) is False:
            return None
        ca = self._desk_ca(namespace, desk)
        if ca is None:
            return None
        ca_cert, ca_key = ca
        with self._lock:
            cached = self._mine.get((namespace, desk))
            fresh = cached is not None and cached[0] == ca_cert
            if fresh and cached[1].certificate.not_valid_after_utc - self.clock() > dt.timedelta(hours=1):
                issued = cached[1]
            else:
                issued = CertificateAuthority(ca_cert, ca_key).issue(OPERATOR_IDENTITY, days=1)
                self._mine[(namespace, desk)] = (ca_cert, issued)
        return ClientCredentials(pem=(ca_cert, issued.cert_pem, issued.key_pem))

    def _desk_of(self, address: str) -> tuple[str, str] | None:
        """Which desk an address belongs to (the operator's address template or overrides)."""
        for key, override in self.addresses.overrides:
            if override == address:
                namespace, desk, _service = key.split("/", 2)
                return namespace, desk
        for namespace, desk in list(self._tls):
            for service in SERVICE_NAMES:
                if self.addresses.of(namespace, desk, service, 0).split(":")[0] == address.rsplit(":", 1)[0]:
                    return namespace, desk
        return None

    def for_address(self, address: str) -> ClientCredentials | None:
        """The credentials to dial ``address`` with: the operator's own for the desk it belongs to."""
        found = self._desk_of(address)
        return self.credentials(*found) if found is not None else None


# -- kopf wiring -------------------------------------------------------------------------------------------------


@kopf.timer(API_GROUP, API_VERSION, PLURAL, interval=RENEW_CHECK_S)
def renew_certificates(body: kopf.Body, meta: kopf.Meta, memo: kopf.Memo, **_: Any) -> None:
    """Issue a desk's certificates at once, and renew them before they expire."""
    certificates: Certificates | None = getattr(memo, "certificates", None)
    if certificates is None:
        return
    try:
        desk = parse_desk({k: body[k] for k in body})
    except SpecError:
        return  # the create/update handler reports an invalid spec
    certificates.ensure(desk, meta["namespace"], Owner(meta["name"], meta["uid"]))
