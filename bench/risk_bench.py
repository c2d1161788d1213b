"""Risk benchmarks: the gate's checks per order, the kill switch to every gate halted, and a mass cancel.

* ``risk_gate_p50_us`` / ``risk_gate_p99_us``: ``RiskGate.check`` with every control on (desk, account and
  strategy limits, exposure with 1,000 open orders and positions, throttles, order-to-trade ratio, duplicate
  detection, short-sale rule with locates, LULD, symbol halts and the restricted list, the stream guard),
  each call timed alone, best of three runs. Baseline: the same number of calls, timed the same way, to a no-op
  function with the same signature, in the same run.
* ``kill_switch_ms``: a real embedded desk plus three more gates fed by ``StreamGateUpdates`` in this process
  (acknowledging like routing's, ``risk/gate_stream.py``): from sending ``KillSwitch`` until every gate is halted
  (the routing gate is probed with orders until it refuses with TRADING_HALTED). Since ``KillSwitch`` returns
  only once every gate has applied the kill, the first probe is refused. Median of several kills. Baseline: one
  unary round trip to the risk service.
* ``mass_cancel_10k_ms``: an order engine with three simulated venues on an asyncio loop and a SQLite journal:
  10,000 open orders, then ``halt_scope`` until none is open. Baseline: the same 10,000 orders cancelled one
  by one through ``OrderEngine.cancel``.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import tempfile
import time
from pathlib import Path

import grpc

from bench.report import figure
from tests.desk_runner import RunningDesk, wait_for, write_desk
from tradingdesk.core.clock import WallClock
from tradingdesk.core.enums import OrderType, Side, TimeInForce, TradingState
from tradingdesk.core.fixed import format_fixed, parse_fixed, to_units
from tradingdesk.core.instruments import Instrument
from tradingdesk.oms.engine import OrderEngine
from tradingdesk.oms.requests import NewOrder, OrderRef
from tradingdesk.oms.router import Router
from tradingdesk.risk.gate import RiskGate
from tradingdesk.risk.gate_stream import follow_gate_updates
from tradingdesk.risk.limits import Limits, LimitSet
from tradingdesk.risk.wire import state_from_proto
from tradingdesk.storage.db import make_engine, migrate
from tradingdesk.storage.journal import Journal
from tradingdesk.v1 import (
    common_pb2,
    market_data_pb2,
    market_data_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
    risk_pb2,
    risk_pb2_grpc,
)
from tradingdesk.venues.scheduling import LoopScheduler
from tradingdesk.venues.simulated import SimulatedVenue

GATE_N = 50_000
GATE_WARMUP = 5_000
GATE_RUNS = 3
KILLS = 7
CANCEL_N = 10_000
U = to_units
SYMBOLS = [f"S{i:02d}" for i in range(40)]
SECTORS = ("technology", "energy", "financials", "health")
ACCOUNTS = ("A1", "A2", "A3", "A4")
STRATEGIES = ("twap", "vwap", "manual")


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p * len(s)))]


# -- the gate ------------------------------------------------------------------------------------------------
def all_controls() -> Limits:
    big = U(10**12)
    scope = LimitSet(
        max_order_quantity=U(50_000),
        max_order_notional=U(10**9),
        price_collar_bps=800,
        credit_limit=big,
        max_position_quantity=U(10**9),
        max_gross_exposure=big,
        max_net_exposure=big,
        max_symbol_concentration_bps=9_000,
        max_sector_concentration_bps=9_500,
        max_submits_per_second=1_000_000,
        max_modifies_per_second=1_000_000,
        max_cancels_per_second=1_000_000,
        max_order_to_trade_ratio=1_000_000,
        max_repeated_executions=1_000_000,
    )
    scopes = {(a, ""): scope for a in ACCOUNTS} | {(a, s): scope for a in ACCOUNTS for s in STRATEGIES}
    return Limits(
        max_order_quantity=U(100_000),
        max_order_notional=U(10**10),
        price_collar_bps=1_000,
        credit_limit=big,
        max_position_quantity=U(10**9),
        max_gross_exposure=big,
        max_net_exposure=big,
        max_symbol_concentration_bps=9_000,
        max_sector_concentration_bps=9_500,
        max_submits_per_second=1_000_000,
        max_modifies_per_second=1_000_000,
        max_cancels_per_second=1_000_000,
        max_order_to_trade_ratio=1_000_000,
        max_repeated_executions=1_000_000,
        reference_max_age_ms=3_600_000,
        restricted_symbols=frozenset({"RESTRICTED"}),
        order_to_trade_min_messages=1,
        duplicate_window_ms=1_000,
        short_sale_rule=True,
        locates={(a, s): U(10**6) for a in ACCOUNTS for s in SYMBOLS},
        halted_symbols=frozenset({"HALTED"}),
        luld_band_bps=1_000,
        luld_low_price_band_bps=2_000,
        gate_stream_timeout_ms=3_600_000,
        scopes=scopes,
    )


def gate_with_state(now: int) -> RiskGate:
    gate = RiskGate(all_controls())
    gate.bind_instruments({s: SECTORS[i % len(SECTORS)] for i, s in enumerate(SYMBOLS)})
    gate.arm_stream_guard(now)
    for i, s in enumerate(SYMBOLS):
        for k in range(5):
            gate.on_trade(s, U(100 + i) + k * 10_000_000, now - (5 - k) * 10**9)
    # 1,000 open orders and a position in every symbol for every account and strategy.
    for i in range(1_000):
        a, st, s = ACCOUNTS[i % 4], STRATEGIES[i % 3], SYMBOLS[i % len(SYMBOLS)]
        side = Side.BUY if i % 2 else Side.SELL_SHORT
        gate.exposure.open(f"O{i}", account=a, strategy=st, symbol=s, side=side, qty=U(10), price=U(99))
        if i % 5 == 0:
            gate.exposure.fill(f"O{i}", account=a, strategy=st, symbol=s, side=side, qty=U(5), price=U(99))
    return gate


def orders(n: int) -> list[dict]:
    """Buys under the last trade and short sales above it, all different (no duplicates), all compliant."""
    out = []
    for i in range(n):
        k = i % len(SYMBOLS)
        ref = U(100 + k)
        buy = i % 2 == 0
        step = (i % 97) * 10_000_000
        out.append(
            {
                "account": ACCOUNTS[i % 4],
                "strategy": STRATEGIES[i % 3],
                "symbol": SYMBOLS[k],
                "side": Side.BUY if buy else Side.SELL_SHORT,
                "order_type": OrderType.LIMIT,
                "qty": U(1 + i % 50),
                "price": ref - step if buy else ref + step,
            }
        )
    return out


def noop(
    *,
    account: str,
    strategy: str,
    symbol: str,
    side: Side,
    order_type: OrderType,
    qty: int,
    price: int,
    now_ns: int,
) -> None:
    return None


def time_calls(fn, reqs: list[dict], start_ns: int) -> list[float]:
    clock = time.perf_counter_ns
    out = []
    now = start_ns
    gc.disable()
    try:
        for req in reqs:
            now += 20_000  # 50,000 orders per second of desk time
            t0 = clock()
            fn(**req, now_ns=now)
            out.append((clock() - t0) / 1_000)
    finally:
        gc.enable()
    return out


def gate_figures() -> list[dict]:
    """Best of ``GATE_RUNS`` runs (each on a fresh gate with the same state) for the gate and the baseline alike:
    on a shared machine a run's p99 is otherwise the scheduler's, not the gate's."""
    now = WallClock().now_ns()
    reqs = orders(GATE_N + GATE_WARMUP)
    # Every order passes every control; a refused one would measure the error path instead.
    probe = gate_with_state(now)
    t = now
    for r in reqs:
        t += 20_000
        probe.check(**r, now_ns=t)
    gated = [time_calls(gate_with_state(now).check, reqs, now)[GATE_WARMUP:] for _ in range(GATE_RUNS)]
    base = [time_calls(noop, reqs, now)[GATE_WARMUP:] for _ in range(GATE_RUNS)]
    return [
        figure(
            "risk_gate_p50_us",
            min(percentile(x, 0.5) for x in gated),
            "us",
            min(percentile(x, 0.5) for x in base),
        ),
        figure(
            "risk_gate_p99_us",
            min(percentile(x, 0.99) for x in gated),
            "us",
            min(percentile(x, 0.99) for x in base),
        ),
    ]


