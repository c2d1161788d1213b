"""The OMS end to end inside one process: real simulated venues, the FIX state machine, idempotency, rebuild."""

import pytest

from tests.unit.desk_fixtures import D, ListJournal, default_limits, make_desk, order
from tradingdesk.core.enums import OrderStatus, OrderType, Side, TimeInForce, TradingState
from tradingdesk.core.fixed import format_fixed, parse_fixed
from tradingdesk.core.orders import IllegalTransition
from tradingdesk.core.reject import Reject, RejectKind
from tradingdesk.oms.requests import OrderRef, ReplaceRequest
from tradingdesk.risk.limits import StateEntry
from tradingdesk.risk.scope import DESK_SCOPE

S = OrderStatus


@pytest.fixture
def desk():
    return make_desk().priced()


def snapshot(engine):
    return (
        {oid: (o.status, o.cum_qty, o.cum_notional, o.fees, o.client_order_id) for oid, o in engine.orders.items()},
        [(p.account, p.symbol, p.qty, p.avg_cost, p.realized_pnl) for p in engine.positions.all()],
    )


def test_crossing_order_goes_new_partial_filled(desk) -> None:
    ack = desk.engine.submit(order(qty="500", price="100.10"))
    assert ack.order.status == S.PENDING_NEW
    desk.settle()
    o = desk.engine.orders[ack.order.order_id]
    kinds = desk.journal.kinds(o.order_id)
    assert kinds[:2] == ["pending_new", "new"]
    trades = [r for r in desk.journal.records if r.kind == "trade"]
    assert len(trades) >= 2, "500 against 200 at the touch must fill across several levels"
    assert [r.payload["status"] for r in trades][:-1] == ["PARTIALLY_FILLED"] * (len(trades) - 1)
    assert trades[-1].payload["status"] == "FILLED"
    assert o.status == S.FILLED and o.cum_qty == D("500")
    assert sum(parse_fixed(r.payload["last_qty"]) for r in trades) == D("500")
    assert o.avg_price > D("100.01"), "walking the book and impact cost more than the touch"
    assert o.avg_price <= D("100.10"), "never beyond the limit"
    pos = desk.engine.positions.get("ACC", "AAPL")
    assert pos.qty == D("500") and pos.avg_cost == o.avg_price
    assert o.fees > 0 and pos.fees == o.fees


def test_resting_order_fills_from_the_tape(desk) -> None:
    ack = desk.engine.submit(order(side=Side.SELL, qty="50", price="100.05"))
    desk.settle()
    assert desk.engine.orders[ack.order.order_id].status == S.NEW
    desk.trade("AAPL", "100.06", "30")
    desk.settle()
    o = desk.engine.orders[ack.order.order_id]
    assert o.status == S.PARTIALLY_FILLED and o.cum_qty == D("30")
    desk.trade("AAPL", "100.07", "100")
    desk.settle()
    assert o.status == S.FILLED
    assert desk.engine.positions.get("ACC", "AAPL").qty == -D("50")


def test_idempotent_client_order_id(desk) -> None:
    first = desk.engine.submit(order())
    again = desk.engine.submit(order())
    assert again.duplicate and again.order.order_id == first.order.order_id and again.seq == first.seq
    before = len(desk.journal.records)
    with pytest.raises(Reject) as exc:
        desk.engine.submit(order(qty="200"))
    assert exc.value.kind == RejectKind.DUPLICATE
    assert len(desk.journal.records) == before and len(desk.engine.orders) == 1


def test_cancel_and_refusals(desk) -> None:
    ack = desk.engine.submit(order(price="99.50"))
    with pytest.raises(Reject) as exc:
        desk.engine.cancel(OrderRef("ACC", ack.order.order_id, ""))
    assert exc.value.code == "PENDING_NEW"
    desk.settle()
    desk.engine.cancel(OrderRef("ACC", "", "c1"))
    assert ack.order.status == S.PENDING_CANCEL
    with pytest.raises(Reject) as exc:
        desk.engine.cancel(OrderRef("ACC", ack.order.order_id, ""))
    assert exc.value.code == "REQUEST_PENDING"
    desk.settle()
    assert ack.order.status == S.CANCELED
    before = snapshot(desk.engine)
    with pytest.raises(Reject) as exc:
        desk.engine.cancel(OrderRef("ACC", ack.order.order_id, ""))
    assert exc.value.kind == RejectKind.REFUSED
    with pytest.raises(Reject) as exc:
        desk.engine.cancel(OrderRef("OTHER", ack.order.order_id, ""))
    assert exc.value.kind == RejectKind.NOT_FOUND
    assert snapshot(desk.engine) == before


def test_cancel_of_filled_order_is_refused(desk) -> None:
    ack = desk.engine.submit(order(qty="10", price="100.05"))
    desk.settle()
    assert ack.order.status == S.FILLED
    n = len(desk.journal.records)
    with pytest.raises(Reject) as exc:
        desk.engine.cancel(OrderRef("ACC", ack.order.order_id, ""))
    assert exc.value.kind == RejectKind.REFUSED and "FILLED" in exc.value.message
    assert len(desk.journal.records) == n


