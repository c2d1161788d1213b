"""Every pre-trade control of the gate: the order it refuses (with its reject code) and a compliant one it lets
through, on an order engine wired to real simulated venues (tests/unit/desk_fixtures.py)."""

from __future__ import annotations

import pytest

from tests.unit.desk_fixtures import D, Desk, default_limits, make_desk
from tradingdesk.core.enums import OrderStatus, OrderType, Side, TimeInForce, TradingState
from tradingdesk.core.reject import Reject, RejectKind
from tradingdesk.oms.requests import NewOrder, OrderRef, ReplaceRequest
from tradingdesk.risk.limits import LimitSet, StateEntry
from tradingdesk.risk.scope import DESK_SCOPE

S = OrderStatus
SECOND = 1_000_000_000
_seq = iter(range(1, 10**9))


def new(
    side: Side = Side.BUY,
    qty: str = "100",
    price: str = "99.00",
    symbol: str = "AAPL",
    account: str = "ACC",
    strategy: str = "",
    order_type: OrderType = OrderType.LIMIT,
    tif: TimeInForce = TimeInForce.DAY,
    cl: str | None = None,
) -> NewOrder:
    return NewOrder(
        client_order_id=cl or f"c{next(_seq)}",
        account=account,
        strategy=strategy,
        symbol=symbol,
        side=side,
        order_type=order_type,
        qty=D(qty),
        price=D(price) if order_type == OrderType.LIMIT else 0,
        tif=tif,
    )


def desk(**limits) -> Desk:
    return make_desk(default_limits(**limits), venues=("xnys", "xnas", "bats")).priced()


def refused(d: Desk, req: NewOrder, code: str, kind: RejectKind = RejectKind.REFUSED) -> str:
    before = (len(d.engine.orders), len(d.journal.records))
    with pytest.raises(Reject) as exc:
        d.engine.submit(req)
    assert (exc.value.code, exc.value.kind) == (code, kind), exc.value.message
    assert (len(d.engine.orders), len(d.journal.records)) == before, "a refused order changed the desk"
    return exc.value.message


def passes(d: Desk, req: NewOrder) -> str:
    ack = d.engine.submit(req)
    assert ack.order.status == S.PENDING_NEW
    return ack.order.order_id


def test_max_order_quantity() -> None:
    d = desk(max_order_quantity=D("100"))
    refused(d, new(qty="101"), "MAX_ORDER_QTY")
    passes(d, new(qty="100"))


def test_max_order_notional_uses_the_reference_for_market_orders() -> None:
    d = desk(max_order_notional=D("10000"))
    refused(d, new(qty="102", price="99.00"), "MAX_ORDER_NOTIONAL")
    refused(d, new(qty="101", order_type=OrderType.MARKET, tif=TimeInForce.IOC), "MAX_ORDER_NOTIONAL")
    passes(d, new(qty="101", price="99.00"))


def test_price_collar_and_reference() -> None:
    d = desk(price_collar_bps=100)
    assert "collar" in refused(d, new(price="98.99"), "PRICE_COLLAR")
    refused(d, new(side=Side.SELL, price="101.01"), "PRICE_COLLAR")
    passes(d, new(price="99.00"))
    fresh = make_desk(default_limits())
    refused(fresh, new(), "NO_REFERENCE")
    fresh.trade("AAPL", "100.00", "1")
    fresh.clock.advance(6 * SECOND)
    refused(fresh, new(), "STALE_REFERENCE")
    fresh.quote("AAPL", "99.99", "10", "100.01", "10")  # a quote keeps the last trade fresh
    passes(fresh, new())


def test_credit_limit_counts_open_orders() -> None:
    d = desk(credit_limit=D("25000"))
    passes(d, new(qty="100", price="99.00"))  # 9,900 open
    passes(d, new(qty="100", price="99.00"))  # 19,800 open
    assert "credit limit" in refused(d, new(qty="100", price="99.00"), "CREDIT_LIMIT")
    passes(d, new(qty="50", price="99.00"))  # 24,750


def test_credit_limit_counts_positions_at_the_mark() -> None:
    d = desk(credit_limit=D("25000"))
    passes(d, new(qty="200", price="100.05"))  # crosses: a long position of 200 at ~100
    d.settle()
    assert d.engine.positions.qty("ACC", "AAPL") == D("200")
    refused(d, new(qty="60", price="99.00"), "CREDIT_LIMIT")  # 20,000 held + 5,940
    passes(d, new(qty="40", price="99.00"))


