"""A running embedded desk with mutual TLS, tokens and limits: a client without credentials is refused on
every port, a trader cannot touch another account, only a risk officer resumes a halted desk, callers are
limited one by one, and every refused and privileged call is in the access log with the identity."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
from pathlib import Path

import grpc
import httpx
import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from deskoperator import plugin
from tests.desk_runner import RunningDesk, free_ports, wait_for, write_desk
from tradingdesk.security import channels
from tradingdesk.security.accesslog import read_records
from tradingdesk.security.channels import ClientCredentials
from tradingdesk.security.local import client_of
from tradingdesk.security.server import access_log_path
from tradingdesk.security.tls import local_pki
from tradingdesk.spec.model import SERVICE_NAMES
from tradingdesk.v1 import common_pb2, orders_pb2, orders_pb2_grpc, risk_pb2, risk_pb2_grpc
from tradingdesk.v1.compliance_pb2 import QueryAuditRequest
from tradingdesk.v1.compliance_pb2_grpc import ComplianceServiceStub
from tradingdesk.v1.market_data_pb2 import GetQuoteRequest, SetLineEnabledRequest
from tradingdesk.v1.market_data_pb2_grpc import MarketDataServiceStub

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]
C = grpc.StatusCode
OPS_TOKEN = "ops-static-token-7f3a9c"
# Secrets planted in the desk's environment: none may appear in any file the desk writes (logs, access logs,
# databases, the spec) other than where the operator of the desk put them.
AUDIT_BOT_TOKEN = "env-planted-secret-41b2e7"
HTTP_TOKEN = "http-planted-secret-93de0a"
WRONG_TOKEN = "wrong-planted-secret-55aa1c"
PLANTED = (OPS_TOKEN, AUDIT_BOT_TOKEN, HTTP_TOKEN, WRONG_TOKEN)
SCOPE2 = common_pb2.Scope(account="ACC-EQ-2")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def desk(tmp_path_factory):
    tmp: Path = tmp_path_factory.mktemp("access")
    (tmp / "ops.token").write_text(OPS_TOKEN + "\n")
    token_ports: dict[str, int] = {}
    ports: list[int] = []

    def mutate(doc: dict) -> None:
        taken = [svc["port"] for svc in doc["spec"]["services"].values()]
        metrics = doc["spec"]["monitoring"]["metricsPort"]
        taken += [doc["spec"]["monitoring"]["dashboardPort"], *range(metrics, metrics + len(SERVICE_NAMES))]
        ports.extend(free_ports(len(SERVICE_NAMES) + 1, avoid=taken))  # none of the desk's own
        token_ports.update(zip(SERVICE_NAMES, ports, strict=False))
        doc["spec"]["risk"].update(httpPort=ports[-1], maxSubmitsPerSecond=1_000_000)
        doc["spec"]["access"] = {
            "identities": [
                {"name": "admin", "roles": ["trader", "risk_officer", "operations", "auditor"], "accounts": ["*"]},
                {"name": "trader", "roles": ["trader"], "accounts": ["ACC-EQ-1"]},
                {"name": "risk", "roles": ["risk_officer"]},
                {"name": "ops", "roles": ["operations"]},
                {"name": "auditor", "roles": ["auditor"]},
                {"name": "flooder", "roles": ["trader"], "accounts": ["ACC-EQ-1"], "requestsPerSecond": 20},
                {"name": "ops-bot", "roles": ["operations", "risk_officer"], "certificate": False},
                {"name": "audit-bot", "roles": ["auditor"], "certificate": False},
            ],
            "staticTokens": [
                {"identity": "ops-bot", "file": str(tmp / "ops.token")},
                {"identity": "audit-bot", "env": "AUDIT_BOT_TOKEN"},
            ],
            "tokenPorts": token_ports,
            "rateLimit": {"requestsPerSecond": 5_000, "burst": 10_000, "maxStreams": 2},
        }

    planted = {"AUDIT_BOT_TOKEN": AUDIT_BOT_TOKEN, "TD_RISK_HTTP_TOKEN": HTTP_TOKEN}
    saved = {k: os.environ.get(k) for k in planted}
    os.environ.update(planted)  # the children inherit them, as pods get Secrets in their environment
    try:
        running = await RunningDesk(write_desk(tmp, mutate)).start()
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    running.token_ports = token_ports
    running.http_port = ports[-1]
    running.tmp = tmp
    yield running
    await running.stop()


def records(desk: RunningDesk, service: str) -> list[dict]:
    return read_records(access_log_path(desk.desk, service, {}))


async def test_no_credentials_no_call_on_any_port(desk: RunningDesk) -> None:
    ca = local_pki(desk.desk).ca_path
    check = health_pb2.HealthCheckRequest()
    for name in SERVICE_NAMES:
        async with grpc.aio.insecure_channel(desk.address(name)) as ch:  # plaintext: the handshake fails
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await health_pb2_grpc.HealthStub(ch).Check(check, timeout=2)
            assert err.value.code() == C.UNAVAILABLE
        async with channels.aio_channel(desk.address(name), credentials=ClientCredentials(ca=ca)) as ch:
            with pytest.raises(grpc.aio.AioRpcError) as err:  # TLS without a client certificate
                await health_pb2_grpc.HealthStub(ch).Check(check, timeout=2)
            assert err.value.code() == C.UNAVAILABLE
        token_address = f"127.0.0.1:{desk.token_ports[name]}"
        async with channels.aio_channel(token_address, credentials=ClientCredentials(ca=ca)) as ch:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await health_pb2_grpc.HealthStub(ch).Check(check, timeout=2)
            assert err.value.code() == C.UNAUTHENTICATED, name
            assert "present a client certificate signed by the desk's CA" in err.value.details()
    async with httpx.AsyncClient(
        base_url=f"https://127.0.0.1:{desk.http_port}", verify=ssl.create_default_context(cafile=ca), timeout=5
    ) as http:
        denied = await http.post("/v1/kill", json={"actor": "x", "reason": "y"})
        assert denied.status_code == 401 and "Bearer" in denied.json()["detail"]
        wrong = await http.post("/v1/kill", json={"actor": "x", "reason": "y"}, headers={"Authorization": "Bearer no"})
        assert wrong.status_code == 401 and wrong.json()["detail"] == "the bearer token is not one this desk accepts"
    unauthenticated = [r for r in records(desk, "routing") if r["outcome"] == "UNAUTHENTICATED"]
    assert unauthenticated and unauthenticated[0]["identity"] == "anonymous"


async def test_a_static_token_on_a_token_port_and_on_http(desk: RunningDesk) -> None:
    ca = local_pki(desk.desk).ca_path
    creds = ClientCredentials(ca=ca, token=OPS_TOKEN)
    async with channels.aio_channel(f"127.0.0.1:{desk.token_ports['risk']}", credentials=creds) as ch:
        state = await risk_pb2_grpc.RiskServiceStub(ch).GetTradingState(risk_pb2.GetTradingStateRequest(), timeout=5)
        assert state.state == common_pb2.TRADING_STATE_ACTIVE
    async with httpx.AsyncClient(
        base_url=f"https://127.0.0.1:{desk.http_port}", verify=ssl.create_default_context(cafile=ca), timeout=5
    ) as http:
        ok = await http.get("/v1/trading-state", headers={"Authorization": f"Bearer {OPS_TOKEN}"})
        assert ok.status_code == 200 and ok.json()["state"] == "ACTIVE"
    for service in SERVICE_NAMES:
        log = access_log_path(desk.desk, service, {})
        assert not log.exists() or OPS_TOKEN not in log.read_text()
    assert OPS_TOKEN not in desk.logs()


async def test_a_trader_cannot_touch_another_account(desk: RunningDesk) -> None:
    async with desk.channel("routing", "trader") as ch:
        stub = orders_pb2_grpc.OrderServiceStub(ch)
        attempts = [
            stub.SubmitOrder(
                orders_pb2.SubmitOrderRequest(
                    client_order_id="x-1",
                    account="ACC-EQ-2",
                    symbol="AAPL",
                    side=common_pb2.SIDE_BUY,
                    order_type=common_pb2.ORDER_TYPE_LIMIT,
                    quantity="1",
                    limit_price="100",
                ),
                timeout=5,
            ),
            stub.CancelOrder(orders_pb2.CancelOrderRequest(account="ACC-EQ-2", client_order_id="x-1"), timeout=5),
            stub.GetOrder(orders_pb2.GetOrderRequest(account="ACC-EQ-2", client_order_id="x-1"), timeout=5),
            stub.ListOrders(orders_pb2.ListOrdersRequest(account="ACC-EQ-2"), timeout=5),
            stub.GetPositions(orders_pb2.GetPositionsRequest(account="ACC-EQ-2"), timeout=5),
        ]
        for attempt in attempts:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await attempt
            assert err.value.code() == C.PERMISSION_DENIED
            assert err.value.details() == "trader is not entitled to account 'ACC-EQ-2'"
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ListOrders(orders_pb2.ListOrdersRequest(), timeout=5)
        assert err.value.code() == C.PERMISSION_DENIED
        assert err.value.details() == "trader may read its own accounts only (ACC-EQ-1): name one in the account field"

        session = stub.OrderSession()
        mixed = orders_pb2.SessionRequests(
            requests=[
                orders_pb2.SessionRequest(
                    request_id=1,
                    submit=orders_pb2.SubmitOrderRequest(
                        client_order_id="s-1",
                        account="ACC-EQ-1",
                        symbol="AAPL",
                        side=common_pb2.SIDE_BUY,
                        order_type=common_pb2.ORDER_TYPE_LIMIT,
                        quantity="1",
                        limit_price="1.00",
                    ),
                ),
                orders_pb2.SessionRequest(
                    request_id=2, cancel=orders_pb2.CancelOrderRequest(account="ACC-EQ-2", order_id="O-1")
                ),
            ]
        )
        await session.write(mixed)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            async for _ in session:
                pass
        assert err.value.code() == C.PERMISSION_DENIED
        assert err.value.details() == "request_id 2: trader is not entitled to account 'ACC-EQ-2'"
    async with desk.channel("routing", "admin") as ch:
        orders = await orders_pb2_grpc.OrderServiceStub(ch).ListOrders(orders_pb2.ListOrdersRequest(), timeout=5)
        assert [o.client_order_id for o in orders.orders] == []  # nothing of a refused batch was handled
    denied = [r for r in records(desk, "routing") if r["identity"] == "trader" and r["outcome"] == "PERMISSION_DENIED"]
    assert {r["method"].rsplit("/", 1)[1] for r in denied} >= {"SubmitOrder", "CancelOrder", "ListOrders"}


async def test_only_a_risk_officer_resumes_a_halted_desk(desk: RunningDesk) -> None:
    async with desk.channel("risk", "risk_officer") as ch:
        killed = await risk_pb2_grpc.RiskServiceStub(ch).KillSwitch(
            risk_pb2.KillSwitchRequest(scope=SCOPE2, actor="rita", reason="drill"), timeout=10
        )
        assert killed.state.state == common_pb2.TRADING_STATE_HALTED
    for role in ("trader", "operations", "auditor", "service"):
        async with desk.channel("risk", role) as ch:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await risk_pb2_grpc.RiskServiceStub(ch).Resume(
                    risk_pb2.ResumeRequest(scope=SCOPE2, actor="me", reason="go"), timeout=5
                )
            assert err.value.code() == C.PERMISSION_DENIED, role
            assert "needs one of the roles risk_officer" in err.value.details()
    async with desk.channel("risk", "risk_officer") as ch:
        stub = risk_pb2_grpc.RiskServiceStub(ch)
        state = await stub.GetTradingState(risk_pb2.GetTradingStateRequest(scope=SCOPE2), timeout=5)
        assert state.state == common_pb2.TRADING_STATE_HALTED  # the refused resumes changed nothing
        resumed = await stub.Resume(risk_pb2.ResumeRequest(scope=SCOPE2, actor="rita", reason="drill over"), timeout=5)
        assert resumed.state == common_pb2.TRADING_STATE_ACTIVE
    await wait_for(lambda: len([r for r in records(desk, "risk") if r["privileged"]]) >= 6, timeout=10)
    privileged = [r for r in records(desk, "risk") if r["privileged"]]
    assert [(r["identity"], r["method"].rsplit("/", 1)[1], r["outcome"]) for r in privileged] == [
        ("risk", "KillSwitch", "OK"),
        ("trader", "Resume", "PERMISSION_DENIED"),
        ("ops", "Resume", "PERMISSION_DENIED"),
        ("auditor", "Resume", "PERMISSION_DENIED"),
        ("svc:runtime", "Resume", "PERMISSION_DENIED"),
        ("risk", "Resume", "OK"),
    ]
    assert privileged[0]["request"] == {"account": "ACC-EQ-2", "strategy": "", "actor": "rita", "reason": "drill"}


async def test_rate_and_stream_limits_per_identity(desk: RunningDesk) -> None:
    async with desk.channel("feeds", "flooder") as flood, desk.channel("feeds", "trader") as calm:
        flooder, victim = MarketDataServiceStub(flood), MarketDataServiceStub(calm)
        refused: list[grpc.aio.AioRpcError] = []

        async def hammer() -> None:
            for _ in range(300):
                try:
                    await flooder.GetQuote(GetQuoteRequest(symbol="AAPL"), timeout=5)
                except grpc.aio.AioRpcError as exc:
                    refused.append(exc)

        async def steady() -> int:
            served = 0
            for _ in range(40):
                await victim.GetQuote(GetQuoteRequest(symbol="AAPL"), timeout=5)  # never refused
                served += 1
            return served

        _, served = await asyncio.gather(hammer(), steady())
        assert served == 40
        assert refused and all(e.code() == C.RESOURCE_EXHAUSTED for e in refused)
        assert refused[0].details().startswith("rate limit: flooder may make 20 calls per second to feeds; retry in ")
        assert int(dict(refused[0].trailing_metadata())["retry-after-ms"]) > 0
    async with desk.channel("risk", "auditor") as ch:
        stub = risk_pb2_grpc.RiskServiceStub(ch)
        open_streams = [stub.StreamRiskEvents(risk_pb2.StreamRiskEventsRequest()) for _ in range(3)]
        results = []
        for s in open_streams:
            try:
                await asyncio.wait_for(s.read(), 1.5)
                results.append("open")
            except TimeoutError:
                results.append("open")
            except grpc.aio.AioRpcError as exc:
                results.append(exc.code())
                assert "already holds 2 open streams on risk (the limit)" in exc.details()
        assert results.count(C.RESOURCE_EXHAUSTED) == 1
        for s in open_streams:
            s.cancel()
    flood_records = [r for r in records(desk, "feeds") if r["identity"] == "flooder"]
    assert sum(r["count"] for r in flood_records) == len(refused)  # merged, none lost


async def test_planted_secrets_work_and_never_leak(desk: RunningDesk) -> None:
    ca = local_pki(desk.desk).ca_path
    token_address = f"127.0.0.1:{desk.token_ports['compliance']}"
    async with channels.aio_channel(token_address, credentials=ClientCredentials(ca=ca, token=AUDIT_BOT_TOKEN)) as ch:
        assert (await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)).status == 1
    async with channels.aio_channel(token_address, credentials=ClientCredentials(ca=ca, token=WRONG_TOKEN)) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert err.value.code() == C.UNAUTHENTICATED and WRONG_TOKEN not in err.value.details()
    https = ssl.create_default_context(cafile=ca)
    async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{desk.http_port}", verify=https, timeout=5) as http:
        ok = await http.get("/v1/trading-state", headers={"Authorization": f"Bearer {HTTP_TOKEN}"})
        assert ok.status_code == 200
        wrong = await http.get("/v1/trading-state", headers={"Authorization": f"Bearer {WRONG_TOKEN}"})
        assert wrong.status_code == 401 and WRONG_TOKEN not in wrong.text
        body = {"actor": "jane", "reason": "http drill", "account": "ACC-EQ-1", "strategy": "twap"}
        killed = await http.post("/v1/kill", json=body, headers={"Authorization": f"Bearer {HTTP_TOKEN}"})
        assert killed.status_code == 200 and killed.json()["state"] == "HALTED"
    await wait_for(lambda: any(r["privileged"] for r in records(desk, "risk-http")), timeout=10)
    (kill,) = [r for r in records(desk, "risk-http") if r["privileged"]]
    assert (kill["identity"], kill["method"], kill["outcome"]) == ("risk-http-kill-switch", "POST /v1/kill", "OK")
    assert kill["request"] == {"account": "ACC-EQ-1", "strategy": "twap", "actor": "jane", "reason": "http drill"}
    # the refusals are written (by the access log's own thread) before the files are searched
    await wait_for(lambda: any(r["via"] == "none" for r in records(desk, "compliance")), timeout=10)
    await wait_for(lambda: any(r["outcome"] == "UNAUTHENTICATED" for r in records(desk, "risk-http")), timeout=10)

    # Every file the desk wrote (logs, access logs, databases, its spec), except the token file we planted and
    # the certificate directory, is searched for every planted secret and every private key.
    tls_dir = local_pki(desk.desk).directory
    keys = [p.read_text().splitlines()[1:-1] for p in tls_dir.rglob("*.key")]
    written = [p for p in desk.tmp.rglob("*") if p.is_file() and p.name != "ops.token" and tls_dir not in p.parents]
    assert any(p.suffix == ".jsonl" for p in written) and any(p.suffix == ".log" for p in written)
    for path in written:
        data = path.read_bytes()
        for secret in PLANTED:
            assert secret.encode() not in data, f"{secret} found in {path}"
        for key in keys:
            assert not any(line.encode() in data for line in key), f"a private key found in {path}"


async def test_the_kubectl_plugin_reads_feed_lines_and_health_with_a_client_certificate(desk: RunningDesk) -> None:
    """``kubectl tradingdesk status`` dials feeds and monitoring with the person's certificate (the CLI's
    TD_TLS_* variables); without one the desk does not answer it."""
    ops = client_of(local_pki(desk.desk), "ops")
    env = {"TD_TLS_CA": str(ops.ca), "TD_TLS_CERT": str(ops.cert), "TD_TLS_KEY": str(ops.key)}
    credentials = plugin.client_credentials(argparse.Namespace(), env)
    feeds, monitoring = desk.address("feeds"), desk.address("monitoring")
    lines = await asyncio.to_thread(plugin.feed_lines, feeds, 5, credentials)
    assert lines and all(line.split()[1] in ("LIVE", "DEGRADED", "DOWN") for line in lines if "stale" not in line)
    assert await asyncio.to_thread(plugin.health_lines, monitoring, 5, credentials)
    with pytest.raises(plugin.PluginError, match="UNAVAILABLE"):
        await asyncio.to_thread(plugin.feed_lines, feeds, 2, plugin.client_credentials(argparse.Namespace(), {}))
    with pytest.raises(plugin.PluginError, match="needs its key"):
        plugin.client_credentials(argparse.Namespace(), {"TD_TLS_CERT": str(ops.cert)})


async def test_denied_and_privileged_calls_are_in_the_audit_trail_with_the_identity(desk: RunningDesk) -> None:
    """The access log's decisions reach the tamper-evident trail: through the deciding service's own journal
    (routing, risk) or through compliance (feeds), each naming the identity and what it was answered."""
    async with desk.channel("risk", "trader") as ch:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await risk_pb2_grpc.RiskServiceStub(ch).KillSwitch(
                risk_pb2.KillSwitchRequest(scope=SCOPE2, actor="tom", reason="trail drill"), timeout=5
            )
        assert err.value.code() == C.PERMISSION_DENIED
    async with desk.channel("feeds", "trader") as ch:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await MarketDataServiceStub(ch).SetLineEnabled(
                SetLineEnabledRequest(feed="vendor-a", line="A", enabled=False, reason="trail drill"), timeout=5
            )
        assert err.value.code() == C.PERMISSION_DENIED
    async with desk.channel("routing", "trader") as ch:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await orders_pb2_grpc.OrderServiceStub(ch).GetPositions(
                orders_pb2.GetPositionsRequest(account="ACC-EQ-2"), timeout=5
            )
        assert err.value.code() == C.PERMISSION_DENIED

    wanted = {"RiskService/KillSwitch", "MarketDataService/SetLineEnabled", "OrderService/GetPositions"}

    async def trail() -> dict[str, tuple[str, dict]] | None:
        async with desk.channel("compliance", "auditor") as ch:
            reply = await ComplianceServiceStub(ch).QueryAudit(QueryAuditRequest(kind="access", limit=10_000))
        found = {}
        for event in reply.events:
            payload = json.loads(event.payload_json)
            method = payload["method"].split(".v1.", 1)[-1]
            if payload["identity"] == "trader" and method in wanted:
                found[method] = (event.source, payload)
        return found if set(found) == wanted else None

    found = await wait_for(trail, timeout=30)
    assert {m: source for m, (source, _) in found.items()} == {
        "RiskService/KillSwitch": "risk",
        "MarketDataService/SetLineEnabled": "compliance",
        "OrderService/GetPositions": "journal",
    }
    for _, payload in found.values():
        assert (payload["allowed"], payload["code"], payload["via"]) == (False, "PERMISSION_DENIED", "certificate")
    assert found["RiskService/KillSwitch"][1]["privileged"]

    # An allowed privileged call is there too, with the scope, actor and reason it was made with.
    async with desk.channel("risk", "risk_officer") as ch:
        stub = risk_pb2_grpc.RiskServiceStub(ch)
        await stub.KillSwitch(risk_pb2.KillSwitchRequest(scope=SCOPE2, actor="rita", reason="trail drill"), timeout=10)
        await stub.Resume(risk_pb2.ResumeRequest(scope=SCOPE2, actor="rita", reason="trail drill over"), timeout=10)

    async def allowed() -> list[dict] | None:
        async with desk.channel("compliance", "auditor") as ch:
            reply = await ComplianceServiceStub(ch).QueryAudit(QueryAuditRequest(kind="access", limit=10_000))
        mine = [json.loads(e.payload_json) for e in reply.events if e.source == "risk"]
        mine = [p for p in mine if p["identity"] == "risk" and p["request"].get("reason", "").startswith("trail")]
        return mine if len(mine) == 2 else None

    kill, resume = await wait_for(allowed, timeout=30)
    assert (kill["method"], kill["allowed"], kill["code"]) == ("/tradingdesk.v1.RiskService/KillSwitch", True, "OK")
    assert kill["request"] == {"account": "ACC-EQ-2", "strategy": "", "actor": "rita", "reason": "trail drill"}
    assert resume["method"].endswith("/Resume") and resume["privileged"]
