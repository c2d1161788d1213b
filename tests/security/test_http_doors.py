"""The desk's HTTP doors (each service's /metrics, the monitoring dashboard, the risk service's kill switch) on a
running embedded desk: HTTPS with the service's certificate, no answer without a client certificate of the
desk's CA or a bearer token of a role allowed the route, every refusal in the access log and the audit trail, a
browser session opened by a token, and plaintext refused. With ``spec.access.tls: false`` /metrics and the
dashboard answer anyone over HTTP."""

from __future__ import annotations

import http.client
import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import pytest_asyncio

from tests import access
from tests.desk_runner import RunningDesk, free_ports, wait_for, write_desk
from tradingdesk.security.accesslog import read_records
from tradingdesk.security.pki import CertificateAuthority
from tradingdesk.security.tls import local_pki
from tradingdesk.spec.domain import data_dir
from tradingdesk.spec.model import SERVICE_NAMES
from tradingdesk.v1.compliance_pb2 import QueryAuditRequest
from tradingdesk.v1.compliance_pb2_grpc import ComplianceServiceStub

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]
OPS_TOKEN = "dashboard-ops-token-5c1e"
TRADER_TOKEN = "dashboard-trader-token-88f0"
NO_CREDENTIALS = "no credentials: present a client certificate signed by the desk's CA, or send 'Authorization: Bearer"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def desk(tmp_path_factory):
    tmp: Path = tmp_path_factory.mktemp("doors")
    (tmp / "ops.token").write_text(OPS_TOKEN)
    (tmp / "trader.token").write_text(TRADER_TOKEN)

    (kill_switch_port,) = free_ports(1)

    def mutate(doc: dict) -> None:
        doc["spec"]["risk"]["httpPort"] = kill_switch_port
        doc["spec"]["access"]["staticTokens"] = [
            {"identity": "ops", "file": str(tmp / "ops.token")},
            {"identity": "trader", "file": str(tmp / "trader.token")},
        ]

    running = await RunningDesk(write_desk(tmp, mutate)).start()
    running.kill_switch = f"https://127.0.0.1:{kill_switch_port}/v1/trading-state"
    await wait_for(lambda: dashboard_status(running, "/healthz") == 200, timeout=30)  # starts after gRPC serves
    yield running
    await running.stop()


def metrics_url(desk: RunningDesk, service: str, scheme: str = "https") -> str:
    return f"{scheme}://127.0.0.1:{desk.desk.spec.monitoring.metrics_ports()[service]}/metrics"


def dashboard_url(desk: RunningDesk, path: str, scheme: str = "https") -> str:
    return f"{scheme}://127.0.0.1:{desk.desk.spec.monitoring.dashboard_port}{path}"


def trusting_ca(desk: RunningDesk) -> ssl.SSLContext:
    """A client that trusts the desk's CA and presents no certificate."""
    return ssl.create_default_context(cafile=str(local_pki(desk.desk).ca_path))