def test_position_limit_counts_same_side_open_orders() -> None:
    d = desk(max_position_quantity=D("150"))
    passes(d, new(qty="100"))
    refused(d, new(qty="100"), "POSITION_LIMIT")
    passes(d, new(qty="50"))
    passes(d, new(side=Side.SELL, qty="150", price="101.00"))  # the other side has its own worst case


def test_gross_exposure() -> None:
    d = desk(max_gross_exposure=D("20000"))
    passes(d, new(qty="100"))  # 10,000 at the mark
    refused(d, new(side=Side.SELL, symbol="MSFT", qty="30", price="401.00"), "GROSS_EXPOSURE")  # +12,000
    passes(d, new(side=Side.SELL, symbol="MSFT", qty="20", price="401.00"))  # +8,000


def test_net_exposure_nets_longs_against_shorts() -> None:
    d = desk(max_gross_exposure=D("100000"), max_net_exposure=D("15000"))
    passes(d, new(qty="100"))  # net long 10,000
    refused(d, new(symbol="MSFT", qty="20", price="399.00"), "NET_EXPOSURE")  # 18,000 long
    passes(d, new(side=Side.SELL, symbol="MSFT", qty="30", price="401.00"))  # the short side nets to 0


def test_symbol_concentration() -> None:
    d = desk(max_gross_exposure=D("100000"), max_symbol_concentration_bps=2_000)
    refused(d, new(qty="250"), "SYMBOL_CONCENTRATION")  # 25,000 > 20% of 100,000
    passes(d, new(qty="150"))


def test_sector_concentration() -> None:
    d = desk(max_gross_exposure=D("100000"), max_sector_concentration_bps=3_000)
    passes(d, new(qty="200"))  # 20,000 technology
    refused(d, new(symbol="MSFT", qty="30", price="399.00"), "SECTOR_CONCENTRATION")  # +12,000
    passes(d, new(symbol="MSFT", qty="20", price="399.00"))  # +8,000 = 28,000


def test_exposure_limits_let_risk_reducing_orders_through() -> None:
    d = desk(max_position_quantity=D("1000"))
    passes(d, new(qty="200", price="100.05"))
    d.settle()
    d.gate.set_limits(default_limits(max_position_quantity=D("100"), max_gross_exposure=D("5000")))
    refused(d, new(qty="1"), "POSITION_LIMIT")
    passes(d, new(side=Side.SELL, qty="150", price="101.00"))  # reduces the long 200


def test_submit_throttle() -> None:
    d = desk(max_submits_per_second=3)
    for _ in range(3):
        passes(d, new(qty="1"))
    refused(d, new(qty="1"), "SUBMIT_THROTTLE", RejectKind.THROTTLED)
    d.clock.advance(SECOND)
    passes(d, new(qty="1"))


def test_modify_throttle() -> None:
    d = desk(max_modifies_per_second=2)
    oid = passes(d, new(qty="10"))
    d.settle()
    for i in range(2):
        d.engine.replace(
            ReplaceRequest(ref=OrderRef("ACC", oid, ""), new_client_order_id=f"r{i}", qty=None, price=D(f"99.0{i + 1}"))
        )
        d.settle()
        oid = d.engine.orders[oid].replaced_by_order_id
    with pytest.raises(Reject) as exc:
        d.engine.replace(
            ReplaceRequest(ref=OrderRef("ACC", oid, ""), new_client_order_id="r9", qty=None, price=D("99.09"))
        )
    assert exc.value.code == "MODIFY_THROTTLE" and exc.value.kind == RejectKind.THROTTLED
    d.clock.advance(SECOND)
    assert d.engine.replace(
        ReplaceRequest(ref=OrderRef("ACC", oid, ""), new_client_order_id="r9", qty=None, price=D("99.09"))
    ).order.status == (S.PENDING_REPLACE)


def test_cancel_throttle() -> None:
    d = desk(max_cancels_per_second=2)
    ids = [passes(d, new(qty="1")) for _ in range(3)]
    d.settle()
    d.engine.cancel(OrderRef("ACC", ids[0], ""))
    d.engine.cancel(OrderRef("ACC", ids[1], ""))
    with pytest.raises(Reject) as exc:
        d.engine.cancel(OrderRef("ACC", ids[2], ""))
    assert exc.value.code == "CANCEL_THROTTLE"
    assert d.engine.orders[ids[2]].status == S.NEW
    d.clock.advance(SECOND)
    assert d.engine.cancel(OrderRef("ACC", ids[2], "")).order.status == S.PENDING_CANCEL


