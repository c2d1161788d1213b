"""The order flow of a simulation, over gRPC like any client: strategy clients and the probe.

Two strategy clients share the configured rate: one calls unary ``SubmitOrder``/``CancelOrder``, the other
sends the same requests through one ``OrderSession`` stream. Each keeps a bounded number of resting orders
(1 share, 1% under the bid: inside the collar, never filled) and cancels its oldest beyond that; one submit in
twenty is a marketable IOC (2% over the bid), so the day has fills too. A submit that fails on the transport
(routing restarting, a deadline) is sent again with the same client order id, as a real client does: the
verdict then checks that the desk kept one order for it.

The probe sends one IOC order per second of market time and records whether it was acknowledged within
``probe_timeout_s`` (wall time): the availability figure is read from its log. It runs in a process of its own
(``simulate/probe_process.py``), so that the load it measures cannot make it late.

Everything a client was told is written down (``ClientLog``): the verdict reads it with the desk's record.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import grpc

from tradingdesk.core.clock import NS_PER_SECOND, Clock
from tradingdesk.core.fixed import format_fixed, parse_fixed
from tradingdesk.core.instruments import Instrument
from tradingdesk.security import channels
from tradingdesk.v1 import common_pb2, market_data_pb2, market_data_pb2_grpc, orders_pb2, orders_pb2_grpc

TICK_S = 0.05
"""How often a strategy client sends what its rate owes (wall seconds)."""
MAX_RESTING = 200
"""Resting orders per strategy client before it cancels its oldest."""
MARKETABLE_EVERY = 20
RPC_TIMEOUT_S = 5.0
RETRY_AFTER_S = 0.5
MAX_IN_FLIGHT = 64
PRICE_REFRESH_S = 0.1
SNAPSHOT_TIMEOUT_S = 2.0
"""Wall seconds a market-data snapshot may take before it is given up (and counted a failure)."""
TRANSPORT_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED})
"""Answers that say nothing about the order (it may or may not have been taken): resend the same id."""


@dataclass(frozen=True, slots=True)
class Acked:
    client_order_id: str
    order_id: str
    via: str  # unary | session | probe
    market_ns: int
    duplicate: bool


@dataclass
class ClientLog:
    """What the clients were told: every acknowledged order, refusals by code, transport errors by code."""

    acked: list[Acked] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    cancels: int = 0
    probes: list[dict] = field(default_factory=list)
    probe_snapshot_failures: Counter[str] = field(default_factory=Counter)
    """The probe's market-data snapshots that failed during the run, by code: it probed on with its last prices."""
    crashed: list[str] = field(default_factory=list)
    """Clients that stopped before the end of the run, with what stopped them (none should)."""

    def write(self, directory: Path) -> None:
        with (directory / "acks.jsonl").open("w") as out:
            for ack in self.acked:
                out.write(json.dumps(asdict(ack)) + "\n")
        with (directory / "probes.jsonl").open("w") as out:
            for probe in sorted(self.probes, key=lambda p: p["market_ns"]):  # answers come in any order
                out.write(json.dumps(probe) + "\n")
        summary = {
            "refused": dict(self.refused),
            "transport_errors": dict(self.transport_errors),
            "probe_snapshot_failures": dict(self.probe_snapshot_failures),
            "crashed": self.crashed,
        }
        (directory / "clients.json").write_text(json.dumps({**summary, "cancels": self.cancels}, indent=2) + "\n")


