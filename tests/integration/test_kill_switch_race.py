"""A kill switch means "applied" when it returns: on a real embedded desk, an order sent the instant a kill
returns is never accepted, and one sent the instant a resume returns is never refused, thousands of times,
through every door (gRPC KillSwitch/Resume, the operator's SetTradingState for spec.tradingState, HTTP, CLI).

And a routing process that cannot acknowledge in time (stopped with SIGSTOP) is cut off: the call returns
saying so, and when the process runs again its gate refuses new orders until it has the full picture."""

from __future__ import annotations

import asyncio
import signal
import socket
import ssl
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import httpx
import pytest

from deskoperator import rpc
from tests import access
from tests.desk_runner import RunningDesk, free_ports, wait_for, write_desk
from tests.integration.test_kill_switch import bids
from tradingdesk.core.fixed import format_fixed
from tradingdesk.security import channels
from tradingdesk.security.tls import local_pki
from tradingdesk.v1 import common_pb2, orders_pb2, orders_pb2_grpc, risk_pb2, risk_pb2_grpc

pytestmark = pytest.mark.slow
TOKEN = "race-token"
GRPC_CYCLES = 1_200
SPEC_CYCLES = 300
HTTP_CYCLES = 500
CLI_CYCLES = 2
ACCOUNT = "ACC-EQ-2"


def race_desk(http_port: int, bound_ms: int = 2_000):
    """Orders far under the market that rest without filling: a wide collar, no LULD band."""

    def mutate(doc: dict) -> None:
        doc["spec"]["risk"].update(
            maxSubmitsPerSecond=1_000_000,
            priceCollarBps=5_000,
            luldBandBps=0,
            httpPort=http_port,
            gateStreamTimeoutMs=bound_ms,
        )

    return mutate


class Orders:
    """Submits one fresh order at a time and names the outcome: "ok", or the reject code."""

    def __init__(self, stub: orders_pb2_grpc.OrderServiceStub, price: str, prefix: str) -> None:
        self.stub, self.price, self.prefix, self.n = stub, price, prefix, 0

    def next_request(self) -> orders_pb2.SubmitOrderRequest:
        self.n += 1
        return orders_pb2.SubmitOrderRequest(
            client_order_id=f"{self.prefix}-{self.n}",
            account=ACCOUNT,
            symbol="AAPL",
            side=common_pb2.SIDE_BUY,
            order_type=common_pb2.ORDER_TYPE_LIMIT,
            quantity="1",
            limit_price=self.price,
            time_in_force=common_pb2.TIME_IN_FORCE_DAY,
        )

    async def outcome(self, request: orders_pb2.SubmitOrderRequest) -> str:
        try:
            await self.stub.SubmitOrder(request, timeout=10)
            return "ok"
        except grpc.aio.AioRpcError as err:
            return dict(err.trailing_metadata() or ()).get("td-reject-code", err.code().name)


class Race:
    """Counts what happened to the order sent the instant each change returned."""

    def __init__(self, orders: Orders) -> None:
        self.orders = orders
        self.after_kill: Counter[str] = Counter()
        self.after_resume: Counter[str] = Counter()
        self.applied: Counter[str] = Counter()

    async def kill_then_order(self, kill: Callable[[], Awaitable[str]]) -> None:
        request = self.orders.next_request()  # built beforehand: it leaves the moment the kill returns
        self.applied[await kill()] += 1
        self.after_kill[await self.orders.outcome(request)] += 1

    async def resume_then_order(self, resume: Callable[[], Awaitable[str]]) -> None:
        request = self.orders.next_request()
        self.applied[await resume()] += 1
        self.after_resume[await self.orders.outcome(request)] += 1


def applied_of(delivery) -> str:
    return f"applied by {delivery.applied} of {delivery.gates}, {delivery.cut_off} cut off"


