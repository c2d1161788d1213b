"""The kill switch on a real embedded desk: 1,000 open orders across three venues, each door, the incident
report in the journal, and a desk started halted from spec.tradingState."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

import grpc
import httpx
import pytest

from tests.desk_runner import DeskProcess, RunningDesk, free_ports, wait_for, write_desk
from tradingdesk.core.fixed import format_fixed, parse_fixed
from tradingdesk.security.tls import local_pki
from tradingdesk.v1 import (
    common_pb2,
    market_data_pb2,
    market_data_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
    risk_pb2,
    risk_pb2_grpc,
)

pytestmark = pytest.mark.slow
SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "JPM", "XOM", "JNJ", "PG")
VENUES = ("xnys", "xnas", "bats")
TOKEN = "kill-switch-test-token"


def relaxed(http_port: int, state: str = "Active"):
    def mutate(doc: dict) -> None:
        doc["spec"]["tradingState"] = state
        doc["spec"]["risk"].update(maxSubmitsPerSecond=1_000_000, httpPort=http_port)

    return mutate


async def bids(desk: RunningDesk | DeskProcess) -> dict[str, int] | None:
    async with desk.aio_channel("feeds") as ch:
        snap = await market_data_pb2_grpc.MarketDataServiceStub(ch).GetSnapshot(market_data_pb2.GetSnapshotRequest())
    # The gate's reference is the last trade: wait until every symbol has printed one, not just quoted.
    out = {q.symbol: parse_fixed(q.bid_price) for q in snap.quotes if q.bid_price and q.last_price}
    if not all(s in out for s in SYMBOLS):
        return None
    return out if await routing_gate_ready(desk, out) else None


async def routing_gate_ready(desk: RunningDesk | DeskProcess, bid_prices: dict[str, int]) -> bool:
    """Whether routing's own gate has a reference price for every symbol: an order at twice the bid is then
    refused by the price collar rather than for having no reference (a refusal changes nothing). A halted
    desk refuses before looking at prices; nothing can pass it anyway, so its gate counts as ready."""
    async with desk.aio_channel("routing") as ch:
        stub = orders_pb2_grpc.OrderServiceStub(ch)
        for symbol, bid in bid_prices.items():
            probe = orders_pb2.SubmitOrderRequest(
                client_order_id=f"probe-{symbol}",
                account="ACC-EQ-2",
                symbol=symbol,
                side=common_pb2.SIDE_BUY,
                order_type=common_pb2.ORDER_TYPE_LIMIT,
                quantity="1",
                limit_price=format_fixed(bid * 2 // 10_000_000 * 10_000_000),
            )
            code = await refused_code(stub, probe)
            if code == "TRADING_HALTED":
                return True
            if code != "PRICE_COLLAR":
                return False
    return True


def resting(bid_prices: dict[str, int], n: int, prefix: str, accounts=("ACC-EQ-1", "ACC-EQ-2")):
    """Buys 1-3% under the bid on every venue in turn: inside the collar and the LULD band, never filled."""
    out = []
    for i in range(n):
        symbol = SYMBOLS[i % len(SYMBOLS)]
        price = bid_prices[symbol] * (97 + i % 3) // 100 // 10_000_000 * 10_000_000
        account = accounts[i % len(accounts)]
        out.append(
            orders_pb2.SubmitOrderRequest(
                client_order_id=f"{prefix}-{i:05d}",
                account=account,
                strategy="twap" if account == "ACC-EQ-1" else "",
                symbol=symbol,
                side=common_pb2.SIDE_BUY,
                order_type=common_pb2.ORDER_TYPE_LIMIT,
                quantity="1",
                limit_price=format_fixed(price),
                time_in_force=common_pb2.TIME_IN_FORCE_DAY,
                venue=VENUES[i % len(VENUES)],
            )
        )
    return out


async def place(stub: orders_pb2_grpc.OrderServiceStub, requests) -> list[str]:
    async def gen():
        for start in range(0, len(requests), 500):
            chunk = requests[start : start + 500]
            yield orders_pb2.SessionRequests(
                requests=[orders_pb2.SessionRequest(submit=r, request_id=start + i + 1) for i, r in enumerate(chunk)]
            )

    acks: list[str] = []
    errors: list[str] = []
    async for batch in stub.OrderSession(gen()):
        for resp in batch.responses:
            which = resp.WhichOneof("response")
            if which == "ack":
                acks.append(resp.ack.order_id)
            elif which == "error":
                errors.append(resp.error.message)
        if len(acks) + len(errors) == len(requests):
            break
    assert not errors, errors[:3]
    return acks


async def open_orders(stub: orders_pb2_grpc.OrderServiceStub, account: str = "") -> list:
    resp = await stub.ListOrders(orders_pb2.ListOrdersRequest(account=account, open_only=True, limit=10_000))
    return list(resp.orders)


async def journal_kinds(stub: orders_pb2_grpc.OrderServiceStub, kind: str) -> list[dict]:
    found: list[dict] = []
    stream = stub.StreamJournal(orders_pb2.StreamJournalRequest(from_seq=1))

    async def read() -> None:
        async for batch in stream:
            found.extend(json.loads(e.payload_json) for e in batch.events if e.kind == kind)

    try:
        await asyncio.wait_for(read(), 2.0)
    except TimeoutError:
        pass
    finally:
        stream.cancel()
    return found


async def refused_code(stub, req) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await stub.SubmitOrder(req, timeout=5)
    meta = dict(exc.value.trailing_metadata() or ())
    return meta.get("td-reject-code", exc.value.code().name)


async def test_kill_switch_with_1000_open_orders_across_three_venues_ends_with_none(tmp_path: Path) -> None:
    (http_port,) = free_ports(1)
    desk = await RunningDesk(write_desk(tmp_path, relaxed(http_port))).start()
    try:
        prices = await wait_for(lambda: bids(desk), timeout=20)
        async with (
            desk.channel("routing") as routing,
            desk.channel("risk") as risk_ch,
        ):
            orders = orders_pb2_grpc.OrderServiceStub(routing)
            risk = risk_pb2_grpc.RiskServiceStub(risk_ch)
            ids = await place(orders, resting(prices, 1000, "k"))
            assert len(set(ids)) == 1000
            await wait_for(lambda: _all_new(orders, 1000), timeout=10)
            listed = await open_orders(orders)
            assert {o.venue for o in listed} == set(VENUES) and len(listed) == 1000

            t0 = time.perf_counter()
            kill = await risk.KillSwitch(
                risk_pb2.KillSwitchRequest(actor="jane.doe", reason="integration: runaway algo"), timeout=5
            )
            assert kill.gates >= 1 and kill.state.state == common_pb2.TRADING_STATE_HALTED
            await wait_for(lambda: _none_open(orders), timeout=10, interval=0.01)
            elapsed = time.perf_counter() - t0
            assert not await open_orders(orders)
            statuses = {o.status for o in (await orders.ListOrders(orders_pb2.ListOrdersRequest(limit=10_000))).orders}
            assert statuses == {common_pb2.ORDER_STATUS_CANCELED}
            late = resting(prices, 1, "late")[0]
            assert await refused_code(orders, late) == "TRADING_HALTED"

            incidents = await wait_for(lambda: journal_kinds(orders, "incident"), timeout=5)
            report = incidents[-1]
            assert (report["actor"], report["reason"], report["kill_id"]) == (
                "jane.doe",
                "integration: runaway algo",
                kill.kill_id,
            )
            assert report["open_orders"] == 1000 and sorted(report["cancelled"]) == sorted(ids)
            print(f"\n[kill switch] 1000 open orders on 3 venues cancelled in {elapsed * 1000:.1f} ms")

            # Resume needs a person and a reason; then the desk trades again.
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await risk.Resume(risk_pb2.ResumeRequest(reason="fixed"))
            assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "actor" in exc.value.details()
            await risk.Resume(risk_pb2.ResumeRequest(actor="jane.doe", reason="fixed"))
            await wait_for(lambda: _accepts(orders, resting(prices, 1, f"after-{time.monotonic_ns()}")[0]), 5)
    finally:
        await desk.stop()


async def _all_new(orders, n: int) -> bool:
    listed = await open_orders(orders)
    return len(listed) == n and all(o.status == common_pb2.ORDER_STATUS_NEW for o in listed)


async def _none_open(orders) -> bool:
    return not await open_orders(orders)


async def _accepts(orders, req) -> bool:
    try:
        await orders.SubmitOrder(req, timeout=5)
        return True
    except grpc.aio.AioRpcError:
        return False


async def test_http_and_cli_doors_halt_one_scope_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TD_RISK_HTTP_TOKEN", TOKEN)
    (http_port,) = free_ports(1)
    spec = write_desk(tmp_path, relaxed(http_port))
    desk = await RunningDesk(spec).start()
    try:
        prices = await wait_for(lambda: bids(desk), timeout=20)
        async with desk.channel("routing") as routing:
            orders = orders_pb2_grpc.OrderServiceStub(routing)
            await place(orders, resting(prices, 60, "d"))
            await wait_for(lambda: _all_new(orders, 60), timeout=10)
            https = ssl.create_default_context(cafile=local_pki(desk.desk).ca_path)
            async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{http_port}", verify=https, timeout=5) as http:
                denied = await http.post("/v1/kill", json={"actor": "ops", "reason": "x", "account": "ACC-EQ-2"})
                assert denied.status_code == 401
                ok = await http.post(
                    "/v1/kill",
                    json={"actor": "ops", "reason": "http drill", "account": "ACC-EQ-2"},
                    headers={"Authorization": f"Bearer {TOKEN}"},
                )
                assert ok.status_code == 200, ok.text
            await wait_for(lambda: _none_open_for(orders, "ACC-EQ-2"), timeout=10)
            assert len(await open_orders(orders, "ACC-EQ-1")) == 30, "the other account keeps its orders"

            env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
            cli = [sys.executable, "-m", "tradingdesk.cli.main"]
            run = subprocess.run(
                [*cli, "kill", "-f", str(spec), "--account", "ACC-EQ-1", "--strategy", "twap", "--actor", "ops",
                 "--reason", "cli drill"],
                capture_output=True, text=True, env=env, timeout=30,
            )  # fmt: skip
            assert run.returncode == 0, run.stderr
            assert "HALTED" in run.stdout and "cli drill" in run.stdout
            await wait_for(lambda: _none_open(orders), timeout=10)
            no_actor = subprocess.run(
                [*cli, "resume", "-f", str(spec), "--account", "ACC-EQ-1", "--strategy", "twap", "--reason", "x"],
                capture_output=True, text=True, env=env, timeout=30,
            )  # fmt: skip
            assert no_actor.returncode != 0 and "--actor" in no_actor.stderr
            resumed = subprocess.run(
                [*cli, "resume", "-f", str(spec), "--account", "ACC-EQ-1", "--strategy", "twap", "--actor", "ops",
                 "--reason", "drill over"],
                capture_output=True, text=True, env=env, timeout=30,
            )  # fmt: skip
            assert resumed.returncode == 0 and "ACTIVE" in resumed.stdout, resumed.stderr
            twap = resting(prices, 1, f"twap-{time.monotonic_ns()}", accounts=("ACC-EQ-1",))[0]
            await wait_for(lambda: _accepts(orders, twap), timeout=5)
            other = resting(prices, 1, f"eq2-{time.monotonic_ns()}", accounts=("ACC-EQ-2",))[0]
            assert await refused_code(orders, other) == "TRADING_HALTED", "ACC-EQ-2 stays halted"
    finally:
        await desk.stop()


async def _none_open_for(orders, account: str) -> bool:
    return not await open_orders(orders, account)


async def test_desk_started_halted_by_spec_refuses_orders(tmp_path: Path) -> None:
    desk = await RunningDesk(write_desk(tmp_path, relaxed(0, state="Halted"))).start()
    try:
        prices = await wait_for(lambda: bids(desk), timeout=20)
        async with desk.channel("routing") as routing:
            orders = orders_pb2_grpc.OrderServiceStub(routing)
            req = resting(prices, 1, "spec-halted")[0]
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await orders.SubmitOrder(req, timeout=5)
            assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "spec.tradingState is Halted" in exc.value.details()
    finally:
        await desk.stop()
