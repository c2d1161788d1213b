"""The venue-silence timeout on the manual clock: a silent venue (``VenueFaultMode.TIMEOUT``), the timer, and
what late answers do (oms/ack_timeout.py)."""

import pytest

from tests.unit.desk_fixtures import D, ListJournal, make_desk, order
from tradingdesk.core.enums import OrderStatus, Side
from tradingdesk.oms.ack_timeout import DEFAULT_ACK_TIMEOUT_MS
from tradingdesk.venues.faults import VenueFaultMode

S = OrderStatus
TIMEOUT_S = DEFAULT_ACK_TIMEOUT_MS / 1000


@pytest.fixture
def desk():
    d = make_desk()
    d.trade("AAPL", "100.00", "10")
    d.quote("AAPL", "99.99", "200", "100.01", "200")
    return d


def silent(desk, venue: str = "xnys"):
    desk.venues[venue].fault = VenueFaultMode.TIMEOUT
    return desk.venues[venue]


def test_an_order_the_venue_answers_in_time_never_times_out(desk) -> None:
    ack = desk.engine.submit(order(price="99.50", venue="xnys"))
    assert set(desk.engine.ack_timers) == {ack.order.order_id}
    started = desk.clock.now_ns()
    desk.settle()
    assert desk.engine.ack_timers == {}, "the acknowledgement cancelled the timer"
    assert desk.clock.now_ns() - started < 1_000_000, "so running what is due did not move the clock to it"
    desk.scheduler.advance(TIMEOUT_S * 2)
    assert ack.order.status == S.NEW
    assert desk.journal.kinds(ack.order.order_id) == ["pending_new", "new"]


def test_an_unacknowledged_order_is_cancelled_at_the_timeout_with_a_reason(desk) -> None:
    venue = silent(desk)
    ack = desk.engine.submit(order(price="99.50", venue="xnys"))
    desk.scheduler.advance(TIMEOUT_S - 0.01)
    assert ack.order.status == S.PENDING_NEW, "the venue is silent, but the timeout has not passed"
    desk.scheduler.advance(0.02)
    o = desk.engine.orders[ack.order.order_id]
    assert o.status == S.PENDING_CANCEL
    assert o.text == "venue xnys did not acknowledge the order within 2000 ms (venue ack timeout); cancel sent"
    assert desk.journal.kinds(o.order_id) == ["pending_new", "venue_ack_timeout"]
    assert o.order_id in desk.engine.book.unacknowledged
    assert o.order_id in desk.engine.open_orders, "open until the venue answers: only it knows if it can fill"
    assert venue.open_orders() == [], "the cancel sent at the timeout took it off the venue's book"
    desk.scheduler.advance(60)
    assert o.status == S.PENDING_CANCEL, "a silent venue answers nothing, so nothing more happens"


def test_late_answers_after_the_fault_end_it_cancelled_and_replay_agrees(desk) -> None:
    venue = silent(desk)
    ack = desk.engine.submit(order(price="99.50", venue="xnys"))
    desk.scheduler.advance(TIMEOUT_S + 0.1)
    venue.fault = VenueFaultMode.NONE
    desk.settle()
    o = desk.engine.orders[ack.order.order_id]
    assert desk.journal.kinds(o.order_id) == ["pending_new", "venue_ack_timeout", "new", "canceled"]
    late_ack = next(r for r in desk.journal.records if r.kind == "new")
    assert late_ack.payload["status"] == "PENDING_CANCEL", "a late ack does not put the order back in the market"
    assert "after the ack timeout" in late_ack.payload["text"]
    assert o.status == S.CANCELED and o.order_id not in desk.engine.book.unacknowledged
    twin = make_desk(journal=ListJournal())
    twin.engine.rebuild(desk.journal.records)
    assert twin.engine.orders[o.order_id].status == S.CANCELED and not twin.engine.book.unacknowledged


def test_a_late_fill_is_booked_once(desk) -> None:
    silent(desk)
    ack = desk.engine.submit(order(qty="150", price="100.05", venue="xnys"))  # crosses: trades at the venue
    desk.scheduler.advance(TIMEOUT_S + 0.1)
    o = desk.engine.orders[ack.order.order_id]
    assert o.status == S.PENDING_CANCEL and o.cum_qty == 0, "the fills happened, but no answer left the venue"
    desk.venues["xnys"].fault = VenueFaultMode.NONE
    desk.settle()
    kinds = desk.journal.kinds(o.order_id)
    assert kinds[:3] == ["pending_new", "venue_ack_timeout", "new"] and "trade" in kinds
    assert o.status == S.FILLED and o.cum_qty == D("150")
    assert desk.engine.positions.qty("ACC", "AAPL") == D("150"), "booked once, not lost and not doubled"
    assert o.order_id not in desk.engine.open_orders


def test_a_restart_never_resubmits_an_unacknowledged_order(desk) -> None:
    silent(desk)
    ack = desk.engine.submit(order(side=Side.SELL, price="100.50", venue="xnys"))
    desk.scheduler.advance(TIMEOUT_S + 0.1)
    twin = make_desk(journal=ListJournal())  # a fresh process: its simulated venues know nothing
    twin.engine.rebuild(desk.journal.records)
    assert ack.order.order_id in twin.engine.book.unacknowledged
    assert twin.engine.reseat_open_orders() == 1
    twin.settle()
    o = twin.engine.orders[ack.order.order_id]
    assert o.status == S.CANCELED
    assert o.text == (
        "venue xnys never acknowledged the order and refused its cancel (unknown order): not at the venue"
    )
    assert twin.venues["xnys"].open_orders() == [], "the order was cancelled, never put back on the book"


def test_an_order_recovered_pending_new_gets_its_timer_again(desk) -> None:
    silent(desk)
    ack = desk.engine.submit(order(price="99.50", venue="xnys"))
    twin = make_desk(journal=ListJournal())
    twin.engine.rebuild(desk.journal.records)
    silent(twin)
    twin.engine.reseat_open_orders()
    twin.scheduler.advance(TIMEOUT_S + 0.1)
    assert twin.engine.orders[ack.order.order_id].status == S.PENDING_CANCEL


def test_an_order_whose_answer_waits_in_routing_is_not_timed_out(desk) -> None:
    """The venue answered, but routing holds the answer back while its journal works through a backlog
    (routing/venue_pacing.py): the timer is armed again instead of cancelling an acknowledged order."""
    silent(desk)  # the answer never reaches the engine here: the pacer would hold it
    ack = desk.engine.submit(order(price="99.50", venue="xnys"))
    held = {ack.order.order_id}
    desk.engine.answer_waiting = held.__contains__
    desk.scheduler.advance(TIMEOUT_S + 0.01)
    assert ack.order.status == S.PENDING_NEW
    assert ack.order.order_id in desk.engine.ack_timers, "armed again"
    assert desk.journal.kinds(ack.order.order_id) == ["pending_new"]
    held.clear()  # no answer waits any more, and none came: the venue is silent after all
    desk.scheduler.advance(TIMEOUT_S + 0.01)
    assert ack.order.status == S.PENDING_CANCEL
    assert desk.journal.kinds(ack.order.order_id) == ["pending_new", "venue_ack_timeout"]