async def test_no_order_is_accepted_after_a_kill_returned_nor_refused_after_a_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TD_RISK_HTTP_TOKEN", TOKEN)
    (http_port,) = free_ports(1)
    spec = write_desk(tmp_path, race_desk(http_port))
    desk = await RunningDesk(spec).start()
    try:
        prices = await wait_for(lambda: bids(desk), timeout=30)
        price = format_fixed(prices["AAPL"] * 80 // 100 // 10_000_000 * 10_000_000)
        async with (
            desk.channel("routing") as routing_ch,
            desk.channel("risk") as risk_ch,
            httpx.AsyncClient(
                base_url=f"https://127.0.0.1:{http_port}",
                headers={"Authorization": f"Bearer {TOKEN}"},
                verify=ssl.create_default_context(cafile=local_pki(desk.desk).ca_path),
                timeout=10,
            ) as http,
        ):
            risk = risk_pb2_grpc.RiskServiceStub(risk_ch)
            race = Race(Orders(orders_pb2_grpc.OrderServiceStub(routing_ch), price, "race"))
            assert await race.orders.outcome(race.orders.next_request()) == "ok"

            for i in range(GRPC_CYCLES):  # the desk, and the account alone, in turn
                scope = common_pb2.Scope(account=ACCOUNT if i % 2 else "")

                async def kill(scope=scope, i=i) -> str:
                    request = risk_pb2.KillSwitchRequest(scope=scope, actor="race", reason=f"kill {i}")
                    return applied_of((await risk.KillSwitch(request, timeout=10)).state.delivery)

                async def resume(scope=scope, i=i) -> str:
                    request = risk_pb2.ResumeRequest(scope=scope, actor="race", reason=f"resume {i}")
                    return applied_of((await risk.Resume(request, timeout=10)).delivery)

                await race.kill_then_order(kill)
                await race.resume_then_order(resume)

            address = desk.address("risk")  # the operator's call for spec.tradingState, as the operator makes it
            channels.use(access.credentials(desk.desk, "service"))  # a service identity, as the operator has
            try:
                for i in range(SPEC_CYCLES):
                    for state, step in (("Halted", race.kill_then_order), ("Active", race.resume_then_order)):
                        await step(lambda state=state, i=i: operator_sets(address, state, i))
            finally:
                channels.use(None)

            for i in range(HTTP_CYCLES):

                async def http_kill(i=i) -> str:
                    answer = await http.post("/v1/kill", json={"actor": "race", "reason": f"http {i}"})
                    assert answer.status_code == 200, answer.text
                    return http_applied(answer.json()["delivery"])

                async def http_resume(i=i) -> str:
                    answer = await http.post("/v1/resume", json={"actor": "race", "reason": f"http {i}"})
                    assert answer.status_code == 200, answer.text
                    return http_applied(answer.json()["delivery"])

                await race.kill_then_order(http_kill)
                await race.resume_then_order(http_resume)

            cli = [sys.executable, "-m", "tradingdesk.cli.main"]
            for i in range(CLI_CYCLES):
                await race.kill_then_order(lambda i=i: run_cli(*cli, "kill", "-f", str(spec), "--reason", f"cli {i}"))
                await race.resume_then_order(
                    lambda i=i: run_cli(*cli, "resume", "-f", str(spec), "--actor", "race", "--reason", f"cli {i}")
                )

        kills = GRPC_CYCLES + SPEC_CYCLES + HTTP_CYCLES + CLI_CYCLES
        print(
            f"\n[kill race] {kills} kills: {kills - race.after_kill['TRADING_HALTED']} orders not refused with "
            f"TRADING_HALTED after the kill returned ({dict(race.after_kill)}); {kills} resumes: "
            f"{kills - race.after_resume['ok']} orders refused after the resume returned ({dict(race.after_resume)})"
        )
        assert race.after_kill == Counter({"TRADING_HALTED": kills})
        assert race.after_resume == Counter({"ok": kills})
        assert set(race.applied) == {"applied by 1 of 1, 0 cut off"}, race.applied
    finally:
        await desk.stop()


async def operator_sets(address: str, state: str, i: int) -> str:
    confirmed = await asyncio.to_thread(
        rpc.set_trading_state, address, state, f"spec.tradingState set to {state} ({i})"
    )
    assert confirmed.describe() == "applied by 1 of 1 routing gate(s)", confirmed
    return "applied by 1 of 1, 0 cut off"


def http_applied(delivery: dict) -> str:
    return f"applied by {delivery['applied']} of {delivery['gates']}, {delivery['cut_off']} cut off"


async def run_cli(*argv: str) -> str:
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    first = out.decode().splitlines()[0]
    assert "applied by 1 of 1 routing gate(s)" in first, first
    return "applied by 1 of 1, 0 cut off"


async def test_a_routing_process_that_cannot_acknowledge_is_cut_off_and_fails_closed(tmp_path: Path) -> None:
    spec = write_desk(tmp_path, race_desk(0, bound_ms=500))
    desk = await RunningDesk(spec).start()
    routing = desk.embedded.children["routing"].process
    try:
        prices = await wait_for(lambda: bids(desk), timeout=30)
        price = format_fixed(prices["AAPL"] * 80 // 100 // 10_000_000 * 10_000_000)
        async with (
            desk.channel("routing") as routing_ch,
            desk.channel("risk") as risk_ch,
        ):
            risk = risk_pb2_grpc.RiskServiceStub(risk_ch)
            orders = Orders(orders_pb2_grpc.OrderServiceStub(routing_ch), price, "stuck")
            assert await orders.outcome(orders.next_request()) == "ok"

            routing.send_signal(signal.SIGSTOP)  # alive, connected, and unable to acknowledge anything
            try:
                kill = await risk.KillSwitch(risk_pb2.KillSwitchRequest(actor="ops", reason="stuck"), timeout=10)
            finally:
                routing.send_signal(signal.SIGCONT)
            delivery = kill.state.delivery
            assert (delivery.gates, delivery.applied, delivery.cut_off, delivery.ack_deadline_ms) == (1, 0, 1, 500)
            assert delivery.cut_off_gates[0].startswith(f"routing/{socket.gethostname()}/{routing.pid} ")
            # Running again, the gate never admits an order: cut off (or already halted), then halted.
            seen = await until_outcome(orders, "TRADING_HALTED", allowed={"RISK_STREAM_LOST"})
            await wait_for(lambda: cut_off_logged(tmp_path, 1), timeout=10, what="routing to log that it was cut off")
            # Reconnected: from the cut-off on it refuses RISK_STREAM_LOST until a new stream gave it the full
            # picture (halted). Stop it only once it is back (over mutual TLS the reconnect takes a handshake), so
            # the resume is sent to it.
            seen += await until_outcome(orders, "TRADING_HALTED", allowed={"RISK_STREAM_LOST"})

            routing.send_signal(signal.SIGSTOP)
            try:
                resumed = await risk.Resume(risk_pb2.ResumeRequest(actor="ops", reason="fixed"), timeout=10)
            finally:
                routing.send_signal(signal.SIGCONT)
            assert (resumed.delivery.applied, resumed.delivery.cut_off) == (0, 1)
            await wait_for(lambda: cut_off_logged(tmp_path, 2), timeout=10, what="routing to log the second cut-off")
            # It trades again only once it has reconnected and applied the full picture (ACTIVE).
            seen += await until_outcome(orders, "ok", allowed={"TRADING_HALTED", "RISK_STREAM_LOST"})
            print(f"\n[cut off] outcomes while the stopped routing process came back: {dict(seen)}")
    finally:
        if routing.returncode is None:
            routing.send_signal(signal.SIGCONT)
        await desk.stop()


def cut_off_logged(tmp_path: Path, times: int) -> bool:
    """Routing's gate logged ``times`` cut-offs (with the risk service's reason, or the undelivered acknowledgement
    that stands for it when the stream ended under the gate's write)."""
    log = (tmp_path / "logs" / "routing.log").read_text()
    return log.count("refusing new orders until the stream is back") >= times


async def until_outcome(orders: Orders, wanted: str, *, allowed: set[str]) -> Counter[str]:
    """Submit orders until one ends in ``wanted``; every other outcome on the way must be ``allowed``."""
    seen: Counter[str] = Counter()

    async def arrived() -> bool:
        outcome = await orders.outcome(orders.next_request())
        seen[outcome] += 1
        assert outcome == wanted or outcome in allowed, f"{outcome} on the way to {wanted}: {dict(seen)}"
        return outcome == wanted

    await wait_for(arrived, timeout=15, interval=0.01, what=wanted)
    return seen
