"""The risk service in one process on real sockets (gRPC and HTTP): limits changes, the kill switch doors,
real-time risk (drawdown and daily-loss halts from a replayed losing session, VaR/ES, position sizing,
circuit breakers) and the gate stream. The order flow comes from a real order engine with simulated venues
(tests/unit/desk_fixtures.py) whose journal the service reads exactly as it reads routing's."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import grpc
import httpx
import pytest

from tests.desk_runner import free_ports, write_desk
from tests.unit.desk_fixtures import D, default_limits, make_desk
from tests.unit.test_risk_gate import new
from tests.waiting import wait_for
from tradingdesk.core.clock import ManualClock
from tradingdesk.core.enums import Side, TradingState
from tradingdesk.core.event_codec import decode_change
from tradingdesk.core.events import BreachHalted, RiskLatched
from tradingdesk.core.fixed import format_fixed, parse_fixed
from tradingdesk.core.positions import Position
from tradingdesk.feeds.events import QUOTE, TRADE, MarketEvent
from tradingdesk.feeds.recording import read_csv, write_csv
from tradingdesk.risk.scope import DESK_SCOPE
from tradingdesk.risk.service import RiskService
from tradingdesk.runtime.service import start_service
from tradingdesk.spec.load import load_desk
from tradingdesk.v1 import common_pb2, risk_pb2, risk_pb2_grpc

C = grpc.StatusCode
TOKEN = "s3cret-token"
SECOND = 1_000_000_000
K = risk_pb2


def tune(risk: dict | None = None):
    def mutate(doc: dict) -> None:
        doc["spec"]["instruments"] = [
            {"symbol": "AAPL", "sector": "technology", "referencePrice": "100"},
            {"symbol": "MSFT", "sector": "technology", "referencePrice": "400"},
        ]
        doc["spec"]["accounts"] = [{"name": "ACC"}, {"name": "ACC2"}, {"name": "ACC3", "strategies": ["algo"]}]
        doc["spec"]["risk"] = {"maxSubmitsPerSecond": 1000, **(risk or {})}
        doc["spec"]["access"]["tls"] = False  # served here without the desk's TLS (start_service's plaintext)
        doc["spec"]["conduct"].pop("marketWideBreaker")  # its index instrument (SPY) is not among these two

    return mutate


class Risk:
    def __init__(self, tmp: Path, risk: dict | None = None, clock: ManualClock | None = None) -> None:
        self.http_port = free_ports(1)[0]
        spec = write_desk(tmp, tune({"httpPort": self.http_port, **(risk or {})}))
        self.desk = load_desk(spec)
        self.clock = clock or ManualClock()
        self.tmp = tmp

    async def start(self, environ: dict[str, str] | None = None) -> Risk:
        env = {"TD_RISK_HTTP_TOKEN": TOKEN} if environ is None else environ
        self.service = RiskService(self.desk, clock=self.clock, dsn=f"sqlite:///{self.tmp / 'risk.db'}", environ=env)
        self.running = await start_service(self.service, "127.0.0.1:0")
        self.channel = grpc.aio.insecure_channel(self.running.address)
        self.stub = risk_pb2_grpc.RiskServiceStub(self.channel)
        return self

    async def stop(self) -> None:
        await self.channel.close()
        await self.running.stop(0.5)

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.http_port}", timeout=5)


@pytest.fixture
async def risk(tmp_path: Path):
    r = await Risk(tmp_path).start()
    yield r
    await r.stop()


class GateFeed:
    """A gate's view of StreamGateUpdates, collected in the background, speaking the protocol from the proto
    alone: it names itself, then acknowledges each update's seq (unless ``acknowledge`` is off: a silent gate).
    ``ended`` is the stream's end: None while it runs, else the status code and details."""

    def __init__(self, stub: risk_pb2_grpc.RiskServiceStub, gate_id: str = "test", *, acknowledge: bool = True) -> None:
        self.updates: list[risk_pb2.GateUpdate] = []
        self.acknowledge = acknowledge
        self.ended: tuple[grpc.StatusCode, str] | None = None
        self.call = stub.StreamGateUpdates()
        self.task = asyncio.create_task(self._run(gate_id))

    async def _run(self, gate_id: str) -> None:
        try:
            await self.call.write(risk_pb2.StreamGateUpdatesRequest(gate_id=gate_id))
            async for update in self.call:
                self.updates.append(update)
                if self.acknowledge and not update.heartbeat:
                    await self.call.write(risk_pb2.StreamGateUpdatesRequest(ack_seq=update.seq))
        except grpc.aio.AioRpcError as exc:
            self.ended = (exc.code(), exc.details())
        except asyncio.InvalidStateError:  # an acknowledgement written as the stream ended cleanly
            pass
        if self.ended is None:
            self.ended = (grpc.StatusCode.OK, "")

    async def wait(self, predicate, timeout: float = 5.0) -> risk_pb2.GateUpdate:
        found = lambda: next((u for u in self.updates if predicate(u)), None)  # noqa: E731
        return await wait_for(found, timeout, 0.01, what="the gate update")

    def close(self) -> None:
        self.call.cancel()
        self.task.cancel()