class Prices:
    """The best bid of each symbol, read from the feeds service now and then; kept while feeds is away.

    A snapshot that fails (feeds restarting: ``UNAVAILABLE``; too busy to answer within ``SNAPSHOT_TIMEOUT_S``:
    ``DEADLINE_EXCEEDED``) leaves the prices of the last answer in place and is counted in ``failures`` by code;
    ``failed(code, details)`` is told of each, so the probe process can say it: the probe orders priced from them
    are still sent and judged by their answers."""

    def __init__(
        self,
        feeds_address: str,
        instruments: dict[str, Instrument],
        *,
        failed: Callable[[str, str], None] | None = None,
    ) -> None:
        self.address = feeds_address
        self.instruments = instruments
        self.bids: dict[str, int] = {}
        self.updated_ns: dict[str, int] = {}
        """When the feed last updated each symbol (vendor time), for the probe to pick one that is trading."""
        self.failures: Counter[str] = Counter()
        self.failed = failed

    async def refresh_forever(self) -> None:
        async with channels.aio_channel(self.address, options=channels.FAST_RECONNECT) as channel:
            stub = market_data_pb2_grpc.MarketDataServiceStub(channel)
            while True:
                try:
                    snap = await stub.GetSnapshot(market_data_pb2.GetSnapshotRequest(), timeout=SNAPSHOT_TIMEOUT_S)
                    # only symbols that traded: the gate collars against the last trade
                    traded = [q for q in snap.quotes if q.bid_price and q.last_price]
                    self.bids.update((q.symbol, parse_fixed(q.bid_price)) for q in traded)
                    self.updated_ns.update((q.symbol, q.vendor_time_ns) for q in traded if not q.stale)
                except grpc.aio.AioRpcError as err:
                    self.failures[err.code().name] += 1
                    if self.failed is not None:
                        self.failed(err.code().name, err.details() or "")
                await asyncio.sleep(PRICE_REFRESH_S)

    async def wait_for_every_symbol(self, *, deadline: float) -> None:
        """Until every instrument has a traded price, or ``deadline`` (``time.monotonic()``) passes: the session
        then starts anyway, and a symbol without a price is not ordered."""
        while len(self.bids) < len(self.instruments) and time.monotonic() < deadline:
            await asyncio.sleep(PRICE_REFRESH_S)

    def limit(self, symbol: str, *, percent: int) -> int:
        """``percent`` of the bid, on the tick grid (rounded away from the market for a buy under it)."""
        raw = self.bids[symbol] * percent // 100
        return self.instruments[symbol].round_to_tick(raw, up=percent > 100)


class OrderFactory:
    """Client order ids unique to this run, and the orders themselves, until the session's close."""

    def __init__(
        self,
        prices: Prices,
        *,
        account: str,
        run_id: str,
        until_ns: int = 0,
        now: Callable[[], int] | None = None,
    ) -> None:
        """``until_ns``: the close of the session simulated, on the desk's clock (``now``); 0 for no end. The
        replay clock goes from the close straight to the next session's open: an order sent after it trades a day
        the run does not judge. The full day of December 5 sent its last orders 1 to 2 market seconds into the
        next session, where the marks' overnight move halted the desk by its drawdown limit, and one order
        routing accepted before the halt reached it failed ``accepted_while_halted``."""
        self.prices = prices
        self.account = account
        self.run_id = run_id
        self.until_ns = until_ns
        self.now = now
        self.n = 0

    def closed(self) -> bool:
        """The session simulated is over: no more orders."""
        return bool(self.until_ns) and self.now is not None and self.now() >= self.until_ns

    def submit(self, strategy: str, *, tag: str) -> orders_pb2.SubmitOrderRequest | None:
        """Strategy orders go round the symbols; the probe takes the symbol the feed updated last, so that it
        measures the order API rather than a quiet symbol's stale reference price. None without prices or after
        the session's close."""
        symbols = sorted(self.prices.bids)
        if not symbols or self.closed():
            return None
        self.n += 1
        updated = self.prices.updated_ns
        probe = tag == "probe" and updated
        symbol = max(updated, key=updated.__getitem__) if probe else symbols[self.n % len(symbols)]
        marketable = tag != "probe" and self.n % MARKETABLE_EVERY == 0
        ioc = marketable or tag == "probe"
        return orders_pb2.SubmitOrderRequest(
            client_order_id=f"{self.run_id}-{tag}-{self.n}",
            account=self.account,
            strategy=strategy,
            symbol=symbol,
            side=common_pb2.SIDE_BUY,
            order_type=common_pb2.ORDER_TYPE_LIMIT,
            quantity="1",
            limit_price=format_fixed(self.prices.limit(symbol, percent=102 if marketable else 99)),
            time_in_force=common_pb2.TIME_IN_FORCE_IOC if ioc else common_pb2.TIME_IN_FORCE_DAY,
        )


class Rate:
    """The strategy clients' target rate in orders/s (wall), with a burst factor a fault sets for a while."""

    def __init__(self, base: float) -> None:
        self.base = base
        self.factor = 1

    @property
    def now(self) -> float:
        return self.base * self.factor


