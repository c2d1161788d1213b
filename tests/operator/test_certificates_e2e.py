"""The operator issues a desk's certificates on a real API server: Secrets per service, the expiry metric,
and cert-manager objects instead when cert-manager's CRDs are installed."""

from __future__ import annotations

import base64
import json
import re
import urllib.request

import pytest
import yaml
from cryptography import x509
from kubernetes import client, config

from deskoperator.certificates import CA_REREAD_S, Certificates, ca_secret_name
from deskoperator.kube import Kube
from deskoperator.rpc import Addresses
from tests.operator.helpers import test_desk_document
from tests.operator.kubectl import Kubectl
from tests.operator.process import Operator
from tradingdesk.security.pki import CertificateAuthority, common_name
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


def test_a_desks_ca_is_read_once_per_window_and_a_replaced_one_is_seen(kube: Kubectl, namespace: str) -> None:
    """Every call to a desk's service needs its CA: it is read from the API server at most once per
    ``CA_REREAD_S``, and a CA replaced by hand is used once that window has passed."""

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

    first, second = CertificateAuthority.create(DESK), CertificateAuthority.create(DESK)
    put_ca(first)
    api_config = client.Configuration()
    config.load_kube_config(config_file=str(kube.kubeconfig), client_configuration=api_config)
    counting = CountingKube(client.ApiClient(api_config))
    now = [0.0]
    certs = Certificates(counting, Addresses(), monotonic=lambda: now[0])

    for _ in range(20):
        assert certs.credentials(namespace, DESK).pem[0] == first.cert_pem
    assert len(counting.reads) == 1

    put_ca(second)  # replaced by hand: the operator goes on with the CA it read until the window ends
    now[0] += CA_REREAD_S - 1
    assert certs.credentials(namespace, DESK).pem[0] == first.cert_pem
    now[0] += 1
    creds = certs.credentials(namespace, DESK)
    assert creds.pem[0] == second.cert_pem and len(counting.reads) == 2
    issued = x509.load_pem_x509_certificate(creds.pem[1])  # the operator's certificate, from the new CA
    issued.verify_directly_issued_by(second.cert)