def test_order_to_trade_ratio() -> None:
    d = desk(max_order_to_trade_ratio=2, order_to_trade_min_messages=2)
    passes(d, new(qty="10", price="100.05"))  # fills: one message, one trade
    d.settle()
    resting = passes(d, new(qty="10", price="99.00"))  # two messages, one trade
    assert "order-to-trade" in refused(d, new(qty="10", price="99.00"), "ORDER_TO_TRADE_RATIO")
    d.trade("AAPL", "98.90", "10")  # the tape trades through the resting buy: a second trade
    d.settle()
    assert d.engine.orders[resting].status == S.FILLED
    d.trade("AAPL", "100.00", "1")
    passes(d, new(qty="10", price="99.00"))


def test_order_to_trade_window_restarts() -> None:
    d = desk(max_order_to_trade_ratio=2, order_to_trade_min_messages=3, order_to_trade_window_s=60)
    for _ in range(3):
        passes(d, new(qty="1"))
    refused(d, new(qty="1"), "ORDER_TO_TRADE_RATIO")
    d.clock.advance(60 * SECOND)
    d.trade("AAPL", "100.00", "1")
    passes(d, new(qty="1"))


def test_duplicate_order_within_the_window() -> None:
    d = desk(duplicate_window_ms=1_000)
    passes(d, new(qty="10", price="99.00"))
    assert "duplicate" in refused(d, new(qty="10", price="99.00"), "DUPLICATE_ORDER")
    passes(d, new(qty="10", price="99.01"))  # different content
    passes(d, new(qty="10", price="99.00", account="ACC2"))  # another account
    d.clock.advance(SECOND)
    d.trade("AAPL", "100.00", "1")
    passes(d, new(qty="10", price="99.00"))


def test_repeated_execution_latches_until_a_person_releases_it() -> None:
    d = desk(max_repeated_executions=2, repeated_execution_window_ms=10_000)
    for _ in range(3):
        passes(d, new(qty="5", price="100.05", strategy="algo"))
        d.settle()
    latches = [r for r in d.journal.records if r.kind == "risk_latch"]
    assert len(latches) == 1 and latches[0].payload["strategy"] == "algo"
    assert "re-enable" in refused(d, new(qty="5", price="99.00", strategy="algo"), "REPEATED_EXECUTION")
    passes(d, new(qty="5", price="99.00", strategy="other"))  # only the strategy that tripped is off
    d.clock.advance(3_600 * SECOND)  # time alone does not re-enable it
    d.trade("AAPL", "100.00", "1")
    refused(d, new(qty="5", price="99.00", strategy="algo"), "REPEATED_EXECUTION")
    assert not d.gate.release_latch(("ACC", "algo"), latches[0].ts_ns - 1), "a release older than the trip"
    assert d.gate.release_latch(("ACC", "algo"), d.clock.now_ns())
    passes(d, new(qty="5", price="99.00", strategy="algo"))


def test_restricted_list() -> None:
    d = desk(restricted_symbols=frozenset({"AAPL"}))
    refused(d, new(), "RESTRICTED_SYMBOL")
    passes(d, new(symbol="MSFT", qty="1", price="399.00"))


def test_short_sale_rule_needs_marking_and_a_locate() -> None:
    d = desk(short_sale_rule=True, locates={("ACC", "AAPL"): D("50")}, easy_to_borrow=frozenset({"MSFT"}))
    assert "SELL_SHORT" in refused(d, new(side=Side.SELL, qty="10", price="101.00"), "SHORT_SALE_MARKING")
    refused(d, new(side=Side.SELL_SHORT, qty="60", price="101.00"), "SHORT_LOCATE_REQUIRED")
    passes(d, new(side=Side.SELL_SHORT, qty="50", price="101.00"))
    refused(d, new(side=Side.SELL_SHORT, qty="1", price="101.00"), "SHORT_LOCATE_REQUIRED")  # open sales count
    refused(d, new(side=Side.SELL_SHORT, qty="1", price="101.00", account="ACC2"), "SHORT_LOCATE_REQUIRED")
    passes(d, new(side=Side.SELL_SHORT, symbol="MSFT", qty="10", price="401.00"))  # easy to borrow
    passes(d, new(qty="100", price="100.05", account="ACC2"))
    d.settle()
    passes(d, new(side=Side.SELL, qty="100", price="101.00", account="ACC2"))  # a long sale


