"""MarketDataService on a real grpc.aio server with health, called through a real client channel."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.waiting import wait_for
from tradingdesk.core.fixed import parse_fixed
from tradingdesk.feeds.events import QUOTE, TRADE, MarketEvent
from tradingdesk.feeds.recording import read_csv, write_csv
from tradingdesk.feeds.service import MarketDataService
from tradingdesk.runtime.service import RunningService, start_service
from tradingdesk.spec import TradingDesk, parse_desk
from tradingdesk.v1 import market_data_pb2 as pb
from tradingdesk.v1 import market_data_pb2_grpc as pb_grpc

SYMBOLS = ["AAPL", "MSFT", "KO"]
BOUND = 32
TEARDOWN_S = 30


def make_desk(
    speed: str = "100", *, path: str = "", backup: bool = True, stale: int = 5000, loop: bool = True
) -> TradingDesk:
    replay = {"seed": 7, "speed": speed, "loop": loop, "path": path}
    lines = [{"name": "A"}, {"name": "B"}]
    primary = {"name": "vendor-a", "lines": lines, "replay": replay, "staleAfterMs": stale}
    feeds: list[dict[str, Any]] = [primary]
    if backup:
        feeds.append({"name": "vendor-b", "priority": 1, "lines": [{"name": "A"}], "replay": replay})
    return parse_desk(
        {
            "apiVersion": "tradingdesk.io/v1alpha1",
            "kind": "TradingDesk",
            "metadata": {"name": "feeds-test"},
            "spec": {
                "instruments": [
                    {"symbol": "AAPL", "referencePrice": "189.50"},
                    {"symbol": "MSFT", "referencePrice": "415.20"},
                    {"symbol": "KO", "referencePrice": "62.35"},
                ],
                "accounts": [{"name": "ACC-1"}],
                "feeds": feeds,
                "venues": [{"name": "xnys"}],
            },
        }
    )


Started = tuple[MarketDataService, RunningService, pb_grpc.MarketDataServiceStub]
Starter = Callable[..., Awaitable[Started]]


@contextlib.asynccontextmanager
async def running_services() -> AsyncIterator[Starter]:
    """Starts services (and client channels) on demand; everything is stopped on exit."""
    started: list[tuple[MarketDataService, RunningService, grpc.aio.Channel]] = []

    async def _start(desk: TradingDesk | None = None, **kwargs: Any) -> Started:
        service = MarketDataService(desk or make_desk(), **kwargs)
        running = await start_service(service, "127.0.0.1:0")
        channel = grpc.aio.insecure_channel(running.address)
        started.append((service, running, channel))
        return service, running, pb_grpc.MarketDataServiceStub(channel)

    try:
        yield _start
    finally:
        # Bounded: a teardown that hung once (CI, after a failed WebSocket test) held the whole run, its failure
        # never printed. Now it fails the test's teardown with a reason instead.
        for service, running, channel in started:
            await asyncio.wait_for(service.stop(), TEARDOWN_S)
            await channel.close()
            await asyncio.wait_for(running.stop(grace=0.5), TEARDOWN_S)


@pytest.fixture
async def start() -> AsyncIterator[Starter]:
    async with running_services() as starter:
        yield starter


async def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    return await wait_for(check, timeout, 0.01)


async def first_quote(stub: pb_grpc.MarketDataServiceStub, symbol: str) -> pb.Quote:
    async def quote() -> pb.Quote | None:
        try:
            return await stub.GetQuote(pb.GetQuoteRequest(symbol=symbol))
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                raise
            return None  # no data for the symbol yet

    return await wait_for(quote, 5, 0.01, what=f"a first quote of {symbol}")


async def test_serves_health_and_quotes_once_data_flows(start: Starter) -> None:
    service, running, stub = await start()
    quote = await first_quote(stub, "AAPL")
    async with grpc.aio.insecure_channel(running.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        process = await health.Check(health_pb2.HealthCheckRequest(service=""))
        assert process.status == health_pb2.HealthCheckResponse.SERVING

        async def serving() -> bool:  # the data service itself is SERVING once a line is live
            reply = await health.Check(health_pb2.HealthCheckRequest(service="tradingdesk.v1.MarketDataService"))
            return reply.status == health_pb2.HealthCheckResponse.SERVING

        await wait_for(serving, 5, 0.02, what="feeds to report SERVING with data flowing")
    assert quote.symbol == "AAPL" and quote.feed == "vendor-a"  # the preferred feed wins
    bid, ask = parse_fixed(quote.bid_price), parse_fixed(quote.ask_price)
    assert 0 < bid < ask and bid % 10**7 == 0
    assert parse_fixed(quote.bid_quantity) > 0 and parse_fixed(quote.ask_quantity) > 0
    assert quote.seq >= 1 and quote.vendor_time_ns > 0 and quote.receive_time_ns > 0
    assert not quote.stale
    assert service.arbitrators["vendor-a"].duplicates > 0  # both lines run; second copies are dropped


async def test_get_quote_errors(start: Starter, tmp_path: Path) -> None:
    # A recording with data for AAPL only: MSFT is an instrument of the desk without any data.
    path = tmp_path / "aapl.csv"
    write_csv(path, [MarketEvent(0, "AAPL", QUOTE, 10**11, 10**11, 10**11 + 10**7, 10**11)])
    _, _, stub = await start(make_desk(path=str(path), backup=False))
    await first_quote(stub, "AAPL")
    for symbol, code in [
        ("ZZZZ", grpc.StatusCode.NOT_FOUND),
        ("", grpc.StatusCode.INVALID_ARGUMENT),
        ("aapl!", grpc.StatusCode.INVALID_ARGUMENT),
        ("MSFT", grpc.StatusCode.FAILED_PRECONDITION),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.GetQuote(pb.GetQuoteRequest(symbol=symbol))
        assert err.value.code() == code, symbol
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetQuote(pb.GetQuoteRequest(symbol="ZZZZ"))
    assert "ZZZZ" in (err.value.details() or "")


async def test_snapshot_of_all_or_some_symbols(start: Starter) -> None:
    _, _, stub = await start()
    for s in SYMBOLS:
        await first_quote(stub, s)
    everything = await stub.GetSnapshot(pb.GetSnapshotRequest())
    assert sorted(q.symbol for q in everything.quotes) == sorted(SYMBOLS)
    some = await stub.GetSnapshot(pb.GetSnapshotRequest(symbols=["KO", "KO", "AAPL"]))
    assert [q.symbol for q in some.quotes] == ["KO", "AAPL"]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetSnapshot(pb.GetSnapshotRequest(symbols=["AAPL", "NOPE"]))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_subscribe_sends_the_snapshot_first_then_live_updates(start: Starter) -> None:
    service, _, stub = await start(make_desk(speed="10"))
    for s in SYMBOLS:
        await first_quote(stub, s)
    call = stub.Subscribe(pb.SubscribeRequest(symbols=["AAPL", "KO"]))
    first = [await call.read() for _ in range(2)]
    assert [e.snapshot for e in first] == [True, True]
    assert sorted(e.quote.symbol for e in first) == ["AAPL", "KO"]
    last_seq = max(e.quote.seq for e in first)
    kinds = set()
    for _ in range(60):
        event = await asyncio.wait_for(call.read(), 5)
        assert not event.snapshot
        which = event.WhichOneof("event")
        kinds.add(which)
        body = event.quote if which == "quote" else event.trade
        assert body.symbol in ("AAPL", "KO") and body.feed == "vendor-a"
        assert body.seq > last_seq  # one feed, one sequence: it only increases
        last_seq = body.seq
    assert kinds == {"quote", "trade"}
    call.cancel()
    await eventually(lambda: service.subscriber_stats() == [])  # a cancelled stream unregisters


async def test_subscribe_to_everything_and_refusals(start: Starter) -> None:
    _, _, stub = await start()
    for s in SYMBOLS:
        await first_quote(stub, s)
    call = stub.Subscribe(pb.SubscribeRequest())
    snapshot = [await call.read() for _ in SYMBOLS]
    assert all(e.snapshot for e in snapshot) and sorted(e.quote.symbol for e in snapshot) == sorted(SYMBOLS)
    call.cancel()
    bad = stub.Subscribe(pb.SubscribeRequest(symbols=["AAPL", "NOPE", "ZED"]))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await bad.read()
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "NOPE" in (err.value.details() or "") and "ZED" in (err.value.details() or "")


async def test_a_subscriber_that_never_reads_stays_bounded_and_does_not_block_others(start: Starter) -> None:
    service, running, stub = await start(make_desk(speed="100"), subscriber_bound=BOUND)
    # A client that subscribes and never reads; its own channel so it cannot share flow control.
    options = [("grpc.http2.bdp_probe", 0)]
    async with grpc.aio.insecure_channel(running.address, options=options) as lazy_channel:
        lazy = pb_grpc.MarketDataServiceStub(lazy_channel).Subscribe(pb.SubscribeRequest())
        await eventually(lambda: len(service.subscriber_stats()) == 1)
        lazy_peer_stats = lambda: service.subscriber_stats()[0]  # noqa: E731
        reader = stub.Subscribe(pb.SubscribeRequest(symbols=["AAPL"]))
        received = 0
        worst_queue = 0
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            event = await asyncio.wait_for(reader.read(), 5)
            assert event.WhichOneof("event") in ("quote", "trade")
            received += 1
            stats = lazy_peer_stats()
            worst_queue = max(worst_queue, stats.queued)
            assert stats.queued <= BOUND
            assert stats.pending_quotes <= len(SYMBOLS)
            if received >= 300 and stats.conflating:
                break
        stats = lazy_peer_stats()
        assert stats.conflating and stats.conflations >= 1, stats  # the lazy one overflowed ...
        assert worst_queue <= BOUND
        assert received >= 300  # ... while the other kept receiving
        reader.cancel()
        lazy.cancel()


async def test_stop_ends_streams_cleanly(start: Starter) -> None:
    service, _, stub = await start(make_desk(speed="10"))
    await first_quote(stub, "AAPL")
    call = stub.Subscribe(pb.SubscribeRequest(symbols=["AAPL"]))
    assert (await call.read()).snapshot
    await service.stop()
    while await asyncio.wait_for(call.read(), 5) is not grpc.aio.EOF:
        pass  # events already on their way; then the stream completes instead of hanging or failing
    assert await call.code() == grpc.StatusCode.OK
    assert service.subscriber_stats() == []
    late = stub.Subscribe(pb.SubscribeRequest())
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await late.read()
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    published = service.published
    await asyncio.sleep(0.05)
    assert service.published == published  # the lines are stopped
    assert (await stub.GetQuote(pb.GetQuoteRequest(symbol="AAPL"))).symbol == "AAPL"  # the state remains


async def test_recorded_file_replays_through_both_lines(start: Starter, tmp_path: Path) -> None:
    path = tmp_path / "rec.csv"
    events = [MarketEvent(0, "KO", QUOTE, 62 * 10**9, 100 * 10**9, 62 * 10**9 + 10**7, 200 * 10**9)]
    events.append(MarketEvent(1_000, "KO", TRADE, price=62 * 10**9 + 10**7, qty=100 * 10**9))
    write_csv(path, events)
    service, _, stub = await start(make_desk(speed="0", path=str(path), backup=False))
    quote = await first_quote(stub, "KO")
    await eventually(lambda: service.arbitrators["vendor-a"].next_seq > 10)  # looping
    quote = await stub.GetQuote(pb.GetQuoteRequest(symbol="KO"))
    assert (quote.bid_price, quote.ask_price, quote.bid_quantity) == ("62", "62.01", "100")
    assert (quote.last_price, quote.last_quantity) == ("62.01", "100")
    assert service.arbitrators["vendor-a"].gaps == 0


async def test_losses_on_one_line_are_recovered_from_the_other(start: Starter) -> None:
    # Line A loses every odd message, line B every fourth: together they still carry everything.
    def fault(feed: str, line: str, seq: int) -> bool:
        return feed == "vendor-a" and (seq % 2 == 1 if line == "A" else seq % 4 == 0)

    service, _, stub = await start(make_desk(speed="100"), line_fault=fault)
    arb = service.arbitrators["vendor-a"]
    await eventually(lambda: arb.recovered > 100)
    assert arb.gaps > 0 and arb.lost == 0
    assert (await first_quote(stub, "MSFT")).feed == "vendor-a"


async def test_the_backup_feed_takes_over_when_the_preferred_one_goes_silent(start: Starter) -> None:
    # vendor-a stops delivering after its 300th message on both lines; after staleAfterMs vendor-b wins.
    def fault(feed: str, line: str, seq: int) -> bool:
        return feed == "vendor-a" and seq > 300

    _, _, stub = await start(make_desk(speed="100", stale=50), line_fault=fault)
    assert (await first_quote(stub, "AAPL")).feed == "vendor-a"

    async def served_by_backup() -> bool:
        quote = await stub.GetQuote(pb.GetQuoteRequest(symbol="AAPL"))
        return quote.feed == "vendor-b" and not quote.stale

    await wait_for(served_by_backup, 5, 0.02, what="vendor-b to take over")


async def test_feed_status_reports_every_feed_and_line(start: Starter) -> None:
    service, _, stub = await start()
    await first_quote(stub, "AAPL")
    await eventually(lambda: all(h.health == "LIVE" for h in service.handlers.values()))
    report = await stub.GetFeedStatus(pb.GetFeedStatusRequest())
    assert report.serving and report.time_ns > 0
    assert [f.feed for f in report.feeds] == ["vendor-a", "vendor-b"]
    a = report.feeds[0]
    assert (a.kind, a.health, a.active_line) == ("replay", pb.FEED_HEALTH_LIVE, "A")
    assert (a.failover_after_ms, a.stale_after_ms) == (250, 5000)
    assert a.next_seq > 1 and a.published > 0 and a.duplicates > 0
    assert (a.gaps, a.lost, a.failovers, a.outliers) == (0, 0, 0, 0)
    assert [(line.name, line.state, line.active) for line in a.lines] == [
        ("A", pb.LINE_STATE_LIVE, True),
        ("B", pb.LINE_STATE_LIVE, False),
    ]
    assert all(line.received > 0 and line.malformed == 0 for line in a.lines)
    one = await stub.GetFeedStatus(pb.GetFeedStatusRequest(feeds=["vendor-b"]))
    assert [f.feed for f in one.feeds] == ["vendor-b"]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetFeedStatus(pb.GetFeedStatusRequest(feeds=["nope"]))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND and "nope" in (err.value.details() or "")


async def test_set_line_enabled_refuses_unknown_feeds_lines_and_long_reasons(start: Starter, tmp_path: Path) -> None:
    service, _, stub = await start()
    service.audit_events.address = f"unix:{tmp_path / 'no-compliance.sock'}"  # compliance is away
    for request, code, word in [
        (pb.SetLineEnabledRequest(feed="nope", line="A"), grpc.StatusCode.NOT_FOUND, "nope"),
        (pb.SetLineEnabledRequest(feed="vendor-a", line="C"), grpc.StatusCode.NOT_FOUND, "lines: A, B"),
        (
            pb.SetLineEnabledRequest(feed="vendor-a", line="A", reason="x" * 201),
            grpc.StatusCode.INVALID_ARGUMENT,
            "reason",
        ),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.SetLineEnabled(request)
        assert err.value.code() == code and word in (err.value.details() or "")
    assert all(h.enabled for h in service.handlers["vendor-a"].lines.values())  # nothing changed
    # compliance did not take the refusals at once: they wait in the queue for it
    assert [e.refused.code for e in service.audit_events._queue] == ["NOT_FOUND", "NOT_FOUND", "INVALID_ARGUMENT"]


async def test_a_line_change_compliance_cannot_record_is_refused_and_not_made(start: Starter, tmp_path: Path) -> None:
    """Feeds records a line change in the audit trail before making it (as risk journals its changes): with
    compliance away, taking a line out of service is refused with UNAVAILABLE and the line stays in service."""
    service, _, stub = await start()
    service.audit_events.address = f"unix:{tmp_path / 'no-compliance.sock'}"
    await eventually(lambda: service.handlers["vendor-a"].lines["B"].state == "LIVE")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.SetLineEnabled(pb.SetLineEnabledRequest(feed="vendor-a", line="B", actor="sre-anna", reason="drill"))
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert (err.value.details() or "").startswith(
        "the change could not be recorded in the audit trail, so it was not made: compliance answered UNAVAILABLE"
    )
    line = service.handlers["vendor-a"].lines["B"]
    assert line.enabled and line.state == "LIVE"
    # the refused attempt is on its way to the trail: queued, sent when compliance is back
    (refusal,) = service.audit_events._queue
    assert (refusal.refused.method, refusal.refused.code, refusal.refused.actor) == (
        "SetLineEnabled",
        "AUDIT_UNAVAILABLE",
        "sre-anna",
    )


async def test_the_shipped_sample_replays_completely_through_the_service(start: Starter) -> None:
    sample = Path(__file__).resolve().parents[2] / "examples" / "data" / "us-equities-open-10min.csv.gz"
    events = [e for e in read_csv(sample) if e.symbol in SYMBOLS]  # the desk replays its own symbols
    service, _, stub = await start(make_desk("0", path=str(sample), backup=False, loop=False))
    handler = service.handlers["vendor-a"]
    await eventually(lambda: handler.lines["A"].detail == "the recording ended", timeout=60)
    assert handler.arbitrator.next_seq == len(events) + 1
    assert handler.published == len(events) and handler.arbitrator.lost == 0 and handler.outliers.held == 0
    last = {e.symbol: e for e in events if e.kind == QUOTE}
    for symbol in SYMBOLS:
        q = await stub.GetQuote(pb.GetQuoteRequest(symbol=symbol))
        assert (parse_fixed(q.bid_price), parse_fixed(q.ask_price)) == (last[symbol].bid_price, last[symbol].ask_price)