# -- the kill switch on a real desk ----------------------------------------------------------------------------
class BenchGate:
    """A gate fed by StreamGateUpdates like routing's: records when it first sees the desk HALTED."""

    def __init__(self, desk: RunningDesk, n: int) -> None:
        self.gate = RiskGate(Limits())
        self.halted_at = 0.0
        self.ready = asyncio.Event()
        self.task = asyncio.create_task(self._run(desk, f"bench-{n}"))

    async def _run(self, desk: RunningDesk, gate_id: str) -> None:
        async with desk.channel("risk", "service") as ch:  # a gate is one of the desk's services
            await follow_gate_updates(ch, gate=self.gate, gate_id=gate_id, clock=WallClock(), apply=self._apply)

    def _apply(self, update: risk_pb2.GateUpdate) -> None:
        for s in update.states:
            scope, entry = state_from_proto(s)
            self.gate.set_state(scope, entry)
        self.ready.set()
        if self.gate.effective_state("x", "")[0] == TradingState.HALTED and not self.halted_at:
            self.halted_at = time.perf_counter()

    def close(self) -> None:
        self.task.cancel()


async def kill_figure() -> dict:
    with tempfile.TemporaryDirectory(prefix="td-bench-risk-") as tmp:

        def relax(doc: dict) -> None:
            doc["spec"]["risk"]["maxSubmitsPerSecond"] = 1_000_000

        desk = await RunningDesk(write_desk(Path(tmp), relax)).start()
        try:
            bid = await wait_for(lambda: _bid(desk), timeout=20)
            price = format_fixed(bid * 98 // 100 // 10_000_000 * 10_000_000)
            async with (
                desk.channel("risk") as rch,
                desk.channel("routing") as och,
            ):
                risk = risk_pb2_grpc.RiskServiceStub(rch)
                routing = orders_pb2_grpc.OrderServiceStub(och)
                base = []
                for _ in range(50):
                    t0 = time.perf_counter()
                    await risk.GetTradingState(risk_pb2.GetTradingStateRequest())
                    base.append((time.perf_counter() - t0) * 1000)
                gates = [BenchGate(desk, n) for n in range(3)]
                await asyncio.gather(*(g.ready.wait() for g in gates))
                times = []
                for k in range(KILLS):
                    for g in gates:
                        g.halted_at = 0.0
                    n = 0
                    t0 = time.perf_counter()
                    await risk.KillSwitch(risk_pb2.KillSwitchRequest(actor="bench", reason=f"bench kill {k}"))
                    while True:  # probe the routing gate until it refuses
                        n += 1
                        req = _order(f"kb-{k}-{n}-{time.monotonic_ns()}", price)
                        try:
                            await routing.SubmitOrder(req, timeout=5)
                        except grpc.aio.AioRpcError as err:
                            if "halted" in err.details():
                                break
                            raise
                    routed = time.perf_counter()
                    while not all(g.halted_at for g in gates):
                        await asyncio.sleep(0)
                    done = max(routed, *(g.halted_at for g in gates))
                    times.append((done - t0) * 1000)
                    await risk.Resume(risk_pb2.ResumeRequest(actor="bench", reason="bench resume"))
                    await asyncio.sleep(0.05)
                for g in gates:
                    g.close()
        finally:
            await desk.stop()
    return figure("kill_switch_ms", statistics.median(times), "ms", statistics.median(base))


def _order(cl: str, price: str) -> orders_pb2.SubmitOrderRequest:
    return orders_pb2.SubmitOrderRequest(
        client_order_id=cl,
        account="ACC-EQ-2",
        symbol="AAPL",
        side=common_pb2.SIDE_BUY,
        order_type=common_pb2.ORDER_TYPE_LIMIT,
        quantity="1",
        limit_price=price,
        time_in_force=common_pb2.TIME_IN_FORCE_DAY,
    )


async def _bid(desk: RunningDesk) -> int | None:
    async with desk.channel("feeds") as ch:
        q = await market_data_pb2_grpc.MarketDataServiceStub(ch).GetQuote(
            market_data_pb2.GetQuoteRequest(symbol="AAPL"), timeout=1
        )
    return parse_fixed(q.bid_price) if q.bid_price else None


# -- mass cancel -----------------------------------------------------------------------------------------------
async def mass_cancel_figure() -> dict:
    with tempfile.TemporaryDirectory(prefix="td-bench-cancel-") as tmp:
        mass = await _cancel_run(Path(tmp) / "mass.db", mass=True)
        one_by_one = await _cancel_run(Path(tmp) / "single.db", mass=False)
    return figure("mass_cancel_10k_ms", mass, "ms", one_by_one)


async def _cancel_run(db_path: Path, *, mass: bool) -> float:
    loop = asyncio.get_running_loop()
    db = make_engine(f"sqlite:///{db_path}")
    migrate(db)
    journal = Journal(db, batch_max=5_000)
    journal.start()
    clock = WallClock()
    scheduler = LoopScheduler(loop)
    symbols = SYMBOLS[:10]
    instruments = {s: Instrument(s, 10_000_000, U(1), SECTORS[i % 4]) for i, s in enumerate(symbols)}
    names = ("xnys", "xnas", "bats")
    venues: dict[str, SimulatedVenue] = {}
    router = Router(
        venues,
        symbols_by_venue={n: frozenset() for n in names},
        taker_fees={n: 0 for n in names},
        default_venue=names[0],
        smart=False,
    )
    gate = RiskGate(Limits(max_submits_per_second=0, reference_max_age_ms=3_600_000, price_collar_bps=2_000))
    engine = OrderEngine(
        instruments=instruments,
        gate=gate,
        router=router,
        venues=venues,
        journal_append=journal.append,
        clock=clock,
        scheduler=scheduler,
    )
    for n in names:
        venues[n] = SimulatedVenue(
            n, instruments=instruments, listener=engine, scheduler=scheduler, clock=clock, latency_us=150
        )
    now = clock.now_ns()
    for i, s in enumerate(symbols):
        ref = U(100 + i)
        gate.on_trade(s, ref, now)
        for v in venues.values():
            v.on_quote(s, ref - 10_000_000, U(500), ref + 10_000_000, U(500), now)
    for i in range(CANCEL_N):
        s = symbols[i % len(symbols)]
        price = U(100 + symbols.index(s)) - U(1) - (i % 50) * 10_000_000
        engine.submit(
            NewOrder(
                client_order_id=f"m{i}",
                account="ACC",
                strategy="",
                symbol=s,
                side=Side.BUY,
                order_type=OrderType.LIMIT,
                qty=U(1),
                price=price,
                tif=TimeInForce.DAY,
                venue=names[i % 3],
            )
        )
    while any(o.status != o.status.NEW for o in engine.open_orders.values()):
        await asyncio.sleep(0.005)
    assert engine.open_count == CANCEL_N
    t0 = time.perf_counter()
    if mass:
        engine.halt_scope(actor="bench", reason="mass cancel", changed_ns=1)
    else:
        for order in list(engine.open_orders.values()):
            engine.cancel(OrderRef("ACC", order.order_id, ""))
    while engine.open_count:
        await asyncio.sleep(0)
    elapsed = (time.perf_counter() - t0) * 1000
    journal.close()
    db.dispose()
    return elapsed


async def run_async() -> list[dict]:
    rows = gate_figures()
    rows.append(await kill_figure())
    rows.append(await mass_cancel_figure())
    return rows


def run() -> list[dict]:
    return asyncio.run(run_async())


if __name__ == "__main__":
    run()