async def abort_code(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await call
    return exc.value.code(), exc.value.details()


# -- limits --------------------------------------------------------------------------------------------------
async def test_set_limits_is_validated_journaled_streamed_and_survives_restart(tmp_path: Path) -> None:
    r = await Risk(tmp_path).start()
    gate = GateFeed(r.stub)
    try:
        first = await gate.wait(lambda u: u.full)
        assert first.limits.desk.max_order_quantity == "100000"
        limits = await r.stub.GetLimits(K.GetLimitsRequest())
        bad = K.RiskLimits()
        bad.CopyFrom(limits)
        bad.desk.max_gross_exposure = "1000000"
        bad.desk.max_net_exposure = "2000000"
        code, details = await abort_code(r.stub.SetLimits(K.SetLimitsRequest(limits=bad, actor="amy", reason="x")))
        assert code == C.INVALID_ARGUMENT and details.startswith("limits.desk.max_net_exposure"), details
        bad.desk.max_net_exposure = "1e6"
        code, details = await abort_code(r.stub.SetLimits(K.SetLimitsRequest(limits=bad, actor="amy", reason="x")))
        assert "limits.desk.max_net_exposure" in details and "exponent" in details
        bad.desk.max_net_exposure = "500000"
        bad.scopes.add(scope=common_pb2.Scope(account="NOBODY"))
        code, details = await abort_code(r.stub.SetLimits(K.SetLimitsRequest(limits=bad, actor="amy", reason="x")))
        assert details.startswith("limits.scopes[0].scope.account") and "NOBODY" in details
        del bad.scopes[:]
        code, details = await abort_code(r.stub.SetLimits(K.SetLimitsRequest(limits=bad, reason="x")))
        assert code == C.INVALID_ARGUMENT and details.startswith("actor")
        code, details = await abort_code(
            r.stub.SetLimits(K.SetLimitsRequest(limits=bad, actor="amy", reason="x", expected_version=99))
        )
        assert code == C.ABORTED
        sl = bad.scopes.add(scope=common_pb2.Scope(account="ACC3", strategy="algo"))
        sl.limits.max_order_quantity = "10"
        done = await r.stub.SetLimits(
            K.SetLimitsRequest(limits=bad, actor="amy", reason="tighter algo", expected_version=limits.version)
        )
        assert done.version == limits.version + 1 and done.desk.max_gross_exposure == "1000000"
        streamed = await gate.wait(lambda u: u.HasField("limits") and u.limits.version == done.version)
        assert streamed.limits.scopes[0].limits.max_order_quantity == "10"
        history = r.service.store.history(5)
        assert (history[0].actor, history[0].reason, history[0].change["type"]) == ("amy", "tighter algo", "limits")
    finally:
        gate.close()
        await r.stop()
    again = await Risk(tmp_path).start()  # a restart keeps the change while the spec is the same
    try:
        assert (await again.stub.GetLimits(K.GetLimitsRequest())).desk.max_gross_exposure == "1000000"
    finally:
        await again.stop()
    changed = await Risk(tmp_path, {"maxOrderQuantity": "777"}).start()  # a new spec wins
    try:
        got = await changed.stub.GetLimits(K.GetLimitsRequest())
        assert got.desk.max_order_quantity == "777" and got.desk.max_gross_exposure == "0"
        assert changed.service.store.history(1)[0].actor == "spec"
    finally:
        await changed.stop()


async def test_gate_stream_sends_heartbeats(tmp_path: Path) -> None:
    r = await Risk(tmp_path, {"gateStreamTimeoutMs": 200}).start()
    gate = GateFeed(r.stub)
    try:
        await gate.wait(lambda u: u.heartbeat)
        await wait_for(lambda: sum(u.heartbeat for u in gate.updates) >= 3, what="heartbeats to keep coming")
    finally:
        gate.close()
        await r.stop()


# -- the kill switch: gRPC and HTTP doors --------------------------------------------------------------------
async def test_kill_switch_and_resume_over_grpc(risk: Risk) -> None:
    gate = GateFeed(risk.stub)
    try:
        await gate.wait(lambda u: u.full)
        code, details = await abort_code(risk.stub.KillSwitch(K.KillSwitchRequest(actor="amy")))
        assert code == C.INVALID_ARGUMENT and details.startswith("reason")
        code, details = await abort_code(
            risk.stub.KillSwitch(K.KillSwitchRequest(scope=common_pb2.Scope(strategy="x"), actor="a", reason="r"))
        )
        assert details.startswith("scope.strategy")
        code, details = await abort_code(
            risk.stub.KillSwitch(
                K.KillSwitchRequest(scope=common_pb2.Scope(account="ACC3", strategy="hft"), actor="a", reason="r")
            )
        )
        assert details.startswith("scope.strategy") and "hft" in details
        resp = await risk.stub.KillSwitch(K.KillSwitchRequest(actor="amy", reason="runaway algo", flatten=True))
        assert resp.state.state == common_pb2.TRADING_STATE_HALTED and resp.gates == 1 and resp.kill_id
        update = await gate.wait(lambda u: any(k.kill_id == resp.kill_id for k in u.kills))
        assert update.states[0].state == common_pb2.TRADING_STATE_HALTED and update.kills[0].flatten
        assert update.kills[0].changed_ns == update.states[0].changed_ns
        code, details = await abort_code(risk.stub.Resume(K.ResumeRequest(reason="ok")))
        assert code == C.INVALID_ARGUMENT and details.startswith("actor")
        done = await risk.stub.Resume(K.ResumeRequest(actor="bob", reason="fixed"))
        assert (done.state, done.actor) == (common_pb2.TRADING_STATE_ACTIVE, "bob")
        code, details = await abort_code(risk.stub.Resume(K.ResumeRequest(actor="bob", reason="again")))
        assert code == C.FAILED_PRECONDITION
        changes = [c.change for c in risk.service.store.history(10)]
        kill = next(c for c in changes if c.get("kill_id") == resp.kill_id)
        assert kill["door"] == "grpc" and kill["flatten"] is True
        kinds = [e.kind for e in await events(risk.stub, 3)]
        assert K.RISK_EVENT_KIND_KILL in kinds and K.RISK_EVENT_KIND_STATE_CHANGE in kinds
    finally:
        gate.close()


async def events(stub, n: int, from_seq: int = 1, timeout: float = 5.0) -> list[risk_pb2.RiskEvent]:
    """The first ``n`` risk events from ``from_seq`` (retained ones first, then live)."""
    stream = stub.StreamRiskEvents(K.StreamRiskEventsRequest(from_seq=from_seq))
    out: list[risk_pb2.RiskEvent] = []

    async def collect() -> None:
        async for event in stream:
            out.append(event)
            if len(out) >= n:
                return

    try:
        await asyncio.wait_for(collect(), timeout)
    finally:
        stream.cancel()
    return out


async def test_http_kill_switch_requires_a_credential(risk: Risk) -> None:
    async with risk.http() as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        body = {"actor": "amy", "reason": "drill"}
        assert (await http.post("/v1/kill", json=body)).status_code == 401
        wrong = await http.post("/v1/kill", json=body, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and risk.service.state_of(DESK_SCOPE).state == TradingState.ACTIVE
        auth = {"Authorization": f"Bearer {TOKEN}"}
        missing = await http.post("/v1/kill", json={"actor": "amy"}, headers=auth)
        assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "reason"]
        unknown = await http.post("/v1/kill", json={**body, "account": "NOBODY"}, headers=auth)
        assert unknown.status_code == 400 and unknown.json()["field"] == "scope.account"
        ok = await http.post("/v1/kill", json={**body, "account": "ACC2"}, headers=auth)
        assert ok.status_code == 200 and ok.json()["state"] == "HALTED" and ok.json()["kill_id"]
        state = await http.get("/v1/trading-state", params={"account": "ACC2"}, headers=auth)
        assert state.json()["actor"] == "amy"
        assert risk.service.store.history(1)[0].change["door"] == "http"
        not_halted = await http.post("/v1/resume", json={"actor": "bob", "reason": "x"}, headers=auth)
        assert not_halted.status_code == 409
        back = await http.post(
            "/v1/resume", json={"actor": "bob", "reason": "drill over", "account": "ACC2"}, headers=auth
        )
        assert back.status_code == 200 and back.json()["state"] == "ACTIVE"


async def test_http_kill_switch_without_a_configured_credential_refuses(tmp_path: Path) -> None:
    r = await Risk(tmp_path).start(environ={})
    try:
        async with r.http() as http:
            resp = await http.post(
                "/v1/kill", json={"actor": "a", "reason": "b"}, headers={"Authorization": "Bearer x"}
            )
            assert resp.status_code == 503 and "TD_RISK_HTTP_TOKEN" in resp.json()["detail"]
    finally:
        await r.stop()


async def test_http_credential_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("from-a-file\n")
    r = await Risk(tmp_path).start(environ={"TD_RISK_HTTP_TOKEN_FILE": str(secret)})
    try:
        async with r.http() as http:
            ok = await http.post(
                "/v1/kill", json={"actor": "a", "reason": "b"}, headers={"Authorization": "Bearer from-a-file"}
            )
            assert ok.status_code == 200
    finally:
        await r.stop()


# -- real-time risk ------------------------------------------------------------------------------------------
def losing_session(path: Path) -> list[MarketEvent]:
    """A recorded session: AAPL rallies from 100 to 103 in 30 s, then gives it all back."""
    px = D("0.01")
    events = [
        MarketEvent(0, "AAPL", QUOTE, D("99.99"), D("200"), D("100.01"), D("200")),
        MarketEvent(1, "AAPL", TRADE, price=D("100"), qty=D("10")),
    ]
    prices = [D("100") + i * 10 * px for i in range(31)] + [D("103") - i * 10 * px for i in range(1, 31)]
    for i, price in enumerate(prices):
        ts = (i + 1) * SECOND
        events.append(MarketEvent(ts, "AAPL", QUOTE, price - px, D("200"), price + px, D("200")))
        events.append(MarketEvent(ts + 1, "AAPL", TRADE, price=price, qty=D("5")))
    write_csv(path, events)
    return list(read_csv(path))


async def replay(r: Risk, d, events, on_step=None) -> None:
    """Drive the order engine's venues and the risk service with the recorded events, in time order."""
    applied = 0
    start = r.clock.now_ns()
    for event in events:
        due = start + event.ts_ns
        if due > r.clock.now_ns():
            d.scheduler.advance((due - r.clock.now_ns()) / 1e9)
        if event.kind == QUOTE:
            d.quote(
                event.symbol,
                *(format_fixed(v) for v in (event.bid_price, event.bid_qty, event.ask_price, event.ask_qty)),
            )
        else:
            d.trade(event.symbol, format_fixed(event.price), format_fixed(event.qty))
            r.service.rt.on_mark(event.symbol, event.price)
        d.settle()
        r.service.apply_journal(d.journal.records[applied:])
        applied = len(d.journal.records)
        if on_step is not None:
            on_step(event)
        await r.service.evaluate()


async def test_drawdown_halt_from_a_replayed_losing_session(tmp_path: Path) -> None:
    clock = ManualClock()
    r = await Risk(tmp_path, {"maxDrawdown": "1000", "maxDailyLoss": "5000"}, clock).start()
    gate = GateFeed(r.stub)
    d = make_desk(default_limits(max_order_quantity=D("100000"), max_order_notional=D("10000000")), clock=clock)
    session = losing_session(tmp_path / "losing.csv")
    try:
        await gate.wait(lambda u: u.full)
        seen: list[tuple[int, int, int]] = []  # (time, drawdown, daily P&L) at each print

        def on_step(event) -> None:
            if event.ts_ns == 1:
                d.engine.submit(new(qty="500", price="100.05", account="ACC"))
            if event.kind == TRADE:
                daily, _, drawdown = r.service.rt.daily(DESK_SCOPE, clock.now_ns())
                seen.append((clock.now_ns(), drawdown, daily))

        await replay(r, d, session, on_step)
        assert d.engine.positions.qty("ACC", "AAPL") == D("500")
        state = r.service.state_of(DESK_SCOPE)
        assert state.state == TradingState.HALTED and state.actor == "risk:drawdown", state
        halted = await gate.wait(lambda u: any(s.state == common_pb2.TRADING_STATE_HALTED for s in u.states))
        assert halted.states[0].actor == "risk:drawdown"
        events_seen = await events(r.stub, 3)
        assert [(e.kind, e.metric) for e in events_seen] == [
            (K.RISK_EVENT_KIND_WARNING, "drawdown"),
            (K.RISK_EVENT_KIND_BREACH, "drawdown"),
            (K.RISK_EVENT_KIND_STATE_CHANGE, ""),
        ]
        when, drawdown, daily = next(x for x in seen if x[1] >= D("1000"))
        assert parse_fixed(events_seen[0].value) >= D("800")
        # Halted at the first print with a drawdown of 1,000 or more, while the day was still a gain.
        assert state.changed_ns == when and drawdown < D("1100")
        assert daily > 0, "a drawdown halt, not a loss halt"
        journal = [
            decode_change(ts_ns=c.ts_ns, actor=c.actor, reason=c.reason, change=c.change)
            for c in r.service.store.history(5)
        ]
        breach = next(c for c in journal if isinstance(c, BreachHalted))
        assert (breach.account, breach.strategy, breach.metric, breach.actor) == ("", "", "drawdown", "risk:drawdown")
        snap = await r.stub.GetRiskSnapshot(K.GetRiskSnapshotRequest())
        assert snap.state == common_pb2.TRADING_STATE_HALTED and parse_fixed(snap.drawdown) >= D("1000")
        assert snap.symbols[0].symbol == "AAPL" and snap.sectors[0].sector == "technology"
    finally:
        gate.close()
        await r.stop()


async def test_daily_loss_halts_only_the_account_that_lost(tmp_path: Path) -> None:
    clock = ManualClock()
    r = await Risk(tmp_path, {"scopes": [{"account": "ACC2", "maxDailyLoss": "300"}]}, clock).start()
    d = make_desk(clock=clock)
    d.trade("AAPL", "100.00", "1")
    d.quote("AAPL", "99.99", "500", "100.01", "500")
    r.service.rt.on_mark("AAPL", D("100"))
    d.engine.submit(new(qty="100", price="100.05", account="ACC2"))
    d.engine.submit(new(qty="10", price="100.05", account="ACC"))
    d.settle()
    r.service.apply_journal(d.journal.records)
    try:
        for price in ("99.00", "98.00", "97.50", "96.50"):
            clock.advance(SECOND)
            r.service.rt.on_mark("AAPL", D(price))
            await r.service.evaluate()
        assert r.service.state_of(("ACC2", "")).state == TradingState.HALTED
        assert r.service.state_of(("ACC2", "")).actor == "risk:daily_loss"
        assert r.service.state_of(DESK_SCOPE).state == TradingState.ACTIVE
        assert r.service.state_of(("ACC", "")).state == TradingState.ACTIVE
    finally:
        await r.stop()


class Session:
    """An order engine and a risk service sharing one manual clock; ``step`` settles the venues and hands the
    new journal records to the risk service, as its routing journal stream would."""

    def __init__(self, r: Risk) -> None:
        self.r = r
        self.d = make_desk(clock=r.clock)
        self.applied = 0

    def market(self, bid: str, ask: str, last: str | None = None) -> None:
        if last is not None:
            self.d.trade("AAPL", last, "1")
            self.r.service.rt.on_mark("AAPL", D(last))
        self.d.quote("AAPL", bid, "500", ask, "500")

    async def step(self) -> None:
        self.d.settle()
        self.r.service.apply_journal(self.d.journal.records[self.applied :])
        self.applied = len(self.d.journal.records)
        await self.r.service.evaluate()


async def test_slippage_breaker(tmp_path: Path) -> None:
    r = await Risk(tmp_path, {"circuitBreakers": {"slippageSpikeBps": 1, "maxSlippageSpikes": 2}}).start()
    s = Session(r)
    try:
        s.market("99.99", "100.01", last="100.00")
        s.d.engine.submit(new(qty="10", price="100.05", account="ACC"))  # fills at 100.03 with impact: 3 bp worse
        await s.step()
        assert r.service.state_of(("ACC", "")).state == TradingState.ACTIVE
        s.d.engine.submit(new(qty="10", price="100.05", account="ACC2"))  # another account: its own count
        await s.step()
        s.d.engine.submit(new(qty="10", price="100.05", account="ACC"))
        await s.step()
        assert r.service.state_of(("ACC", "")).actor == "risk:slippage"
        assert r.service.state_of(("ACC2", "")).state == TradingState.ACTIVE
    finally:
        await r.stop()


async def test_consecutive_losses_breaker(tmp_path: Path) -> None:
    r = await Risk(tmp_path, {"circuitBreakers": {"maxConsecutiveLosses": 2}}).start()
    s = Session(r)
    try:
        for i in range(2):
            s.market("99.99", "100.01", last="100.00")
            s.d.engine.submit(new(qty="10", price="100.05", account="ACC3", strategy="algo"))
            await s.step()
            s.market("98.99", "99.01", last="99.00")
            s.d.engine.submit(new(side=Side.SELL, qty="10", price="98.95", account="ACC3", strategy="algo"))
            await s.step()
            expected = TradingState.HALTED if i else TradingState.ACTIVE
            assert r.service.state_of(("ACC3", "algo")).state == expected
        assert r.service.state_of(("ACC3", "algo")).actor == "risk:consecutive_losses"
        assert r.service.state_of(("ACC3", "")).state == TradingState.ACTIVE
    finally:
        await r.stop()


async def test_venue_error_breaker(tmp_path: Path) -> None:
    r = await Risk(tmp_path, {"circuitBreakers": {"maxVenueErrors": 3, "venueErrorWindowSeconds": 10}}).start()
    s = Session(r)
    try:
        s.market("99.99", "100.01", last="100.00")
        for i in range(3):
            oid = s.d.engine.submit(new(qty="1", price="99.00", account="ACC2")).order.order_id
            s.d.engine.on_venue_rejected("xnys", oid, "venue down")  # what a failing venue calls
            await s.step()
            assert (r.service.state_of(DESK_SCOPE).state == TradingState.HALTED) == (i == 2)
        assert r.service.state_of(DESK_SCOPE).actor == "risk:venue_errors"
        assert "xnys" in r.service.state_of(DESK_SCOPE).reason
    finally:
        await r.stop()


async def test_var_es_and_volatility_scaled_size(tmp_path: Path) -> None:
    clock = ManualClock()
    r = await Risk(tmp_path, {"var": {"sampleMs": 1000, "window": 100, "confidencePct": 95}}, clock).start()
    rt = r.service.rt
    d = make_desk(clock=clock)
    d.trade("AAPL", "100.00", "1")
    d.quote("AAPL", "99.99", "500", "100.01", "500")
    d.engine.submit(new(qty="100", price="100.05", account="ACC"))
    d.settle()
    try:
        r.service.apply_journal(d.journal.records)
        price = 100.0
        rets = [0.01 * math.sin(i * 1.7) for i in range(100)]
        rt.on_mark("AAPL", D("100"))
        clock.advance(SECOND)  # past any sample the service's own loop took while it started
        rt.sample(clock.now_ns())
        for x in rets:
            price *= 1 + x
            clock.advance(SECOND)
            rt.on_mark("AAPL", D(f"{price:.2f}"))
            rt.sample(clock.now_ns())
        var, es, n = rt.var_es(DESK_SCOPE)
        assert n == 100
        value = 100 * float(f"{price:.2f}")
        realized = sorted(value * r_ for r_ in rt.returns("AAPL"))
        assert var == pytest.approx(-realized[4], rel=1e-9) and es == pytest.approx(-sum(realized[:5]) / 5, rel=1e-9)
        assert es >= var > 0
        size = await r.stub.SuggestPositionSize(K.SuggestPositionSizeRequest(symbol="AAPL", risk_budget="1000"))
        expected = 1000 / (parse_fixed(size.price) / 1e9 * size.horizon_volatility)
        assert size.samples == 100 and abs(parse_fixed(size.quantity) / 1e9 - expected) <= 1
        assert parse_fixed(size.quantity) % D("1") == 0, "on the lot grid"
        _, details = await abort_code(r.stub.SuggestPositionSize(K.SuggestPositionSizeRequest(symbol="AAPL")))
        assert details.startswith("risk_budget")
        _, details = await abort_code(
            r.stub.SuggestPositionSize(K.SuggestPositionSizeRequest(symbol="ZZZ", risk_budget="1"))
        )
        assert details.startswith("symbol")
        snap = await r.stub.GetRiskSnapshot(K.GetRiskSnapshotRequest())
        assert snap.var == pytest.approx(var) and snap.var_scenarios == 100 and snap.var_confidence_pct == 95
    finally:
        await r.stop()


async def test_exposure_warnings_at_80_percent(tmp_path: Path) -> None:
    clock = ManualClock()
    r = await Risk(tmp_path, {"maxGrossExposure": "10000"}, clock).start()
    d = make_desk(clock=clock)
    d.trade("AAPL", "100.00", "1")
    d.quote("AAPL", "99.99", "500", "100.01", "500")
    r.service.rt.on_mark("AAPL", D("100"))
    d.engine.submit(new(qty="85", price="100.05", account="ACC"))
    d.settle()
    r.service.apply_journal(d.journal.records)
    try:
        found = await r.service.evaluate()
        assert [(f.kind, f.metric) for f in found] == [("warning", "gross_exposure")]
        r.service.rt.on_mark("AAPL", D("118"))
        found = await r.service.evaluate()
        assert [(f.kind, f.metric, f.halt) for f in found] == [("breach", "gross_exposure", False)]
        r.service.rt.on_mark("AAPL", D("50"))
        found = await r.service.evaluate()
        assert [f.kind for f in found] == ["recovered"]
    finally:
        await r.stop()


async def test_release_latch(risk: Risk) -> None:
    gate = GateFeed(risk.stub)
    try:
        await gate.wait(lambda u: u.full)
        now = risk.clock.now_ns()
        latched = RiskLatched(
            ts_ns=now, account="ACC3", strategy="algo", symbol="AAPL", reason="4 fills", tripped_ns=now
        )
        risk.service.rt.on_event(1, latched, now)
        await risk.service.evaluate()
        await gate.wait(lambda u: any(x.scope.strategy == "algo" for x in u.latches))
        _, details = await abort_code(
            risk.stub.ReleaseLatch(K.ReleaseLatchRequest(scope=common_pb2.Scope(account="ACC3", strategy="algo")))
        )
        assert details.startswith("actor")
        scope = common_pb2.Scope(account="ACC3", strategy="algo")
        resp = await risk.stub.ReleaseLatch(K.ReleaseLatchRequest(scope=scope, actor="amy", reason="checked"))
        assert resp.released
        released = await gate.wait(lambda u: len(u.released) > 0)
        assert released.released[0].changed_ns >= now
        assert risk.service.store.history(1)[0].change["type"] == "latch_release"
    finally:
        gate.close()


async def test_every_rpc_names_the_bad_field(risk: Risk) -> None:
    s = risk.stub
    bad = common_pb2.Scope(account="NOBODY")
    cases = [
        (s.GetTradingState(K.GetTradingStateRequest(scope=bad)), "scope.account"),
        (s.GetRiskSnapshot(K.GetRiskSnapshotRequest(scope=common_pb2.Scope(strategy="x"))), "scope.strategy"),
        (s.SetTradingState(K.SetTradingStateRequest(state=7, actor="a", reason="r")), "state"),
        (s.SetTradingState(K.SetTradingStateRequest(state=3, actor="a" * 200, reason="r")), "actor"),
        (s.KillSwitch(K.KillSwitchRequest(scope=bad, actor="a", reason="r")), "scope.account"),
        (s.KillSwitch(K.KillSwitchRequest(actor="a", reason="r" * 2000)), "reason"),
        (s.Resume(K.ResumeRequest(scope=bad, actor="a", reason="r")), "scope.account"),
        (s.ReleaseLatch(K.ReleaseLatchRequest(actor="a", reason="r")), "scope.account"),
        (s.SetLimits(K.SetLimitsRequest(actor="a", reason="r")), "limits"),
        (s.SuggestPositionSize(K.SuggestPositionSizeRequest(symbol="AAPL", risk_budget="-1")), "risk_budget"),
        (
            s.SuggestPositionSize(K.SuggestPositionSizeRequest(symbol="AAPL", risk_budget="1", horizon_seconds=-1)),
            "horizon_seconds",
        ),
    ]
    for call, field in cases:
        code, details = await abort_code(call)
        assert code == C.INVALID_ARGUMENT and details.startswith(field), (field, details)
    assert risk.service.state_of(DESK_SCOPE).state == TradingState.ACTIVE, "a refused call changed nothing"


async def test_pnl_is_rounded_on_the_wire(tmp_path: Path) -> None:
    """The issue's example: 500 AAPL whose average cost came out 189.789999999, marked down to 189.55. The
    exact loss is 119.9999995; snapshots and loss events say 120, and the halt still judges the exact value."""
    clock = ManualClock()
    r = await Risk(tmp_path, {"maxDailyLoss": "119.9999995"}, clock).start()
    rt = r.service.rt
    try:
        rt.books[DESK_SCOPE].positions["AAPL"] = Position("", "AAPL", qty=D("500"), avg_cost=D("189.789999999"))
        rt.on_mark("AAPL", D("189.789999999"))
        rt.daily(DESK_SCOPE, clock.now_ns())  # the day starts flat
        rt.on_mark("AAPL", D("189.55"))
        await r.service.evaluate()
        snap = await r.stub.GetRiskSnapshot(K.GetRiskSnapshotRequest())
        assert (snap.unrealized_pnl, snap.daily_pnl, snap.drawdown, snap.realized_pnl) == ("-120", "-120", "120", "0")
        assert snap.symbols[0].net == "94775", "exposures stay exact"
        breach = (await events(r.stub, 1))[0]
        assert (breach.kind, breach.metric, breach.value) == (K.RISK_EVENT_KIND_BREACH, "daily_loss", "120")
        assert breach.limit == "119.9999995", "a limit is shown as configured"
        assert breach.message == "desk: daily loss 120 of limit 119.9999995"
        assert r.service.state_of(DESK_SCOPE).state == TradingState.HALTED
    finally:
        await r.stop()
