"""The time a reference price ages from, and the evidence of it each accepted order keeps.

Routing and compliance stamp market data with the feeds service's receipt of it (``MarketDataEvent.desk_time_ns``),
never with a later one of their own; the risk gate keeps that stamp with the reference, and every order it accepts
journals it in its ``pending_new`` record (``reference_ns``), where the simulation's verdict reads it."""

from __future__ import annotations

from tests.unit.desk_fixtures import D, make_desk, order
from tradingdesk.core.event_codec import decode, encode
from tradingdesk.feeds.events import TRADE, FeedMessage, MarketEvent
from tradingdesk.feeds.messages import data_time, live_quote_event, trade_event
from tradingdesk.feeds.state import SymbolState

SECOND = 1_000_000_000


def test_data_time_is_the_feeds_receipt_never_later_than_the_readers() -> None:
    now = 1_000 * SECOND
    assert data_time(now - 30 * SECOND, now) == now - 30 * SECOND  # read 30 s late: 30 s old
    assert data_time(now + SECOND, now) == now  # feeds' clock ahead: no younger than its arrival here
    assert data_time(0, now) == now  # not stamped: the reader's receipt is all there is


def test_feeds_stamps_live_events_with_the_desks_time_of_receipt() -> None:
    sym = SymbolState("AAPL")
    sym.desk_updated_ns = 123 * SECOND
    assert live_quote_event(sym, "vendor-a").desk_time_ns == 123 * SECOND
    print_ = FeedMessage("A", 7, 120 * SECOND, MarketEvent(0, "AAPL", TRADE, 0, 0, 0, 0, D("100.00"), D("100")))
    assert trade_event(print_, "vendor-a", desk_time_ns=124 * SECOND).desk_time_ns == 124 * SECOND


def test_an_accepted_order_journals_the_time_of_the_data_its_reference_was_checked_against() -> None:
    d = make_desk()
    now = d.clock.now_ns()
    d.gate.on_trade("AAPL", D("100.00"), now - 2 * SECOND, data_ns=now - 2 * SECOND)
    d.gate.on_quote_heartbeat("AAPL", now - SECOND, data_ns=now - SECOND)
    d.engine.submit(order("c1"))
    (pending,) = [r for r in d.journal.records if r.kind == "pending_new"]
    assert pending.payload["reference_ns"] == now - SECOND
    assert decode(pending.kind, pending.order_id, pending.ts_ns, pending.payload).reference_ns == now - SECOND


def test_a_reference_no_feeds_service_stamped_journals_nothing() -> None:
    d = make_desk().priced()  # references stamped by the test's own clock, no feeds stamp
    d.engine.submit(order("c1"))
    (pending,) = [r for r in d.journal.records if r.kind == "pending_new"]
    assert "reference_ns" not in pending.payload
    event = decode(pending.kind, pending.order_id, pending.ts_ns, pending.payload)
    assert event.reference_ns == 0 and "reference_ns" not in encode(event)