def test_replace_creates_linked_order(desk) -> None:
    ack = desk.engine.submit(order(qty="100", price="99.50"))
    desk.settle()
    old_id = ack.order.order_id
    r = desk.engine.replace(
        ReplaceRequest(ref=OrderRef("ACC", old_id, ""), new_client_order_id="c1-r1", qty=D("150"), price=D("99.60"))
    )
    assert r.order.status == S.PENDING_REPLACE
    desk.settle()
    old = desk.engine.orders[old_id]
    assert old.status == S.REPLACED and old.leaves_qty == 0
    new = desk.engine.orders[old.replaced_by_order_id]
    assert (new.client_order_id, new.qty, new.price, new.status) == ("c1-r1", D("150"), D("99.60"), S.NEW)
    assert new.replaces_order_id == old_id
    dup = desk.engine.replace(
        ReplaceRequest(ref=OrderRef("ACC", old_id, ""), new_client_order_id="c1-r1", qty=D("150"), price=D("99.60"))
    )
    assert dup.duplicate and dup.order.order_id == new.order_id
    with pytest.raises(Reject) as exc:
        desk.engine.replace(
            ReplaceRequest(ref=OrderRef("ACC", new.order_id, ""), new_client_order_id="c1", qty=D("150"), price=None)
        )
    assert exc.value.kind == RejectKind.DUPLICATE


def test_replace_below_filled_quantity_is_refused(desk) -> None:
    ack = desk.engine.submit(order(side=Side.SELL, qty="100", price="100.05"))
    desk.settle()
    desk.trade("AAPL", "100.06", "60")
    desk.settle()
    assert ack.order.cum_qty == D("60")
    with pytest.raises(Reject) as exc:
        desk.engine.replace(
            ReplaceRequest(
                ref=OrderRef("ACC", ack.order.order_id, ""), new_client_order_id="c2", qty=D("50"), price=None
            )
        )
    assert exc.value.code == "REPLACE_QTY_TOO_LOW"


def test_ioc_remainder_is_canceled(desk) -> None:
    ack = desk.engine.submit(order(qty="5000", price="100.02", tif=TimeInForce.IOC))
    desk.settle()
    o = ack.order
    assert o.status == S.CANCELED and 0 < o.cum_qty < D("5000")


def test_fok_fills_all_or_nothing(desk) -> None:
    ack = desk.engine.submit(order(qty="5000", price="100.02", tif=TimeInForce.FOK))
    desk.settle()
    assert ack.order.status == S.CANCELED and ack.order.cum_qty == 0
    assert desk.engine.positions.qty("ACC", "AAPL") == 0


def test_gtd_order_expires(desk) -> None:
    expire = desk.clock.now_ns() + 2_000_000_000
    ack = desk.engine.submit(order(price="99.00", tif=TimeInForce.GTD, expire_ns=expire))
    desk.scheduler.advance(1.0)
    assert ack.order.status == S.NEW
    desk.scheduler.advance(1.5)
    assert ack.order.status == S.EXPIRED
    assert desk.journal.kinds(ack.order.order_id)[-1] == "expired"


def test_market_order_fills_at_the_book(desk) -> None:
    ack = desk.engine.submit(order(qty="50", order_type=OrderType.MARKET, price="0"))
    desk.settle()
    assert ack.order.status == S.FILLED and ack.order.avg_price >= D("100.01")


def test_smart_router_prefers_best_price(desk) -> None:
    now = desk.clock.now_ns()
    desk.venues["xnas"].on_quote("AAPL", D("99.99"), D("100"), D("100.00"), D("100"), now)
    ack = desk.engine.submit(order(qty="10", price="100.02"))
    assert ack.order.venue == "xnas"
    explicit = desk.engine.submit(order(cl="c2", qty="10", price="100.02", venue="xnys"))
    assert explicit.order.venue == "xnys"


@pytest.mark.parametrize(
    ("limits", "kwargs", "code", "reject"),
    [
        ({"max_order_quantity": D("100")}, {"qty": "101"}, RejectKind.REFUSED, "MAX_ORDER_QTY"),
        ({"max_order_notional": D("1000")}, {"qty": "11"}, RejectKind.REFUSED, "MAX_ORDER_NOTIONAL"),
        ({}, {"price": "106.00"}, RejectKind.REFUSED, "PRICE_COLLAR"),
        ({}, {"price": "94.00", "side": Side.SELL}, RejectKind.REFUSED, "PRICE_COLLAR"),
        ({"restricted_symbols": frozenset({"AAPL"})}, {}, RejectKind.REFUSED, "RESTRICTED_SYMBOL"),
        ({}, {"symbol": "MSFT", "price": "400.00", "qty": "1"}, None, None),
    ],
)
def test_gate_controls(limits, kwargs, code, reject) -> None:
    d = make_desk(default_limits(**limits))
    d.trade("AAPL", "100.00", "10")
    d.trade("MSFT", "400.00", "10")
    if code is None:
        assert d.engine.submit(order(**kwargs)).order.status == S.PENDING_NEW
        return
    with pytest.raises(Reject) as exc:
        d.engine.submit(order(**kwargs))
    assert (exc.value.kind, exc.value.code) == (code, reject)
    assert not d.engine.orders and not d.journal.records
    assert d.engine.submit(order(cl="ok", symbol="MSFT", qty="1", price="400.00")).order.status == S.PENDING_NEW


