"""An OrderSession follows the orders it sent until each is finished, and a replacement in its original's place:
records run through a real engine's journal, as the publisher (``accepts``) and the forwarder (``forwarded``)
see them."""

from __future__ import annotations

from tests.unit.desk_fixtures import D, make_desk, order
from tradingdesk.core.enums import Side
from tradingdesk.oms.requests import OrderRef, ReplaceRequest
from tradingdesk.risk.gate.self_match import SelfMatchMode, SelfMatchPolicy
from tradingdesk.routing.session_orders import SessionOrders


def follow(mine: SessionOrders, records) -> list:
    """What the session is sent: each accepted record, forwarded in seq order."""
    sent = [rec for rec in records if mine.accepts(rec)]
    for rec in sent:
        mine.forwarded(rec)
    return sent


def test_finished_orders_leave_and_a_replacement_takes_its_originals_place() -> None:
    desk = make_desk().priced()
    mine = SessionOrders()
    for cl, side, qty, price in (("a", Side.BUY, "500", "100.10"), ("b", Side.SELL, "300", "100.05")):
        ack = desk.engine.submit(order(cl=cl, side=side, qty=qty, price=price))
        mine.sent(ack.order, duplicate=ack.duplicate)
    resting = desk.engine.submit(order(cl="c", symbol="MSFT", qty="20", price="400.00")).order
    mine.sent(resting, duplicate=False)
    other = desk.engine.submit(order(cl="not-mine", symbol="MSFT", qty="5", price="390.00")).order
    desk.settle()
    desk.trade("AAPL", "100.06", "100")
    desk.settle()
    replaced = desk.engine.replace(
        ReplaceRequest(ref=OrderRef("ACC", resting.order_id, ""), new_client_order_id="c-r", qty=D("25"), price=None)
    )
    mine.sent(replaced.order, duplicate=False)
    desk.settle()

    sent = follow(mine, desk.journal.records)
    new_id = desk.engine.by_client[("ACC", "c-r")]
    mine_ids = {"a", "b", "c", "c-r"}
    expected = [
        r
        for r in desk.journal.records
        if r.kind != "pending_new" and desk.engine.find(OrderRef("ACC", r.order_id, "")).client_order_id in mine_ids
    ]
    assert [r.seq for r in sent] == [r.seq for r in expected], "every report of its orders and none other"
    assert any(r.order_id == new_id and r.kind == "replaced" for r in sent)
    assert other.order_id not in mine
    open_ids = {o.order_id for o in desk.engine.orders.values() if o.is_open and o.client_order_id in mine_ids}
    assert {i for i in open_ids if i in mine} == open_ids and len(mine) == len(open_ids)
    assert resting.order_id not in mine and new_id in mine


def test_the_session_forgets_an_order_once_its_last_report_is_sent() -> None:
    desk = make_desk().priced()
    mine = SessionOrders()
    ack = desk.engine.submit(order(cl="x", qty="10", price="99.00"))
    mine.sent(ack.order, duplicate=False)
    desk.settle()
    follow(mine, desk.journal.records)
    assert ack.order.order_id in mine
    start = len(desk.journal.records)
    mine.sent(desk.engine.cancel(OrderRef("ACC", ack.order.order_id, "")).order, duplicate=False)
    desk.settle()
    sent = follow(mine, desk.journal.records[start:])
    assert [r.kind for r in sent][-1] == "canceled"
    assert len(mine) == 0

    # the same order sent again is acknowledged as a duplicate of a finished order: nothing more will come
    again = desk.engine.submit(order(cl="x", qty="10", price="99.00"))
    assert again.duplicate
    mine.sent(again.order, duplicate=again.duplicate)
    assert len(mine) == 0


def test_an_order_finished_when_acknowledged_still_gets_its_report() -> None:
    """Self-match prevention (cancel newest) cancels a buy that would cross the account's own resting sell on
    another venue before it reaches one: the ack already shows it CANCELED, and the session must still receive
    that report."""
    desk = make_desk(self_match=SelfMatchPolicy("account", SelfMatchMode.CANCEL_NEWEST)).priced()
    mine = SessionOrders()
    sell = desk.engine.submit(order(cl="s", side=Side.SELL, qty="10", price="100.00", venue="xnys"))
    mine.sent(sell.order, duplicate=sell.duplicate)
    desk.settle()
    buy = desk.engine.submit(order(cl="b", qty="4", price="100.00", venue="xnas"))
    assert not buy.order.is_open, "finished before it was acknowledged"
    mine.sent(buy.order, duplicate=buy.duplicate)
    desk.settle()
    sent = follow(mine, desk.journal.records)
    assert [r.kind for r in sent if r.order_id == buy.order.order_id] == ["canceled"]
    assert buy.order.order_id not in mine and sell.order.order_id in mine
