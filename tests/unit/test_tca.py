"""Execution quality against hand-computed figures: arrival mid, implementation shortfall (execution and
opportunity cost, fees), interval VWAP, effective spread, and the Rule 605 fields per venue."""

from __future__ import annotations

import pytest

from tradingdesk.core.activity import Activity, MarketPrint, MarketQuote, OrderActivity
from tradingdesk.core.enums import Side
from tradingdesk.core.fixed import parse_fixed
from tradingdesk.tca.orders import group_orders, order_quality, orders_quality
from tradingdesk.tca.tape import MarketTape
from tradingdesk.tca.venues import venues_quality

P = parse_fixed
MS = 1_000_000
T = 1_719_930_000 * 1_000_000_000


def act(kind: Activity, ts: int, oid: str, side: Side, qty: str, **kw: object) -> OrderActivity:
    return OrderActivity(kind, ts, oid, "ACC", "AAPL", side, P(qty), P("100.10"), **kw)  # type: ignore[arg-type]


def fill(
    ts: int, oid: str, side: Side, qty: str, fqty: str, price: str, fee: str, venue: str, leaves: str
) -> OrderActivity:
    return act(
        Activity.FILL,
        ts,
        oid,
        side,
        qty,
        fill_qty=P(fqty),
        fill_price=P(price),
        fee=P(fee),
        venue=venue,
        leaves_qty=P(leaves),
    )


@pytest.fixture
def tape() -> MarketTape:
    return MarketTape(
        [
            MarketQuote(T - 1, "AAPL", P("100.00"), P("100.02")),
            MarketPrint(T + 50 * MS, "AAPL", P("100.01"), P("1000")),
            MarketPrint(T + 200 * MS, "AAPL", P("100.03"), P("1000")),
            MarketQuote(T + 900 * MS, "AAPL", P("99.98"), P("100.00")),
            MarketPrint(T + 5_000 * MS, "AAPL", P("90"), P("1000000")),  # after both orders: outside every interval
        ]
    )


BUY = [
    act(Activity.NEW, T, "b1", Side.BUY, "1000", venue="v1"),
    fill(T + 100 * MS, "b1", Side.BUY, "1000", "600", "100.02", "1.8", "v1", "400"),
    fill(T + 300 * MS, "b1", Side.BUY, "1000", "400", "100.03", "1.2", "v1", "0"),
]
SELL = [
    act(Activity.NEW, T + 10 * MS, "s1", Side.SELL, "500", venue="v2"),
    fill(T + 110 * MS, "s1", Side.SELL, "500", "200", "100.01", "0", "v2", "300"),
    act(Activity.CANCEL, T + 1_000 * MS, "s1", Side.SELL, "500"),
]


def test_a_buy_filled_in_two_prints(tape: MarketTape) -> None:
    q = order_quality(BUY, tape)
    assert (q.arrival_bid, q.arrival_ask, q.arrival_mid) == (P("100"), P("100.02"), P("100.01"))
    assert (q.filled_qty, q.avg_price, q.fees) == (P("1000"), P("100.024"), P("3"))
    assert q.execution_cost == P("14") and q.opportunity_cost == 0 and q.shortfall == P("17")
    assert q.shortfall_bps == P("1.699830016")  # 17 / 100,010 in basis points, truncated to 1e-9
    assert q.interval_vwap == P("100.02")  # the two prints between arrival and the last fill
    assert q.vs_vwap_bps == P("0.399920015")
    assert q.effective_spread == P("0.028") and q.cancelled_qty == 0
    assert q.first_fill_ns - q.arrival_ns == 100 * MS


def test_a_sell_partly_filled_then_cancelled_pays_the_opportunity_cost(tape: MarketTape) -> None:
    q = order_quality(SELL, tape)
    assert q.arrival_mid == P("100.01") and q.end_mid == P("99.99")
    assert q.execution_cost == 0  # sold at the arrival mid
    assert q.opportunity_cost == P("6")  # 300 unsold while the mid fell 0.02
    assert q.shortfall_bps == P("1.199880011") and q.cancelled_qty == P("300") and q.effective_spread == 0


def test_rule_605_fields_per_venue(tape: MarketTape) -> None:
    rows = {r.venue: r for r in venues_quality(orders_quality([*BUY, *SELL], tape))}
    v1, v2 = rows["v1"], rows["v2"]
    assert (v1.orders, v1.shares_ordered, v1.shares_executed, v1.fill_rate_bps) == (1, P("1000"), P("1000"), P("10000"))
    assert v1.avg_effective_spread == P("0.028") and v1.avg_quoted_spread == P("0.02")
    assert v1.effective_over_quoted_bps == P("14000")  # filled outside the quote: E/Q 1.4
    assert (v1.shares_outside_quote, v1.avg_outside, v1.shares_improved) == (P("1000"), P("0.004"), 0)
    assert v1.avg_time_to_fill_ms == 100
    assert (v2.fill_rate_bps, v2.shares_cancelled) == (P("4000"), P("300"))
    assert (v2.shares_improved, v2.avg_improvement) == (P("200"), P("0.01"))  # sold 0.01 above the bid


def test_a_cancel_replace_chain_is_one_order_with_its_first_arrival(tape: MarketTape) -> None:
    events = [
        act(Activity.NEW, T, "a", Side.BUY, "100"),
        act(Activity.MODIFY, T + 400 * MS, "a2", Side.BUY, "200", prior_order_id="a"),
        act(Activity.MODIFY, T + 500 * MS, "a3", Side.BUY, "300", prior_order_id="a2"),
        fill(T + 950 * MS, "a3", Side.BUY, "300", "300", "100.00", "0", "v1", "0"),
    ]
    assert list(group_orders(events)) == ["a"]
    [q] = orders_quality(events, tape)
    assert q.order_id == "a" and q.qty == P("300") and q.arrival_mid == P("100.01")
    assert q.execution_cost == -P("3")  # bought 0.01 below the arrival mid: a gain


def test_no_quote_at_arrival_leaves_the_measures_at_zero() -> None:
    q = order_quality(BUY, MarketTape())
    assert q.arrival_mid == 0 and q.shortfall == P("3") and q.shortfall_bps == 0 and q.effective_spread == 0


def test_bad_inputs_are_refused(tape: MarketTape) -> None:
    with pytest.raises(ValueError, match="first activity must be NEW, not fill"):
        order_quality(BUY[1:], tape)
    with pytest.raises(ValueError, match="older than the last one"):
        tape.add(MarketQuote(T, "AAPL", P("1"), P("2")))
