"""What clients read: averages and P&L rounded half-even on the wire (6 and 2 places), the domain exact."""

from __future__ import annotations

from tests.unit.desk_fixtures import D
from tradingdesk.core.enums import OrderStatus, OrderType, Side, TimeInForce
from tradingdesk.core.event_codec import decode, encode
from tradingdesk.core.events import OrderFilled, OrderTerms
from tradingdesk.core.orders import Order
from tradingdesk.core.positions import Position
from tradingdesk.routing.reports import execution_report, order_message, position_message


def three_fills() -> Order:
    """Bought 1 at 100.01 and 2 at 100.02: the average, 100.01666..., has no exact decimal form."""
    order = Order(
        "O-1", "c-1", "ACC", "", "AAPL", Side.BUY, OrderType.LIMIT, D("3"), D("100.05"), TimeInForce.DAY, 0, 1
    )
    order.status = OrderStatus.FILLED
    order.cum_qty = D("3")
    order.cum_notional = D("300.05")
    return order


def test_order_average_is_rounded_on_the_wire_only() -> None:
    order = three_fills()
    assert order.avg_price == D("100.016666666"), "the domain keeps its (truncated) exact quotient"
    assert order_message(order).avg_price == "100.016667"


def test_execution_report_average_is_rounded_and_the_journal_keeps_it_exact() -> None:
    terms = OrderTerms(
        order_id="O-1",
        client_order_id="c-1",
        account="ACC",
        strategy="",
        symbol="AAPL",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        qty=D("3"),
        price=D("100.05"),
        tif=TimeInForce.DAY,
        expire_ns=0,
        created_ns=1,
    )
    fill = OrderFilled(
        ts_ns=2,
        terms=terms,
        status=OrderStatus.FILLED,
        cum_qty=D("3"),
        cum_notional=D("300.05"),
        venue="xnys",
        exec_id="X-1",
        last_qty=D("2"),
        last_price=D("100.02"),
        fee=0,
        liquidity="T",
        fill_venue="xnys",
    )
    payload = encode(fill)
    assert payload["avg_price"] == "100.016666666", "the journal is the record: exact"
    report = execution_report(7, decode("trade", "O-1", 2, payload))
    assert report.avg_price == "100.016667"
    assert (report.last_price, report.cum_quantity, report.limit_price) == ("100.02", "3", "100.05")


def test_position_average_and_pnl_are_rounded() -> None:
    """The issue's example: 500 shares whose average came out 189.789999999, marked at 189.55."""
    position = Position("ACC", "AAPL", qty=D("500"), avg_cost=D("189.789999999"), realized_pnl=-D("1.125"))
    position.fees = D("1.125")
    assert position.unrealized_pnl(D("189.55")) == -D("119.9999995")
    msg = position_message(position, D("189.55"))
    assert (msg.avg_cost, msg.unrealized_pnl, msg.realized_pnl) == ("189.79", "-120", "-1.12")
    assert (msg.mark_price, msg.fees, msg.quantity) == ("189.55", "1.125", "500"), "other decimals stay exact"


def test_a_position_built_by_fills_rounds_the_same_way() -> None:
    position = Position("ACC", "AAPL")
    for qty, price in (("1", "100.01"), ("1", "100.02"), ("1", "100.02")):
        position.apply_fill(D(qty), D(price), 0)
    msg = position_message(position, D("100"))
    assert (msg.avg_cost, msg.unrealized_pnl) == ("100.016667", "-0.05")
