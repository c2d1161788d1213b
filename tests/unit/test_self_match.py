"""Self-match prevention: in a simulated venue's book, and across venues through the order engine, for each mode
two of our orders that would cross never trade, and the right one ends cancelled or decremented."""

from __future__ import annotations

import pytest

from tests.unit.desk_fixtures import D, Desk, ListJournal, make_desk, order
from tests.unit.test_venues_simulated import Desk as VenueDesk
from tests.unit.test_venues_simulated import Recorder, px, q
from tradingdesk.core.enums import OrderStatus, OrderType, SelfMatchMode, Side, TimeInForce
from tradingdesk.core.reject import Reject
from tradingdesk.oms.requests import OrderRef, ReplaceRequest
from tradingdesk.risk.gate.self_match import SelfMatchPolicy
from tradingdesk.venues.base import VenueOrder

S = OrderStatus
M = SelfMatchMode
SMP = "self-match prevention"


class SmpRecorder(Recorder):
    def on_venue_restated(self, venue: str, order_id: str, open_qty: int, reason: str) -> None:
        self.events.append(("restated", order_id, open_qty, reason))


def venue_desk() -> VenueDesk:
    d = VenueDesk()
    d.venue._listener = d.rec = SmpRecorder()
    return d


def send(d: VenueDesk, oid: str, side: Side, qty: int, price: str, mode: M, *, group: str = "ACC", tif=None) -> None:
    d.venue.submit(
        VenueOrder(oid, "ACME", side, OrderType.LIMIT, q(qty), px(price), tif or TimeInForce.DAY, "ACC", group, mode)
    )
    d.sched.run_all()


def resting(d: VenueDesk) -> dict[str, int]:
    return {o.order_id: o.qty for o in d.venue.open_orders()}


# -- in a venue's book ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mode", "events", "left"),
    [
        (M.CANCEL_NEWEST, [("canceled", "b", SMP)], {"s": q(10)}),
        (M.CANCEL_OLDEST, [("canceled", "s", SMP)], {"b": q(4)}),
        (M.CANCEL_BOTH, [("canceled", "s", SMP), ("canceled", "b", SMP)], {}),
        (M.DECREMENT_AND_CANCEL, [("restated", "s", q(6), SMP), ("canceled", "b", SMP)], {"s": q(6)}),
    ],
)
def test_each_mode_in_the_venue(mode: M, events: list, left: dict) -> None:
    d = venue_desk()
    send(d, "s", Side.SELL, 10, "100.00", mode)
    send(d, "b", Side.BUY, 4, "100.05", mode)
    assert not d.rec.fills
    assert d.rec.events[2:] == events  # after both acceptances
    assert resting(d) == left


def test_decrement_cancels_the_smaller_resting_order_and_the_larger_incoming_one_goes_on() -> None:
    d = venue_desk()
    d.quote("99.00", 100, "100.10", 100)
    send(d, "s", Side.SELL, 10, "100.00", M.DECREMENT_AND_CANCEL)
    send(d, "b", Side.BUY, 15, "100.10", M.DECREMENT_AND_CANCEL)
    # 10 of the buy meet our sell: that sell is cancelled, the buy is decremented to 5 and fills from the market.
    assert d.rec.events[2:4] == [("canceled", "s", SMP), ("restated", "b", q(5), SMP)]
    assert [(f.order_id, f.qty, f.price) for f in d.rec.fills] == [("b", q(5), px("100.10"))]
    assert resting(d) == {}


def test_the_market_ahead_of_our_resting_order_trades_first() -> None:
    d = venue_desk()
    d.quote("99.00", 100, "100.00", 3)  # 3 external ahead of our sell at 100.00
    send(d, "s", Side.SELL, 10, "100.00", M.CANCEL_NEWEST)
    send(d, "b", Side.BUY, 5, "100.00", M.CANCEL_NEWEST)
    assert [(f.order_id, f.qty) for f in d.rec.fills] == [("b", q(3))]
    assert d.rec.events[-1] == ("canceled", "b", SMP)
    assert resting(d) == {"s": q(10)}


def test_a_fok_order_never_partly_meets_its_group() -> None:
    d = venue_desk()
    d.quote("99.00", 100, "100.00", 3)
    send(d, "s", Side.SELL, 10, "100.00", M.CANCEL_OLDEST)
    send(d, "f", Side.BUY, 5, "100.00", M.CANCEL_OLDEST, tif=TimeInForce.FOK)
    assert not d.rec.fills and d.rec.events[-1] == ("canceled", "f", "FOK")
    send(d, "g", Side.BUY, 3, "100.00", M.CANCEL_OLDEST, tif=TimeInForce.FOK)  # fits ahead of ours
    assert [(f.order_id, f.qty) for f in d.rec.fills] == [("g", q(3))]
    assert resting(d) == {"s": q(10)}


def test_orders_of_other_groups_trade() -> None:
    d = venue_desk()
    send(d, "s", Side.SELL, 10, "100.00", M.CANCEL_NEWEST, group="ACC")
    send(d, "b", Side.BUY, 4, "100.05", M.CANCEL_NEWEST, group="OTHER")
    assert [(f.order_id, f.qty, f.liquidity) for f in d.rec.fills] == [("s", q(4), "M"), ("b", q(4), "T")]


