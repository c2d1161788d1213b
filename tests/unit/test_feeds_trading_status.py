"""Trading status events in the feed formats (wire, recording), the state, the outlier filter and fan-out."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from tradingdesk.feeds import wire
from tradingdesk.feeds.events import QUOTE, STATUS, FeedMessage, Malformed, MarketEvent
from tradingdesk.feeds.fanout import Subscriber
from tradingdesk.feeds.quality import OutlierFilter
from tradingdesk.feeds.recording import RecordingFormatError, read_csv, write_csv
from tradingdesk.feeds.state import FeedInfo, MarketState
from tradingdesk.markets.status import SymbolStatus
from tradingdesk.v1 import market_data_pb2 as pb

U = 10**9
HALT = MarketEvent(5, "AAPL", STATUS, status=SymbolStatus.HALTED, reason="T1")
QUOTE_EVENT = MarketEvent(1, "AAPL", QUOTE, 100 * U, U, 101 * U, U)


def test_wire_round_trip_and_errors() -> None:
    msg = FeedMessage("A", 7, 1_700_000_000_000_000_000, HALT)
    frame = wire.encode_frame([msg])
    assert '"type":"status"' in frame and '"status":"halted"' in frame
    [back] = wire.decode_frame(frame, "A")
    assert isinstance(back, FeedMessage) and back.event.status == SymbolStatus.HALTED and back.event.reason == "T1"
    bad = [
        ('{"type":"status","seq":1,"ts":1,"symbol":"AAPL"}', "status: must be a string, got NoneType"),
        ('{"type":"status","seq":1,"ts":1,"symbol":"AAPL","status":"open"}', "status must be trading, halted or"),
        ('{"type":"status","seq":1,"ts":1,"symbol":"AAPL","status":"halted","reason":"x\\n"}', "reason: must be"),
        ('{"type":"status","seq":1,"ts":1,"symbol":"AAPL","status":"halted","reason":"' + "R" * 17 + '"}', "reason"),
    ]
    for frame_text, why in bad:
        [item] = wire.decode_frame(frame_text, "A")
        assert isinstance(item, Malformed) and item.reason.startswith(why), item


def test_recording_with_status_columns_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "s.csv.gz"
    events = [QUOTE_EVENT, HALT, MarketEvent(9, "AAPL", STATUS, status=SymbolStatus.TRADING)]
    assert write_csv(path, events, statuses=True) == 3
    assert list(read_csv(path)) == events
    with gzip.open(path, "rt") as f:
        assert f.readline().strip().endswith(",qty,status,reason")


def test_recording_without_status_columns_keeps_the_nine_column_header(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    write_csv(path, [QUOTE_EVENT])
    assert path.read_text().splitlines()[0] == "ts_ns,symbol,kind,bid_price,bid_qty,ask_price,ask_qty,price,qty"
    with pytest.raises(ValueError, match="statuses=True"):
        write_csv(tmp_path / "x.csv", [HALT])


@pytest.mark.parametrize(
    ("row", "why"),
    [
        ("5,AAPL,S,,,,,,,closed,", "status must be trading, halted or paused"),
        ("5,AAPL,S,1,,,,,,halted,", "a status row has no prices"),
        ("5,AAPL,Q,1,1,2,1,,,halted,", "status and reason are only for status rows"),
        ("5,AAPL,S,,,,,,,halted," + "R" * 17, "reason: at most 16"),
    ],
)
def test_bad_status_rows_name_the_line(tmp_path: Path, row: str, why: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("ts_ns,symbol,kind,bid_price,bid_qty,ask_price,ask_qty,price,qty,status,reason\n" + row + "\n")
    with pytest.raises(RecordingFormatError, match=f"bad.csv:2: {why}"):
        list(read_csv(path))


def test_a_status_row_needs_the_status_header(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    path.write_text("ts_ns,symbol,kind,bid_price,bid_qty,ask_price,ask_qty,price,qty\n5,AAPL,S,,,,,,\n")
    with pytest.raises(RecordingFormatError, match="kind must be Q or T, not 'S'"):
        list(read_csv(path))


def test_state_keeps_the_latest_status_and_refuses_a_late_older_one() -> None:
    feed = FeedInfo("f", 0, 10**12)
    state = MarketState(["AAPL"])
    assert state.apply(feed, FeedMessage("A", 1, 1, QUOTE_EVENT), 1) is not None
    assert state.apply(feed, FeedMessage("A", 3, 3, HALT), 3) is not None
    older = MarketEvent(2, "AAPL", STATUS, status=SymbolStatus.TRADING)
    assert state.apply(feed, FeedMessage("A", 2, 2, older), 4) is None  # a recovered copy older than the halt
    view = state.view("AAPL", 5)
    assert view is not None and view.status is not None and view.status.event.status == SymbolStatus.HALTED
    assert view.quote is not None and view.quote.seq == 1  # the status did not replace the quote


def test_the_outlier_filter_lets_status_through() -> None:
    f = OutlierFilter(band_bps=10, confirm=3)
    assert f.admit(FeedMessage("A", 1, 1, QUOTE_EVENT))
    assert (
        f.admit(FeedMessage("A", 2, 2, HALT)) and f.held == 0 and f.reference("AAPL") == QUOTE_EVENT.bid_price + U // 2
    )


async def test_conflation_keeps_a_symbols_latest_status_beside_its_latest_quote() -> None:
    sub = Subscriber(bound=1)
    q1, q2 = pb.MarketDataEvent(quote=pb.Quote(symbol="AAPL", seq=1)), pb.MarketDataEvent(quote=pb.Quote(seq=2))
    halted = pb.MarketDataEvent(status=pb.TradingStatus(symbol="AAPL", status=pb.SYMBOL_STATUS_HALTED, seq=3))
    trading = pb.MarketDataEvent(status=pb.TradingStatus(symbol="AAPL", status=pb.SYMBOL_STATUS_TRADING, seq=4))
    sub.push_quote("AAPL", q1)  # fills the queue
    sub.push_status("AAPL", halted)  # conflating from here
    sub.push_quote("AAPL", q2)
    sub.push_status("AAPL", trading)  # replaces the pending halt, not the pending quote
    got = await sub.get_batch(10)
    assert [e.WhichOneof("event") for e in got] == ["quote", "quote", "status"]
    assert got[1].quote.seq == 2 and got[2].status.seq == 4
