"""The operator issues a desk's certificates on a real API server: Secrets per service, the expiry metric,
and cert-manager objects instead when cert-manager's CRDs are installed."""

from __future__ import annotations

import base64
import json
import re
import urllib.request
from concurrent import futures

import grpc
import pytest
import yaml
from cryptography import x509
from grpc_health.v1 import health, health_pb2_grpc
from kubernetes import client, config

from deskoperator import rpc
from deskoperator.certificates import Certificates, ca_secret_name
from deskoperator.kube import Kube
from deskoperator.render import Owner
from deskoperator.rpc import Addresses
from tests.operator.helpers import test_desk_document
from tests.operator.kubectl import Kubectl
from tests.operator.process import Operator
from tradingdesk.security import channels
from tradingdesk.security.pki import LOCAL_HOSTS, CertificateAuthority, common_name, service_identity
from tradingdesk.spec.load import parse_desk
from tradingdesk.spec.model import SERVICE_NAMES

pytestmark = [pytest.mark.slow, pytest.mark.k8s]
DESK = "tls-desk"


def secret(kube: Kubectl, namespace: str, name: str) -> dict | None:
    found = kube.run("get", "secret", name, "-n", namespace, "-o", "json", check=False)
    return json.loads(found.out) if found.ok else None


def test_a_certificate_per_service_and_the_expiry_metric(kube: Kubectl, operator: Operator, namespace: str) -> None:
    kube.apply(test_desk_document(DESK), namespace)
    names = [f"{DESK}-{s}-tls" for s in SERVICE_NAMES]
    kube.wait_until("every service certificate", lambda: all(secret(kube, namespace, n) for n in names), 60)
    scraper = secret(kube, namespace, f"{DESK}-prometheus-tls")  # Prometheus' client certificate, issued with them
    assert scraper is not None and scraper["type"] == "kubernetes.io/tls"
    assert common_name(base64.b64decode(scraper["data"]["tls.crt"])) == "svc:prometheus"
    ca = secret(kube, namespace, f"{DESK}-tls-ca")
    assert ca is not None and ca["type"] == "kubernetes.io/tls"
    risk = secret(kube, namespace, f"{DESK}-risk-tls")
    assert risk["metadata"]["ownerReferences"][0]["name"] == DESK
    cert = x509.load_pem_x509_certificate(base64.b64decode(risk["data"]["tls.crt"]))
    dns = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert f"{DESK}-risk.{namespace}.svc" in dns

    deployment = kube.json("get", "deployment", f"{DESK}-risk", "-n", namespace)
    pod = deployment["spec"]["template"]["spec"]
    assert {"name": "tls", "secret": {"secretName": f"{DESK}-risk-tls", "defaultMode": 0o440}} in pod["volumes"]

    def expiry() -> float | None:
        with urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics_port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        pattern = (
            r'tradingdesk_operator_desk_certificate_expiry_timestamp_seconds\{desk="tls-desk",'
            rf'namespace="{namespace}",service="risk"\}} (\S+)'
        )
        found = re.search(pattern, text)
        return float(found.group(1)) if found else None

    assert kube.wait_until("the expiry metric", expiry, 30) == cert.not_valid_after_utc.timestamp()
    # no key in the desk's status, its Events, the ConfigMap the pods read, or the operator's log
    config = kube.json("get", "configmap", f"{DESK}-spec", "-n", namespace)
    seen = json.dumps([kube.desk(namespace, DESK), kube.events(namespace, DESK), config]) + operator.log_text()
    for name in (f"{DESK}-tls-ca", f"{DESK}-risk-tls"):
        key = base64.b64decode(secret(kube, namespace, name)["data"]["tls.key"]).decode()
        assert all(line not in seen for line in key.splitlines()[1:-1]), name
    assert "PRIVATE KEY" not in seen