# -- through the order engine: the same venue, and across venues --------------------------------------------------
def engine_desk(mode: M, scope: str = "account") -> Desk:
    d = make_desk(self_match=SelfMatchPolicy(scope, mode))
    d.trade("AAPL", "100.00", "10")
    d.quote("AAPL", "99.99", "200", "100.01", "200")
    return d


def sell_then_buy(d: Desk, *, buy_venue: str, buy_qty: str = "4", buy_account: str = "ACC") -> tuple:
    sell = d.engine.submit(order(cl="s", side=Side.SELL, qty="10", price="100.00", venue="xnys")).order
    d.settle()
    buy = d.engine.submit(order(cl="b", qty=buy_qty, price="100.00", venue=buy_venue, account=buy_account)).order
    d.settle()
    return d.engine.orders[sell.order_id], d.engine.orders[buy.order_id]


def trades(d: Desk) -> list:
    return [r for r in d.journal.records if r.kind == "trade"]


@pytest.mark.parametrize("buy_venue", ["xnys", "xnas"], ids=["same-venue", "across-venues"])
@pytest.mark.parametrize(
    ("mode", "sell_end", "buy_end"),
    [
        (M.CANCEL_NEWEST, (S.NEW, "10"), (S.CANCELED, "4")),
        (M.CANCEL_OLDEST, (S.CANCELED, "10"), (S.NEW, "4")),
        (M.CANCEL_BOTH, (S.CANCELED, "10"), (S.CANCELED, "4")),
        (M.DECREMENT_AND_CANCEL, (S.NEW, "6"), (S.CANCELED, "4")),
    ],
)
def test_each_mode_through_the_engine(buy_venue: str, mode: M, sell_end: tuple, buy_end: tuple) -> None:
    d = engine_desk(mode)
    sell, buy = sell_then_buy(d, buy_venue=buy_venue)
    assert not trades(d), "two orders of one account never trade with each other"
    assert (sell.status, sell.qty) == (sell_end[0], D(sell_end[1]))
    assert (buy.status, buy.qty) == (buy_end[0], D(buy_end[1]))
    for o in (sell, buy):
        if o.status == S.CANCELED:
            assert o.text.startswith(SMP), o.text
    if mode == M.DECREMENT_AND_CANCEL:
        restated = [r for r in d.journal.records if r.kind == "restated"]
        assert [(r.order_id, r.payload["qty"], r.payload["leaves_qty"]) for r in restated] == [
            (sell.order_id, "6", "6")
        ]
    assert d.engine.positions.qty("ACC", "AAPL") == 0


def test_a_larger_new_order_is_decremented_across_venues_and_sends_the_rest() -> None:
    d = engine_desk(M.DECREMENT_AND_CANCEL)
    sell, buy = sell_then_buy(d, buy_venue="xnas", buy_qty="15")
    assert sell.status == S.CANCELED and sell.text == SMP
    assert buy.qty == D("5") and buy.status == S.NEW  # rests at 100.00 on xnas, inside the spread
    assert not trades(d)


def test_scope_account_lets_two_accounts_trade_and_scope_desk_does_not() -> None:
    d = engine_desk(M.CANCEL_NEWEST, scope="account")
    sell, buy = sell_then_buy(d, buy_venue="xnys", buy_account="ACC2")
    assert buy.status == S.FILLED and sell.cum_qty == D("4")
    d = engine_desk(M.CANCEL_NEWEST, scope="desk")
    sell, buy = sell_then_buy(d, buy_venue="xnys", buy_account="ACC2")
    assert buy.status == S.CANCELED and not trades(d)


def test_a_replace_that_would_cross_our_order_on_another_venue_is_refused() -> None:
    d = engine_desk(M.CANCEL_NEWEST)
    d.engine.submit(order(cl="s", side=Side.SELL, qty="10", price="100.00", venue="xnys"))
    b = d.engine.submit(order(cl="b", qty="4", price="99.95", venue="xnas")).order
    d.settle()
    with pytest.raises(Reject) as exc:
        d.engine.replace(
            ReplaceRequest(ref=OrderRef("ACC", b.order_id, ""), new_client_order_id="b2", qty=None, price=D("100.00"))
        )
    assert exc.value.code == "SELF_MATCH" and "on xnys" in exc.value.message
    assert d.engine.orders[b.order_id].status == S.NEW


def test_recovery_rebuilds_restated_orders() -> None:
    d = engine_desk(M.DECREMENT_AND_CANCEL)
    sell_then_buy(d, buy_venue="xnys")
    again = make_desk(journal=ListJournal(), self_match=SelfMatchPolicy("account", M.DECREMENT_AND_CANCEL))
    again.engine.rebuild(d.journal.records)
    before = {oid: (o.status, o.qty, o.cum_qty) for oid, o in d.engine.orders.items()}
    after = {oid: (o.status, o.qty, o.cum_qty) for oid, o in again.engine.orders.items()}
    assert after == before
    (working,) = again.gate.self_match.crossing(account="ACC", symbol="AAPL", side=Side.BUY, price=0, venue="xnas")
    assert working.open_qty == D("6")
