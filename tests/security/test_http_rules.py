"""The rules of the HTTP doors besides the kill switch, Prometheus' narrow identity, browser sessions, and the
scrape configuration Prometheus is given for a desk whose TLS is on."""

from __future__ import annotations

from types import SimpleNamespace

from tests.desk_runner import EXAMPLE
from tradingdesk.monitoring.dashboard import build_app
from tradingdesk.security.identity import SCRAPER_IDENTITY, Identity, resolve, role_refusal
from tradingdesk.security.policy import DASHBOARD_HTTP_RULES, METRICS_HTTP_RULES, RPC_RULES, SCRAPER
from tradingdesk.security.sessions import Sessions
from tradingdesk.spec.access import AccessSpec
from tradingdesk.spec.alerting import prometheus_config, scrape_tls
from tradingdesk.spec.load import load_desk
from tradingdesk.telemetry.metrics_http import PATH

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