def test_symbol_halt() -> None:
    d = desk(halted_symbols=frozenset({"AAPL"}))
    refused(d, new(), "SYMBOL_HALTED")
    passes(d, new(symbol="MSFT", qty="1", price="399.00"))


def test_luld_band_around_the_five_minute_mean() -> None:
    d = desk(price_collar_bps=2_000, luld_band_bps=500, luld_low_price_band_bps=2_000)
    for price in ("100.00", "101.00", "99.00"):  # mean 100: band 95-105
        d.trade("AAPL", price, "1")
    assert "limit-up/limit-down" in refused(d, new(price="105.10"), "LULD_BAND")
    refused(d, new(side=Side.SELL, price="94.90"), "LULD_BAND")
    passes(d, new(price="104.90"))
    passes(d, new(side=Side.SELL, price="95.10"))
    d.clock.advance(301 * SECOND)  # old trades leave the window: the mean follows the price
    d.trade("AAPL", "108.00", "1")
    passes(d, new(price="112.00", qty="1"))


def test_trading_states_by_scope() -> None:
    d = desk()
    d.gate.set_state(("ACC", "algo"), StateEntry(TradingState.HALTED, "ops", "strategy halt"))
    refused(d, new(strategy="algo"), "TRADING_HALTED")
    passes(d, new(strategy="other"))
    d.gate.set_state(("ACC", ""), StateEntry(TradingState.REDUCING, "ops", "reduce"))
    refused(d, new(strategy="other"), "REDUCE_ONLY")
    passes(d, new(account="ACC2", qty="100", price="100.05"))
    d.settle()
    d.gate.set_state(("ACC2", ""), StateEntry(TradingState.REDUCING, "ops", "reduce"))
    refused(d, new(account="ACC2", side=Side.SELL, qty="101", price="101.00"), "REDUCE_ONLY")
    passes(d, new(account="ACC2", side=Side.SELL, qty="60", price="101.00"))
    refused(d, new(account="ACC2", side=Side.SELL, qty="60", price="101.00"), "REDUCE_ONLY")  # 120 > 100
    d.gate.set_state(DESK_SCOPE, StateEntry(TradingState.HALTED, "ops", "desk halt"))
    assert "desk halt" in refused(d, new(account="ACC3"), "TRADING_HALTED")
    d.gate.set_state(DESK_SCOPE, StateEntry(TradingState.ACTIVE))
    passes(d, new(account="ACC3"))


def test_cancels_pass_while_halted_and_while_the_stream_is_lost() -> None:
    d = desk(gate_stream_timeout_ms=2_000)
    oid = passes(d, new())
    d.settle()
    d.gate.arm_stream_guard(d.clock.now_ns())
    d.clock.advance(3 * SECOND)
    d.trade("AAPL", "100.00", "1")
    d.gate.set_state(DESK_SCOPE, StateEntry(TradingState.HALTED, "ops", "x"))
    assert d.engine.cancel(OrderRef("ACC", oid, "")).order.status == S.PENDING_CANCEL


def test_gate_fails_closed_when_the_risk_stream_is_silent_and_recovers() -> None:
    d = desk(gate_stream_timeout_ms=2_000)
    d.gate.arm_stream_guard(d.clock.now_ns())
    passes(d, new())
    d.clock.advance(2 * SECOND + 1)
    d.trade("AAPL", "100.00", "1")
    msg = refused(d, new(), "RISK_STREAM_LOST", RejectKind.UNAVAILABLE)
    assert "risk stream lost" in msg
    d.gate.heard(d.clock.now_ns())  # an update or heartbeat arrives again
    passes(d, new())


def test_a_gate_the_risk_service_cut_off_refuses_at_once_until_the_stream_is_back() -> None:
    d = desk(gate_stream_timeout_ms=2_000)
    d.gate.arm_stream_guard(d.clock.now_ns())
    passes(d, new())
    d.gate.cut_off("cut off by the risk service: did not acknowledge update 7 within 2000 ms")
    msg = refused(d, new(), "RISK_STREAM_LOST", RejectKind.UNAVAILABLE)  # no time passed: not the silence
    assert msg.startswith("risk stream lost: cut off by the risk service: did not acknowledge update 7")
    d.gate.heard(d.clock.now_ns())  # the full picture after the reconnect
    passes(d, new())