def test_gate_needs_fresh_reference() -> None:
    d = make_desk()
    with pytest.raises(Reject) as exc:
        d.engine.submit(order())
    assert exc.value.code == "NO_REFERENCE"
    d.trade("AAPL", "100.00", "1")
    d.clock.advance(6_000_000_000)
    with pytest.raises(Reject) as exc:
        d.engine.submit(order())
    assert exc.value.code == "STALE_REFERENCE"
    d.quote("AAPL", "99.99", "1", "100.01", "1")
    assert d.engine.submit(order()).order.status == S.PENDING_NEW


def test_throttle_and_trading_states(desk) -> None:
    desk.gate.set_limits(default_limits(max_submits_per_second=3))
    for i in range(3):
        desk.engine.submit(order(cl=f"t{i}", qty="1", price="99.00"))
    with pytest.raises(Reject) as exc:
        desk.engine.submit(order(cl="t3", qty="1", price="99.00"))
    assert exc.value.kind == RejectKind.THROTTLED
    desk.clock.advance(1_000_000_001)
    desk.engine.submit(order(cl="t4", qty="1", price="99.00"))
    desk.gate.set_state(DESK_SCOPE, StateEntry(TradingState.HALTED, "ops", "test halt"))
    with pytest.raises(Reject) as exc:
        desk.engine.submit(order(cl="h", qty="1", price="99.00"))
    assert exc.value.code == "TRADING_HALTED" and "test halt" in exc.value.message
    desk.gate.set_state(DESK_SCOPE, StateEntry(TradingState.ACTIVE))
    desk.gate.set_state(("ACC", ""), StateEntry(TradingState.REDUCING, "ops", "reduce"))
    with pytest.raises(Reject) as exc:
        desk.engine.submit(order(cl="r", qty="1", price="99.00"))
    assert exc.value.code == "REDUCE_ONLY"


def test_rebuild_from_journal_reaches_the_same_state(desk) -> None:
    desk.engine.submit(order(cl="a", qty="500", price="100.10"))
    desk.engine.submit(order(cl="b", side=Side.SELL, qty="300", price="100.05"))
    desk.engine.submit(order(cl="c", symbol="MSFT", qty="20", price="400.00"))
    desk.settle()
    desk.trade("AAPL", "100.06", "100")
    desk.settle()
    resting = desk.engine.by_client[("ACC", "c")]
    desk.engine.replace(
        ReplaceRequest(ref=OrderRef("ACC", resting, ""), new_client_order_id="c-r", qty=D("25"), price=None)
    )
    desk.settle()
    twin = make_desk(journal=ListJournal())
    twin.engine.rebuild(desk.journal.records)
    assert snapshot(twin.engine) == snapshot(desk.engine)
    assert twin.engine.open_count == desk.engine.open_count
    assert twin.engine.submit(order(cl="a", qty="500", price="100.10")).duplicate


def test_state_machine_rejects_illegal_edges() -> None:
    d = make_desk()
    d.trade("AAPL", "100.00", "1")
    o = d.engine.submit(order()).order
    with pytest.raises(IllegalTransition):
        o.transition(S.REPLACED, 0)
    o.transition(S.NEW, 0)
    o.transition(S.FILLED, 0)
    with pytest.raises(IllegalTransition):
        o.transition(S.CANCELED, 0)


def test_positions_realize_pnl() -> None:
    from tradingdesk.core.positions import Position

    p = Position("A", "X")
    p.apply_fill(D("100"), D("10"), 0)
    p.apply_fill(D("100"), D("12"), 0)
    assert format_fixed(p.avg_cost) == "11"
    p.apply_fill(-D("150"), D("13"), 0)
    assert format_fixed(p.realized_pnl) == "300"
    assert format_fixed(p.unrealized_pnl(D("14"))) == "150"
    p.apply_fill(-D("100"), D("10"), 0)  # flips short 50 at 10
    assert p.qty == -D("50") and p.avg_cost == D("10")


def test_an_order_put_back_on_a_faulted_venue_after_a_restart_ends_canceled(desk) -> None:
    """A simulated venue refuses an order routing reseats after a restart while the venue rejects everything: the
    order had been acknowledged (NEW), so it cannot become REJECTED; it is not working there any more: CANCELED."""
    from tradingdesk.venues.faults import VenueFaultMode

    resting = desk.engine.submit(order(cl="rest", qty="10", price="99.00")).order
    desk.settle()
    assert resting.status == S.NEW
    twin = make_desk(journal=ListJournal())
    twin.engine.rebuild(desk.journal.records)
    for venue in twin.venues.values():
        venue.fault = VenueFaultMode.REJECT_ALL
    assert twin.engine.reseat_open_orders() == 1
    twin.settle()
    after = twin.engine.orders[resting.order_id]
    assert after.status == S.CANCELED and "rejects every order" in after.text
    assert twin.engine.open_count == 0
