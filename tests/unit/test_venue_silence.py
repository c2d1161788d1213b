"""Smart routing and a silent venue, on the manual clock (oms/venue_silence.py): after an order's ack timeout the
venue gets no new order but one try per interval, until it answers anything again; an order that names it still
goes there, and a symbol that only silent venues trade is routed as before."""

import pytest

from tests.unit.desk_fixtures import D, ListJournal, make_desk, order
from tradingdesk.core.enums import OrderStatus
from tradingdesk.oms.ack_timeout import DEFAULT_ACK_TIMEOUT_MS
from tradingdesk.oms.venue_silence import RETRY_FACTOR
from tradingdesk.venues.faults import VenueFaultMode

TIMEOUT_S = DEFAULT_ACK_TIMEOUT_MS / 1000
RETRY_S = RETRY_FACTOR * TIMEOUT_S


@pytest.fixture
def desk():
    """Both venues quoted, xnas with the better ask: a smart-routed buy goes to xnas while it is trusted."""
    d = make_desk().priced()
    d.venues["xnas"].on_quote("AAPL", D("99.99"), D("200"), D("100.00"), D("200"), d.clock.now_ns())
    return d


def routed(desk, cl: str, **kw) -> str:
    """The venue a buy resting under the market (never filled) was sent to, its reference price fresh."""
    desk.gate.on_quote_heartbeat("AAPL", desk.clock.now_ns())
    return desk.engine.submit(order(cl, price="99.50", **kw)).order.venue


def test_a_silent_venue_gets_one_try_per_interval_until_it_answers_again(desk) -> None:
    silence = desk.engine.silence
    assert routed(desk, "c0") == "xnas"
    desk.venues["xnas"].fault = VenueFaultMode.TIMEOUT
    assert routed(desk, "c1") == "xnas", "not silent yet: nothing has timed out"
    desk.scheduler.advance(TIMEOUT_S + 0.01)
    (timed_out,) = desk.engine.book.unacknowledged
    assert desk.engine.orders[timed_out].status == OrderStatus.PENDING_CANCEL
    assert silence.silent("xnas") and not silence.silent("xnys")
    assert [routed(desk, f"c2-{i}") for i in range(3)] == ["xnys"] * 3

    desk.scheduler.advance(RETRY_S - 0.5)  # the interval counts from the timeout
    assert routed(desk, "c3") == "xnys"
    desk.scheduler.advance(0.6)
    assert routed(desk, "c4") == "xnas", "the interval is over: one order tries the venue"
    assert routed(desk, "c5") == "xnys", "and only one"
    desk.scheduler.advance(TIMEOUT_S + 0.01)  # the try times out too: the next interval counts from there
    assert silence.silent("xnas")
    desk.scheduler.advance(RETRY_S - 0.5)
    assert routed(desk, "c6") == "xnys"

    desk.venues["xnas"].fault = VenueFaultMode.NONE  # its held answers go out: the venue answers again
    desk.settle()
    assert not silence.silent("xnas")
    assert [routed(desk, f"c7-{i}") for i in range(2)] == ["xnas"] * 2
    kinds = [r.payload.get("venue") for r in desk.journal.records if r.kind == "pending_new"]
    assert kinds.count("xnas") == 5, "c0, c1, the try and the two after the venue was back"


def test_an_order_naming_the_venue_goes_there_and_only_silent_venues_are_no_reason_to_refuse(desk) -> None:
    desk.venues["xnas"].fault = VenueFaultMode.TIMEOUT
    routed(desk, "c1")
    desk.scheduler.advance(TIMEOUT_S + 0.01)
    assert desk.engine.silence.silent("xnas")
    assert routed(desk, "c2", venue="xnas") == "xnas", "the client chose the venue"
    desk.venues["xnys"].fault = VenueFaultMode.TIMEOUT
    routed(desk, "c3")  # to xnys, the one trusted venue, which times out too
    desk.scheduler.advance(TIMEOUT_S + 0.01)
    assert desk.engine.silence.silent("xnys")
    assert routed(desk, "c4") == "xnas", "every venue silent: routed on prices as before (it may still fill)"


def test_silence_is_live_state_a_rebuild_from_the_journal_starts_with_every_venue_trusted(desk) -> None:
    desk.venues["xnas"].fault = VenueFaultMode.TIMEOUT
    routed(desk, "c1")
    desk.scheduler.advance(TIMEOUT_S + 0.01)
    assert routed(desk, "c2") == "xnys"
    twin = make_desk(journal=ListJournal()).priced()
    twin.engine.rebuild(desk.journal.records)
    assert twin.engine.silence.retry_at == {}
    assert {o.venue for o in twin.engine.orders.values()} == {"xnas", "xnys"}, "each order's venue is journaled"


def test_a_router_that_is_not_smart_keeps_its_default_venue(desk) -> None:
    router = desk.engine.router
    router.smart = False
    assert router.choose("AAPL", order().side, avoid={"xnys"}) == "xnys"
    router.smart = True
    assert router.choose("AAPL", order().side, avoid={"xnas"}) == "xnys"
    assert router.choose("AAPL", order().side, avoid={"xnas", "xnys"}) == "xnas", "only silent ones: as without"
