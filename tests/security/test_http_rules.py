"""The rules of the HTTP doors besides the kill switch, Prometheus' narrow identity, browser sessions, the scrape
configuration Prometheus is given for a desk whose TLS is on, and an HTTPS certificate renewed under a running
server."""

from __future__ import annotations

import os
import ssl
import time
from pathlib import Path
from types import SimpleNamespace

from cryptography import x509
from prometheus_client import CollectorRegistry

from tests.desk_runner import EXAMPLE
from tradingdesk.monitoring.dashboard import build_app
from tradingdesk.security.identity import SCRAPER_IDENTITY, Identity, resolve, role_refusal
from tradingdesk.security.pki import CertificateAuthority
from tradingdesk.security.policy import DASHBOARD_HTTP_RULES, METRICS_HTTP_RULES, RPC_RULES, SCRAPER
from tradingdesk.security.sessions import Sessions
from tradingdesk.security.tls import TlsFiles
from tradingdesk.spec.access import AccessSpec
from tradingdesk.spec.alerting import prometheus_config, scrape_tls
from tradingdesk.spec.load import load_desk
from tradingdesk.telemetry.metrics_http import PATH, serve_metrics

OPS = Identity("olga", frozenset({"operations"}))


def test_every_dashboard_route_has_a_rule() -> None:
    app = build_app(SimpleNamespace(desk=SimpleNamespace(name="d")))  # only its routes are read
    routes = {(m, r.path) for r in app.routes for m in getattr(r, "methods", ()) if r.path != "/healthz"}
    assert routes == set(DASHBOARD_HTTP_RULES)
    assert set(METRICS_HTTP_RULES) == {("GET", PATH)}


def test_prometheus_reads_metrics_and_nothing_else() -> None:
    scraper = resolve(SCRAPER_IDENTITY, AccessSpec(), via="certificate")
    assert scraper is not None and scraper.roles == {SCRAPER}
    assert role_refusal(scraper, METRICS_HTTP_RULES[("GET", "/metrics")], "GET /metrics") is None
    assert not [name for name, rule in RPC_RULES.items() if SCRAPER in rule.roles]
    assert role_refusal(scraper, DASHBOARD_HTTP_RULES[("GET", "/")], "GET /") == (
        "svc:prometheus (roles: scraper) may not call GET /: it needs one of the roles auditor, operations, "
        "risk_officer"
    )
    assert resolve(SCRAPER_IDENTITY, AccessSpec(), via="token") is None  # only the desk's CA can name it
    assert resolve("svc:monitoring", AccessSpec(), via="certificate").roles == {"service"}


def test_a_session_is_its_identity_until_it_ends() -> None:
    now = [1000.0]
    sessions = Sessions(lifetime_s=60, now=lambda: now[0])
    first = sessions.open(OPS)
    assert sessions.identity(first) == OPS and sessions.identity("made-up") is None and sessions.identity(None) is None
    assert len(first) >= 43 and sessions.open(OPS) != first  # 256 random bits each
    cookie = sessions.cookie(first)
    assert cookie.startswith(f"td_session={first}; ") and cookie.endswith("HttpOnly; Secure; SameSite=Strict")
    now[0] += 60
    assert sessions.identity(first) is None


def test_the_scrape_job_of_a_desk_with_tls_speaks_https_with_prometheus_certificate() -> None:
    desk = load_desk(EXAMPLE)
    tls = scrape_tls(ca_file="/t/ca.crt", cert_file="/t/p.crt", key_file="/t/p.key")
    job = prometheus_config(desk, rule_files=[], alertmanager=None, tls=tls)["scrape_configs"][0]
    assert job["scheme"] == "https"
    assert job["tls_config"] == {"ca_file": "/t/ca.crt", "cert_file": "/t/p.crt", "key_file": "/t/p.key"}
    plain = prometheus_config(desk, rule_files=[], alertmanager=None)["scrape_configs"][0]
    assert "scheme" not in plain and "tls_config" not in plain


def test_a_renewed_certificate_is_served_over_https_at_the_next_handshake(tmp_path: Path) -> None:
    ca = CertificateAuthority.create("rotation")
    files = TlsFiles(tmp_path / "ca.crt", tmp_path / "tls.crt", tmp_path / "tls.key")
    files.ca.write_bytes(ca.cert_pem)

    def issue() -> int:
        leaf = ca.issue("svc:routing", hosts=("127.0.0.1",), days=30)
        files.cert.write_bytes(leaf.cert_pem)
        files.key.write_bytes(leaf.key_pem)
        return leaf.certificate.serial_number

    first = issue()
    server, thread = serve_metrics(CollectorRegistry(), "127.0.0.1", 0, tls=files, access=None)
    try:
        address = server.server_address[:2]

        def served() -> int:  # no SNI: the client dials an IP address
            pem = ssl.get_server_certificate(address, ca_certs=str(files.ca))
            return x509.load_pem_x509_certificate(pem.encode()).serial_number

        assert served() == first
        second = issue()
        os.utime(files.cert, ns=(time.time_ns(), files.cert.stat().st_mtime_ns + 1_000_000))
        assert served() == second != first
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