class Owed:
    """How many orders a client owes its rate now, from the wall time that actually passed since it last asked.

    A client that added ``rate x TICK_S`` per tick fell short whenever a tick took longer than ``TICK_S`` (its
    sleep, plus sending what it owed): at ``--rate 200`` a day reached 123 orders/s."""

    def __init__(self, rate: Callable[[], float], *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.clock = clock
        self._owed = 0.0
        self._last = clock()

    def now(self) -> int:
        """The whole orders owed now (the fraction carries over to the next call); at most a second's worth, so a
        client held up (routing restarting, its in-flight bound reached) does not catch up in one burst."""
        now = self.clock()
        rate = self.rate()
        self._owed = min(self._owed + rate * (now - self._last), max(rate, 1.0))
        self._last = now
        whole = int(self._owed + 1e-9)  # 0.99999... of an order after float sums of wall times is one order
        self._owed -= whole
        return whole

    def forgive(self) -> None:
        """Nothing can be sent now (no price yet): what was owed is not sent in a burst later."""
        self._owed = 0.0


def _code(err: grpc.aio.AioRpcError) -> str:
    return err.code().name


class StrategyClient:
    """What both strategy clients share: where routing is, the orders, the rate, the log, the market clock, and
    the ids of their resting orders, oldest first (to cancel)."""

    def __init__(
        self, address: str, factory: OrderFactory, *, rate: Callable[[], float], log: ClientLog, clock: Clock
    ) -> None:
        self.address = address
        self.factory = factory
        self.rate = rate
        self.log = log
        self.clock = clock
        self.resting: deque[str] = deque()


class UnaryClient(StrategyClient):
    """Unary SubmitOrder / CancelOrder at its share of the rate, a bounded number in flight."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        self.tasks: set[asyncio.Task] = set()

    async def run(self) -> None:
        async with channels.aio_channel(self.address, options=channels.FAST_RECONNECT) as channel:
            stub = orders_pb2_grpc.OrderServiceStub(channel)
            owed = Owed(self.rate)
            try:
                while True:
                    for _ in range(owed.now()):
                        req = self.factory.submit("sim-unary", tag="u")
                        if req is None:
                            owed.forgive()
                            break
                        await self.in_flight.acquire()
                        self._spawn(self._submit(stub, req))
                        if len(self.resting) > MAX_RESTING:
                            await self.in_flight.acquire()
                            self._spawn(self._cancel(stub, self.resting.popleft()))
                    await asyncio.sleep(TICK_S)
            finally:
                await asyncio.gather(*self.tasks, return_exceptions=True)

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _submit(self, stub, req: orders_pb2.SubmitOrderRequest) -> None:
        try:
            for attempt in range(3):
                try:
                    ack = await stub.SubmitOrder(req, timeout=RPC_TIMEOUT_S)
                except grpc.aio.AioRpcError as err:
                    if err.code() in TRANSPORT_CODES and attempt < 2:
                        self.log.transport_errors[_code(err)] += 1
                        await asyncio.sleep(RETRY_AFTER_S)
                        continue
                    self.log.refused[_code(err)] += 1
                    return
                self.log.acked.append(
                    Acked(req.client_order_id, ack.order_id, "unary", self.clock.now_ns(), ack.duplicate)
                )
                if req.time_in_force == common_pb2.TIME_IN_FORCE_DAY:
                    self.resting.append(ack.order_id)
                return
        finally:
            self.in_flight.release()

    async def _cancel(self, stub, order_id: str) -> None:
        try:
            await stub.CancelOrder(
                orders_pb2.CancelOrderRequest(account=self.factory.account, order_id=order_id), timeout=RPC_TIMEOUT_S
            )
            self.log.cancels += 1
        except grpc.aio.AioRpcError as err:
            self.log.refused[f"cancel {_code(err)}"] += 1
        finally:
            self.in_flight.release()


class StreamStalled(Exception):
    """Requests were waiting on the stream and nothing came back for ``RPC_TIMEOUT_S``."""


class SessionClient(StrategyClient):
    """The same flow through one OrderSession stream; a broken stream is opened again and every request
    not yet answered is sent again (same client order id). A stream on which requests wait without an answer
    for ``RPC_TIMEOUT_S`` (the bound the unary client gives each call), or a write that waits that long, is
    given up and the stream opened again too: a stream has no deadline, and a connection whose far end went
    away without a word would hold it forever."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pending: dict[int, orders_pb2.SessionRequest] = {}
        self.next_id = 0
        self.answered_at = time.monotonic()

    async def run(self) -> None:
        while True:
            try:
                await self._one_stream()
            except grpc.aio.AioRpcError as err:
                self.log.transport_errors[f"session {_code(err)}"] += 1
            except StreamStalled:
                self.log.transport_errors["session stalled"] += 1
            except Exception as exc:  # counted, and the stream opened again: the run goes on
                self.log.transport_errors[f"session {type(exc).__name__}"] += 1
            await asyncio.sleep(RETRY_AFTER_S)

    def _request(self, **kind) -> orders_pb2.SessionRequest:
        self.next_id += 1
        req = orders_pb2.SessionRequest(request_id=self.next_id, **kind)
        self.pending[self.next_id] = req
        return req

    async def _one_stream(self) -> None:
        async with channels.aio_channel(self.address, options=channels.FAST_RECONNECT) as channel:
            stub = orders_pb2_grpc.OrderServiceStub(channel)
            call = stub.OrderSession()
            resend = list(self.pending.values())
            if resend:
                async with asyncio.timeout(RPC_TIMEOUT_S):  # not wait_for: on 3.11 it can swallow a cancellation
                    await call.write(orders_pb2.SessionRequests(requests=resend))
            reader = asyncio.create_task(self._read(call))
            owed = Owed(self.rate)
            self.answered_at = time.monotonic()
            try:
                while not reader.done():
                    if self.pending and time.monotonic() - self.answered_at > RPC_TIMEOUT_S:
                        raise StreamStalled
                    batch = []
                    for _ in range(owed.now()):
                        submit = self.factory.submit("sim-session", tag="s")
                        if submit is None:
                            owed.forgive()
                            break
                        batch.append(self._request(submit=submit))
                        if len(self.resting) > MAX_RESTING:
                            cancel = orders_pb2.CancelOrderRequest(
                                account=self.factory.account, order_id=self.resting.popleft()
                            )
                            batch.append(self._request(cancel=cancel))
                    if batch:
                        async with asyncio.timeout(RPC_TIMEOUT_S):
                            await call.write(orders_pb2.SessionRequests(requests=batch))
                    await asyncio.sleep(TICK_S)
                await reader  # raises what ended the stream
            finally:
                reader.cancel()
                call.cancel()

    async def _read(self, call) -> None:
        async for batch in call:
            self.answered_at = time.monotonic()
            for resp in batch.responses:
                req = self.pending.pop(resp.request_id, None) if resp.request_id else None
                if req is None:
                    continue
                which = resp.WhichOneof("response")
                if req.WhichOneof("request") == "cancel":
                    if which == "ack":
                        self.log.cancels += 1
                    else:
                        self.log.refused[f"cancel {status_name(resp.error.code)}"] += 1
                    continue
                if which == "ack":
                    submit = req.submit
                    self.log.acked.append(
                        Acked(
                            submit.client_order_id,
                            resp.ack.order_id,
                            "session",
                            self.clock.now_ns(),
                            resp.ack.duplicate,
                        )
                    )
                    if submit.time_in_force == common_pb2.TIME_IN_FORCE_DAY:
                        self.resting.append(resp.ack.order_id)
                else:
                    self.log.refused[resp.error.reject_code or status_name(resp.error.code)] += 1
        raise grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, None, None, "the session stream ended")


