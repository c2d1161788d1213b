"""Trading status (halts, pauses, resumptions) as market data: a recorded replay and a WebSocket vendor deliver
it through a running MarketDataService to subscribers, snapshots and GetQuote; a status lost on every line
is restated from the vendor's snapshot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from tests.integration.test_market_data_service import Starter, eventually, first_quote, make_desk, running_services
from tests.integration.test_market_data_websocket import Vendor, quote, vendor, ws_desk  # noqa: F401 (fixture)
from tradingdesk.feeds.events import STATUS, MarketEvent
from tradingdesk.feeds.recording import write_csv
from tradingdesk.markets.status import SymbolStatus
from tradingdesk.v1 import market_data_pb2 as pb
from tradingdesk.v1 import market_data_pb2_grpc as pb_grpc

S = 1_000_000_000


@pytest.fixture
async def start() -> AsyncIterator[Starter]:
    async with running_services() as starter:
        yield starter


def status(ts: int, symbol: str, value: SymbolStatus, reason: str = "") -> MarketEvent:
    return MarketEvent(ts, symbol, STATUS, status=value, reason=reason)


class StatusTape:
    """Every trading status event a subscriber receives, as ``(symbol, status, reason, snapshot)``."""

    def __init__(self, stub: pb_grpc.MarketDataServiceStub, symbols: list[str] | None = None) -> None:
        self.seen: list[tuple[str, int, str, bool]] = []
        self._call = stub.Subscribe(pb.SubscribeRequest(symbols=symbols or []))
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for event in self._call:
            if event.WhichOneof("event") == "status":
                s = event.status
                self.seen.append((s.symbol, s.status, s.reason, event.snapshot))

    async def close(self) -> None:
        self._call.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def test_a_recorded_halt_and_resumption_reach_subscribers_snapshots_and_quotes(
    start: Starter, tmp_path: Path
) -> None:
    path = tmp_path / "halt.csv"
    q = quote(0, "189.50", "189.52")
    events = [
        q,
        MarketEvent(S, "AAPL", q.kind, q.bid_price, q.bid_qty, q.ask_price, q.ask_qty),
        status(2 * S, "AAPL", SymbolStatus.HALTED, "T1"),
        status(4 * S, "AAPL", SymbolStatus.TRADING),
        status(4 * S, "MSFT", SymbolStatus.PAUSED, "LUDP"),
    ]
    write_csv(path, events, statuses=True)
    _, _, stub = await start(make_desk("2", path=str(path), backup=False, loop=False, stale=60_000))
    tape = StatusTape(stub, ["AAPL"])
    await first_quote(stub, "AAPL")
    await eventually(lambda: len(tape.seen) >= 2, 10)
    assert tape.seen == [("AAPL", pb.SYMBOL_STATUS_HALTED, "T1", False), ("AAPL", pb.SYMBOL_STATUS_TRADING, "", False)]
    await tape.close()
    aapl = await stub.GetQuote(pb.GetQuoteRequest(symbol="AAPL"))
    assert aapl.status == pb.SYMBOL_STATUS_TRADING and aapl.status_reason == ""
    # A late subscriber learns each symbol's current status from its snapshot, before anything live.
    late = StatusTape(stub)
    await eventually(lambda: len(late.seen) >= 2)
    assert sorted(late.seen) == [
        ("AAPL", pb.SYMBOL_STATUS_TRADING, "", True),
        ("MSFT", pb.SYMBOL_STATUS_PAUSED, "LUDP", True),
    ]
    await late.close()


async def test_a_symbol_without_any_status_reports_unspecified(start: Starter) -> None:
    _, _, stub = await start(make_desk(backup=False))
    q = await first_quote(stub, "KO")
    assert q.status == pb.SYMBOL_STATUS_UNSPECIFIED


async def test_websocket_status_messages_reach_subscribers_and_quotes(start: Starter, vendor: Vendor) -> None:  # noqa: F811
    v = await vendor(paced=False)
    service, _, stub = await start(ws_desk([v.url("A"), v.url("B")]), subscriber_bound=1_000)
    await eventually(lambda: v.connections("A") == 1 and v.connections("B") == 1)
    tape = StatusTape(stub, ["AAPL"])
    await eventually(lambda: len(service.subscriber_stats()) == 1)
    v.publish(quote(1, "189.50", "189.52"))
    v.publish(status(2, "AAPL", SymbolStatus.HALTED, "H10"))
    await eventually(lambda: len(tape.seen) == 1)
    q = await stub.GetQuote(pb.GetQuoteRequest(symbol="AAPL"))
    assert (q.status, q.status_reason) == (pb.SYMBOL_STATUS_HALTED, "H10")
    v.publish(status(3, "AAPL", SymbolStatus.TRADING))
    await eventually(lambda: len(tape.seen) == 2)
    assert [s[1] for s in tape.seen] == [pb.SYMBOL_STATUS_HALTED, pb.SYMBOL_STATUS_TRADING]
    await tape.close()


async def test_a_status_lost_on_every_line_is_restated_from_the_vendor_snapshot(
    start: Starter,
    vendor: Vendor,  # noqa: F811
) -> None:
    v = await vendor(paced=False)
    service, _, stub = await start(ws_desk([v.url("A"), v.url("B")]), subscriber_bound=1_000)
    await eventually(lambda: v.connections("A") == 1 and v.connections("B") == 1)
    v.publish(quote(1, "189.50", "189.52"))
    for line in "AB":
        v.drop(line, lambda seq: seq == 2)
    v.publish(status(2, "AAPL", SymbolStatus.HALTED, "T1"))  # lost on both lines: only the snapshot has it
    v.publish(quote(3, "415.00", "415.10", "MSFT"))
    await eventually(lambda: service.handlers["vendor-ws"].snapshot_recoveries == 1, 3)
    q = await stub.GetQuote(pb.GetQuoteRequest(symbol="AAPL"))
    assert (q.status, q.status_reason) == (pb.SYMBOL_STATUS_HALTED, "T1")


async def test_a_malformed_status_is_counted_and_dropped(start: Starter, vendor: Vendor) -> None:  # noqa: F811
    v = await vendor(paced=False)
    service, _, stub = await start(ws_desk([v.url("A"), v.url("B")]))
    await eventually(lambda: v.connections("A") == 1)
    await v.inject("A", '{"type":"status","seq":1,"ts":5,"symbol":"AAPL","status":"closed"}')
    line = service.handlers["vendor-ws"].lines["A"]
    await eventually(lambda: line.malformed == 1)
    assert line.last_malformed == "status must be trading, halted or paused, not 'closed'"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetQuote(pb.GetQuoteRequest(symbol="AAPL"))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