def test_scope_limits_only_tighten() -> None:
    scopes = {
        ("ACC", ""): LimitSet(max_order_quantity=D("50"), max_submits_per_second=2),
        ("ACC", "algo"): LimitSet(max_order_notional=D("1000"), max_gross_exposure=D("3000")),
    }
    d = desk(max_order_quantity=D("1000"), scopes=scopes)
    refused(d, new(qty="60"), "MAX_ORDER_QTY")
    passes(d, new(qty="60", account="ACC2"))
    refused(d, new(qty="11", strategy="algo"), "MAX_ORDER_NOTIONAL")
    passes(d, new(qty="10", strategy="algo"))
    passes(d, new(qty="1", strategy="manual"))
    refused(d, new(qty="10", strategy="algo"), "SUBMIT_THROTTLE", RejectKind.THROTTLED)
    d.clock.advance(SECOND)
    d.trade("AAPL", "100.00", "1")
    passes(d, new(qty="10", strategy="algo"))
    d.clock.advance(SECOND)
    d.trade("AAPL", "100.00", "1")
    passes(d, new(qty="10", strategy="algo"))  # 3,000 of the strategy's gross limit reached ...
    refused(d, new(qty="1", strategy="algo"), "GROSS_EXPOSURE")
    passes(d, new(qty="1", strategy="manual"))  # ... which the account's other strategies do not share
    assert d.gate.books[("ACC", "algo")].gross == D("3000")


def test_limit_changes_take_effect_at_once() -> None:
    d = desk()
    passes(d, new(qty="500"))
    d.gate.set_limits(default_limits(max_order_quantity=D("100")))
    refused(d, new(qty="500"), "MAX_ORDER_QTY")


def test_incremental_exposure_matches_a_recount() -> None:
    """The gate keeps sums as differences; after a mixed session they equal a count from scratch."""
    d = desk(max_gross_exposure=D("10000000"))
    for i in range(30):
        side = Side.BUY if i % 3 else Side.SELL
        sym = "AAPL" if i % 2 else "MSFT"
        ref = 100 if sym == "AAPL" else 400
        cross = i % 4 == 0
        price = ref + (1 if side == Side.BUY else -1) * (0.05 if cross else -1.0)
        passes(d, new(side=side, symbol=sym, qty=str(10 + i), price=f"{price:.2f}", strategy=f"s{i % 2}"))
        d.settle()
        if i % 5 == 0:
            d.trade(sym, f"{ref + (i % 7) / 100:.2f}", "15")
            d.settle()
    for book in d.gate.books.values():
        gross = net_l = net_s = posval = 0
        for se in book.symbols.values():
            long_q, short_q = se.position + se.open_buy, se.position - se.open_sell
            gross += max(abs(long_q), abs(short_q)) * se.mark // 10**9
            net_l += long_q * se.mark // 10**9
            net_s += short_q * se.mark // 10**9
            posval += abs(se.position) * se.mark // 10**9
        assert (book.gross, book.net_long, book.net_short, book.position_value) == (gross, net_l, net_s, posval)
    desk_book = d.gate.books[DESK_SCOPE]
    for sym in ("AAPL", "MSFT"):
        assert desk_book.symbols[sym].position == sum(p.qty for p in d.engine.positions.all() if p.symbol == sym)
        open_buy = sum(o.leaves_qty for o in d.engine.open_orders.values() if o.symbol == sym and o.side == Side.BUY)
        assert desk_book.symbols[sym].open_buy == open_buy


def test_scope_restricted_list_and_duplicate_window() -> None:
    scopes = {
        ("ACC", ""): LimitSet(restricted_symbols=frozenset({"MSFT"})),
        ("ACC", "algo"): LimitSet(duplicate_window_ms=5_000),
    }
    d = desk(restricted_symbols=frozenset({"AAPL"}), duplicate_window_ms=1_000, scopes=scopes)
    refused(d, new(symbol="MSFT", qty="1", price="399.00"), "RESTRICTED_SYMBOL")
    refused(d, new(account="ACC2"), "RESTRICTED_SYMBOL")  # the desk's list applies to everyone
    passes(d, new(symbol="MSFT", qty="1", price="399.00", account="ACC2"))
    d.gate.set_limits(default_limits(duplicate_window_ms=1_000, scopes=scopes))
    passes(d, new(qty="7", strategy="algo"))
    passes(d, new(qty="7", strategy="other"))
    d.clock.advance(2 * SECOND)
    d.trade("AAPL", "100.00", "1")
    refused(d, new(qty="7", strategy="algo"), "DUPLICATE_ORDER")  # the strategy's longer window
    passes(d, new(qty="7", strategy="other"))