def status_name(code: int) -> str:
    """The name of a google.rpc.Code number, as a session error carries it."""
    return next((s.name for s in grpc.StatusCode if s.value[0] == code), str(code))


PROBE_AT_NS = NS_PER_SECOND // 5
"""Where in each market second the probe goes out (``Probe._to_next_probe_s`` says why)."""


class Probe:
    """One IOC order per market second; ``record`` gets each: its second, whether it was acknowledged within
    ``timeout_s`` and in how many ms, or the code it got, with the acknowledgement when there was one.

    It runs in a process of its own (``simulate/probe_process.py``), where it keeps its time on a thread of its own
    with a blocking channel whose calls complete on gRPC's threads. In the simulation's process it shared the GIL
    with the strategy clients, the supervisor and the alert watch, and ran late whenever they were busy: at 100x
    the probes of several market seconds then went out within one, and the seconds between had none, each counted
    as unavailable though no probe was ever sent (on the event loop, 3,911 seconds with several probes in one full
    day; on a thread of that process, still 212 of the day's 1,370 lost seconds ``NO_PROBE``)."""

    def __init__(
        self,
        address: str,
        factory: OrderFactory,
        *,
        record: Callable[[dict, Acked | None], None],
        clock: Clock,
        speed: float,
        timeout_s: float,
    ) -> None:
        self.address = address
        self.factory = factory
        """The probe's own (its numbering is not shared with a client on another thread)."""
        self.record = record
        """Called from the metronome's thread or gRPC's, once per probe, when it is answered or not sent."""
        self.clock = clock
        self.interval_s = 1.0 / speed
        self.timeout_s = timeout_s
        self._pending: set[grpc.Future] = set()
        self._lock = threading.Lock()

    async def run(self) -> None:
        """Probe until cancelled; then wait for the answers (or deadlines) of the probes in flight. Raises what
        stopped the metronome if it stops before."""
        stop = threading.Event()
        failed: list[BaseException] = []
        thread = threading.Thread(target=self._metronome, args=(stop, failed), name="simulation-probe", daemon=True)
        thread.start()
        try:
            await asyncio.to_thread(thread.join)
        finally:
            stop.set()
            await asyncio.to_thread(thread.join)
        raise RuntimeError("the probe's metronome stopped") from (failed[0] if failed else None)

    def _metronome(self, stop: threading.Event, failed: list[BaseException]) -> None:
        try:
            self._keep_time(stop)
        except BaseException as exc:
            failed.append(exc)
            raise

    def _keep_time(self, stop: threading.Event) -> None:
        channel = channels.channel(self.address, options=channels.FAST_RECONNECT)
        try:
            stub = orders_pb2_grpc.OrderServiceStub(channel)
            while not stop.wait(self._to_next_probe_s()):
                self._send(stub, self.clock.now_ns())
            with self._lock:
                pending = list(self._pending)
            for future in pending:
                future.exception()  # blocks until it is answered or its deadline passes
        finally:
            channel.close()

    def _to_next_probe_s(self) -> float:
        """Wall seconds until the next probe: ``PROBE_AT_NS`` into a market second, this one's when it is not yet
        there, else the next one's. Timed from the desk's clock each time, never by adding intervals to a start:
        the desk's clock is the wall clock, the wait the monotonic one, and their drift would add up over a day.

        Why that point of the second: a probe sent before it might fall in the second before (started at the
        open, a second's boundary, a probe a millisecond of wall time early, 0.1 market second at 100x, did: a
        1,800 s run at 100x counted 299 seconds ``NO_PROBE`` although its probes were never more than 1.5 market
        seconds apart), and one sent late falls in the next. Sent in the middle, a metronome that woke more than
        half a market second late (25 ms of wall time at 20x) left its second without a probe: 9 seconds of the
        20x full day of 2026-12-04, 6 of them late by 0.5 to 0.8 market seconds. A fifth of a second in leaves
        four fifths for a late wake and a fifth for an early one, which a wait on the monotonic clock does not
        make."""
        now = self.clock.now_ns()
        into = now % NS_PER_SECOND
        until = PROBE_AT_NS - into if into < PROBE_AT_NS else NS_PER_SECOND - into + PROBE_AT_NS
        return until / NS_PER_SECOND * self.interval_s

    def _send(self, stub, market_ns: int) -> None:
        req = self.factory.submit("probe", tag="probe")
        record = {"market_ns": market_ns, "acked": False, "ms": None, "code": "NO_PRICE"}
        if req is None:
            if self.factory.closed():
                record["code"] = "SESSION_CLOSED"
            self.record(record, None)
            return
        t0 = time.perf_counter()
        future = stub.SubmitOrder.future(req, timeout=self.timeout_s)

        def answered(done: grpc.Future) -> None:
            acked = None
            try:
                ack = done.result()
                record.update(acked=True, ms=round((time.perf_counter() - t0) * 1000, 3), code="OK")
                acked = Acked(req.client_order_id, ack.order_id, "probe", market_ns, ack.duplicate)
            except grpc.RpcError as err:
                record.update(code=err.code().name, symbol=req.symbol, why=(err.details() or "")[:160])
            self.record(record, acked)
            with self._lock:
                self._pending.discard(done)

        with self._lock:
            self._pending.add(future)
        future.add_done_callback(answered)