CERT_MANAGER_CRDS = [
    {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.cert-manager.io"},
        "spec": {
            "group": "cert-manager.io",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }
    for kind, plural in (("Certificate", "certificates"), ("Issuer", "issuers"))
]


def test_cert_manager_certificates_when_its_crds_exist(kube: Kubectl, operator: Operator, namespace: str) -> None:
    """Only the CRDs (no cert-manager controller runs here): the operator's side of the contract."""
    crds = yaml.safe_dump_all(CERT_MANAGER_CRDS)
    kube.run("apply", "-f", "-", stdin=crds)
    try:
        for name in ("certificates", "issuers"):
            kube.run("wait", "--for=condition=Established", f"crd/{name}.cert-manager.io", "--timeout=60s")
        kube.apply(test_desk_document(DESK), namespace)

        def certificates() -> list[dict] | None:
            found = kube.json("get", "certificates.cert-manager.io", "-n", namespace)["items"]
            return found if len(found) == len(SERVICE_NAMES) + 1 else None

        certs = kube.wait_until("a Certificate per service, and Prometheus'", certificates, 60)
        by_secret = {c["spec"]["secretName"]: c["spec"] for c in certs}
        assert set(by_secret) == {f"{DESK}-{s}-tls" for s in [*SERVICE_NAMES, "prometheus"]}
        assert by_secret[f"{DESK}-routing-tls"]["issuerRef"]["name"] == f"{DESK}-tls-ca"
        issuer = kube.json("get", "issuers.cert-manager.io", f"{DESK}-tls-ca", "-n", namespace)
        assert issuer["spec"] == {"ca": {"secretName": f"{DESK}-tls-ca"}}
        assert secret(kube, namespace, f"{DESK}-tls-ca") is not None  # the CA the Issuer signs with
        assert secret(kube, namespace, f"{DESK}-routing-tls") is None  # cert-manager's to write, not ours
    finally:
        kube.run("delete", "desk", "--all", "-n", namespace, "--timeout=60s", check=False)
        kube.run("delete", "-f", "-", "--wait=true", stdin=crds, check=False)


class CountingKube(Kube):
    """The operator's API client, counting the objects it reads (each one is a request to the API server)."""

    def __init__(self, api) -> None:
        super().__init__(api)
        self.reads: list[str] = []

    def get_at(self, url_path: str):
        self.reads.append(url_path)
        return super().get_at(url_path)


def test_a_desks_ca_is_read_once_and_read_again_when_a_handshake_fails(kube: Kubectl, namespace: str) -> None:
    """Every call to a desk's service needs its CA (each retry of a delivery to a service that is down too): it is
    read from the API server once, then again only when a call fails its TLS handshake (a CA replaced by hand), or
    taken from what the renewal check reads anyway."""

    def put_ca(ca: CertificateAuthority) -> None:
        data = {"tls.crt": ca.cert_pem, "tls.key": ca.key_pem}
        obj = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": ca_secret_name(DESK), "namespace": namespace},
            "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
        }
        kube.run("apply", "--server-side", "--force-conflicts", "-f", "-", stdin=json.dumps(obj))

    first, second, third = (CertificateAuthority.create(DESK) for _ in range(3))
    put_ca(first)
    server, port = risk_service(second)  # already serving under the CA that is about to replace the first
    api_config = client.Configuration()
    config.load_kube_config(config_file=str(kube.kubeconfig), client_configuration=api_config)
    counting = CountingKube(client.ApiClient(api_config))
    address = f"127.0.0.1:{port}"
    certs = Certificates(counting, Addresses(overrides=((f"{namespace}/{DESK}/risk", address),)))
    channels.use_resolver(certs.for_address)
    rpc.on_handshake_failure(certs.forget_address)
    try:
        for _ in range(20):  # twenty failed deliveries: one read
            assert certs.credentials(namespace, DESK).pem[0] == first.cert_pem
        assert len(counting.reads) == 1

        put_ca(second)  # replaced by hand: the CA in hand still serves until a handshake says otherwise
        with pytest.raises(rpc.DeliveryError, match="handshake"):
            rpc.get_trading_state(address, timeout=5)  # the service's certificate is not from the first CA
        assert len(counting.reads) == 1
        with pytest.raises(rpc.DeliveryError, match="UNIMPLEMENTED"):  # past TLS: a health server, no RiskService
            rpc.get_trading_state(address, timeout=5)
        assert len(counting.reads) == 2
        creds = certs.credentials(namespace, DESK)
        assert creds.pem[0] == second.cert_pem and len(counting.reads) == 2
        x509.load_pem_x509_certificate(creds.pem[1]).verify_directly_issued_by(second.cert)  # the operator's own

        put_ca(third)  # the renewal check reads every Secret of the desk anyway: the new version replaces the CA
        certs.ensure(parse_desk(test_desk_document(DESK)), namespace, Owner(DESK, "uid-tls"))
        reads = len(counting.reads)
        assert certs.credentials(namespace, DESK).pem[0] == third.cert_pem and len(counting.reads) == reads
    finally:
        channels.use_resolver(None)
        rpc.on_handshake_failure(None)
        server.stop(None)


def test_a_desk_without_a_ca_yet_costs_one_read_until_its_ca_is_written(kube: Kubectl, namespace: str) -> None:
    """Deliveries start before the renewal timer writes a new desk's CA: that there is none is read once, and the
    CA the timer writes is used from its own write, not read back."""
    api_config = client.Configuration()
    config.load_kube_config(config_file=str(kube.kubeconfig), client_configuration=api_config)
    counting = CountingKube(client.ApiClient(api_config))
    certs = Certificates(counting, Addresses())
    ca_path = f"/api/v1/namespaces/{namespace}/secrets/{ca_secret_name(DESK)}"
    for _ in range(10):
        assert certs.credentials(namespace, DESK) is None
    assert counting.reads == [ca_path]
    certs.ensure(parse_desk(test_desk_document(DESK)), namespace, Owner(DESK, "uid-tls"))
    reads = len(counting.reads)  # the renewal check reads every Secret of the desk
    creds = certs.credentials(namespace, DESK)  # (the CA Secret itself may be gone: its owner "uid-tls" is not)
    assert creds is not None and common_name(creds.pem[1]) == "svc:operator"
    x509.load_pem_x509_certificate(creds.pem[1]).verify_directly_issued_by(x509.load_pem_x509_certificate(creds.pem[0]))
    assert len(counting.reads) == reads


def risk_service(ca: CertificateAuthority) -> tuple[grpc.Server, int]:
    """A server with a risk service's certificate from ``ca``, asking for a client certificate from ``ca``: only
    the health service behind it, enough to tell a TLS failure from a call that got through."""
    leaf = ca.issue(service_identity("risk"), hosts=LOCAL_HOSTS, days=1)
    credentials = grpc.ssl_server_credentials(
        [(leaf.key_pem, leaf.cert_pem)], root_certificates=ca.cert_pem, require_client_auth=True
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    return server, port