def get(url: str, context: ssl.SSLContext | None, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """(status, body) of a GET; a refusal is an answer too."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def dashboard_status(desk: RunningDesk, path: str) -> int | None:
    try:
        return get(dashboard_url(desk, path), trusting_ca(desk))[0]
    except OSError:
        return None


def refusal(status_and_body: tuple[int, str]) -> tuple[int, str]:
    status, body = status_and_body
    return status, json.loads(body)["detail"]


def door_records(desk: RunningDesk, door: str) -> list[dict]:
    return read_records(data_dir(desk.desk, {}) / "access" / f"{door}.jsonl")


async def test_no_credentials_refused_on_every_metrics_port_and_the_dashboard(desk: RunningDesk) -> None:
    anonymous = trusting_ca(desk)
    for service in SERVICE_NAMES:
        status, reason = refusal(get(metrics_url(desk, service), anonymous))
        assert status == 401 and reason.startswith(NO_CREDENTIALS), (service, reason)
    for path in ("/", "/api/status", "/api/events", "/login"):
        status, reason = refusal(get(dashboard_url(desk, path), anonymous))
        assert status == 401 and reason.startswith(NO_CREDENTIALS), (path, reason)
    status, reason = refusal(get(dashboard_url(desk, "/api/status"), anonymous, {"Authorization": "Bearer nope"}))
    assert (status, reason) == (401, "the bearer token is not one this desk accepts")
    status, reason = refusal(get(desk.kill_switch, anonymous))
    assert status == 401 and reason.startswith(NO_CREDENTIALS)

    def recorded(door: str, route: str) -> bool:
        return any(
            r["method"] == route and r["outcome"] == "UNAUTHENTICATED" and r["identity"] == "anonymous"
            for r in door_records(desk, door)
        )

    await wait_for(lambda: all(recorded(f"{s}-metrics", "GET /metrics") for s in SERVICE_NAMES), timeout=10)
    await wait_for(lambda: recorded("monitoring-dashboard", "GET /api/status"), timeout=10)

    async def in_trail() -> bool:  # the dashboard's refusals reach the audit trail through compliance
        async with desk.channel("compliance", "auditor") as ch:
            reply = await ComplianceServiceStub(ch).QueryAudit(QueryAuditRequest(kind="access", limit=10_000))
        payloads = [json.loads(e.payload_json) for e in reply.events]
        return any(p["method"] == "GET /api/events" and p["code"] == "UNAUTHENTICATED" for p in payloads) and any(
            p["method"] == "GET /metrics" and p["code"] == "UNAUTHENTICATED" for p in payloads
        )

    await wait_for(in_trail, timeout=30)


async def test_plaintext_http_gets_no_answer(desk: RunningDesk) -> None:
    kill_switch = desk.kill_switch.replace("https://", "http://")
    for url in (metrics_url(desk, "routing", "http"), dashboard_url(desk, "/api/status", "http"), kill_switch):
        with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError, http.client.BadStatusLine)):
            urllib.request.urlopen(url, timeout=5)


async def test_a_certificate_of_another_ca_fails_the_handshake(desk: RunningDesk, tmp_path: Path) -> None:
    other = CertificateAuthority.create("not-this-desk")
    leaf = other.issue("ops", hosts=(), days=1)  # the name of a real identity, signed by the wrong CA
    (tmp_path / "ops.crt").write_bytes(leaf.cert_pem)
    (tmp_path / "ops.key").write_bytes(leaf.key_pem)
    context = trusting_ca(desk)
    context.load_cert_chain(tmp_path / "ops.crt", tmp_path / "ops.key")
    for url in (metrics_url(desk, "risk"), dashboard_url(desk, "/api/status"), desk.kill_switch):
        # no HTTP answer at all (``get`` returns refusals): the server ends the handshake (TLS 1.3 verifies the
        # client's certificate after the client has finished, so the client sees the alert or the connection close)
        with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionResetError)):
            get(url, context)


async def test_the_right_certificate_or_token_is_admitted_and_roles_are_checked(desk: RunningDesk) -> None:
    ops = access.https_context(desk.desk, "operations")
    status, text = get(metrics_url(desk, "routing"), ops)
    assert status == 200 and "grpc_server_handling_seconds" in text
    scraper = access.https_context(desk.desk, "svc:prometheus")
    assert get(metrics_url(desk, "feeds"), scraper)[0] == 200
    status, text = get(metrics_url(desk, "compliance"), trusting_ca(desk), {"Authorization": f"Bearer {OPS_TOKEN}"})
    assert status == 200 and "target_info" in text

    status, reason = refusal(get(metrics_url(desk, "risk"), access.https_context(desk.desk, "trader")))
    assert status == 403
    assert (
        reason
        == "trader (roles: trader) may not call GET /metrics: it needs one of the roles operations, scraper, service"
    )

    status, body = get(desk.kill_switch, access.https_context(desk.desk, "risk_officer"))  # the kill switch too
    assert status == 200 and json.loads(body)["state"] == "ACTIVE"
    status, reason = refusal(get(desk.kill_switch, scraper))
    assert status == 403 and reason.startswith("svc:prometheus (roles: scraper) may not call GET /v1/trading-state")

    status, body = get(dashboard_url(desk, "/api/status"), ops)
    assert status == 200 and {s["service"] for s in json.loads(body)["services"]} == set(SERVICE_NAMES)
    status, reason = refusal(get(dashboard_url(desk, "/api/status"), scraper))
    assert status == 403 and reason == (
        "svc:prometheus (roles: scraper) may not call GET /api/status: it needs one of the roles auditor, "
        "operations, risk_officer"
    )
    status, reason = refusal(
        get(dashboard_url(desk, "/"), trusting_ca(desk), {"Authorization": f"Bearer {TRADER_TOKEN}"})
    )
    assert status == 403 and reason.startswith("trader (roles: trader) may not call GET /")

    def refused(door: str, identity: str, via: str) -> bool:
        return any(
            (r["identity"], r["via"], r["outcome"]) == (identity, via, "FORBIDDEN") for r in door_records(desk, door)
        )

    await wait_for(lambda: refused("risk-metrics", "trader", "certificate"), timeout=10)
    await wait_for(lambda: refused("monitoring-dashboard", "svc:prometheus", "certificate"), timeout=10)
    await wait_for(lambda: refused("monitoring-dashboard", "trader", "token"), timeout=10)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # the login's answer itself is what is checked
        return None


async def test_a_browser_logs_in_with_a_token_and_keeps_a_strict_session_cookie(desk: RunningDesk) -> None:
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=trusting_ca(desk)), _NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as answer:
        opener.open(dashboard_url(desk, f"/login?token={OPS_TOKEN}"), timeout=5)
    assert answer.value.code == 303 and answer.value.headers["Location"] == "/"
    cookie = answer.value.headers["Set-Cookie"]
    attributes = {part.strip().split("=")[0] for part in cookie.split(";")}
    assert {"HttpOnly", "Secure", "SameSite", "Path", "Max-Age"} <= attributes and "SameSite=Strict" in cookie
    session = cookie.split(";")[0]
    status, page = get(dashboard_url(desk, "/"), trusting_ca(desk), {"Cookie": session})
    assert status == 200 and "<title>tradingdesk</title>" in page
    assert get(dashboard_url(desk, "/api/status"), trusting_ca(desk), {"Cookie": session})[0] == 200
    # a made-up session is nobody
    status, reason = refusal(get(dashboard_url(desk, "/api/status"), trusting_ca(desk), {"Cookie": "td_session=x"}))
    assert status == 401 and reason.startswith(NO_CREDENTIALS)
    # a trader's token opens no session
    with pytest.raises(urllib.error.HTTPError) as answer:
        opener.open(dashboard_url(desk, f"/login?token={TRADER_TOKEN}"), timeout=5)
    assert answer.value.code == 403 and "Set-Cookie" not in answer.value.headers
    assert OPS_TOKEN not in desk.logs()
    for log in (data_dir(desk.desk, {}) / "access").glob("*.jsonl"):
        assert OPS_TOKEN not in log.read_text(), log


@pytest.mark.asyncio(loop_scope="function")
async def test_tls_off_leaves_both_plaintext_and_unchecked(tmp_path: Path) -> None:
    def plaintext(doc: dict) -> None:
        doc["spec"]["access"]["tls"] = False

    desk = await RunningDesk(write_desk(tmp_path, plaintext)).start()
    try:
        status, text = get(metrics_url(desk, "routing", "http"), None)
        assert status == 200 and "target_info" in text
        status = await wait_for(lambda: _status_or_none(dashboard_url(desk, "/api/status", "http")), timeout=30)
        assert status == 200
    finally:
        await desk.stop()


def _status_or_none(url: str) -> int | None:
    try:
        return get(url, None)[0]
    except OSError:
        return None
