"""Each surveillance detector with a crafted sequence it must flag and a similar innocent one it must not."""

from __future__ import annotations

from datetime import date
from itertools import count

from tradingdesk.core.activity import Activity, MarketPrint, MarketQuote, OrderActivity
from tradingdesk.core.enums import Side
from tradingdesk.core.fixed import parse_fixed
from tradingdesk.markets.calendar import NS_PER_MINUTE, ExchangeCalendar, Session
from tradingdesk.spec.conduct import (
    BeneficialOwnerSpec,
    MarkingCloseSpec,
    OrderToTradeSpec,
    SpoofingSpec,
    SurveillanceSpec,
    WashTradeSpec,
)
from tradingdesk.surveillance.alerts import LAYERING, MARKING_CLOSE, ORDER_TO_TRADE, RULES, SPOOFING, WASH_TRADE
from tradingdesk.surveillance.monitor import SurveillanceMonitor, detectors_for
from tradingdesk.surveillance.owners import Owners

P = parse_fixed
MS = 1_000_000
T0 = 1_719_927_000 * 1_000_000_000  # 2024-07-02 13:30 UTC: the open in New York
SESSION = Session(date(2024, 7, 2), T0, T0 + 390 * NS_PER_MINUTE)
CALENDAR = ExchangeCalendar("XNYS", [SESSION], timezone="America/New_York", post_close_minutes=240)
OWNERS = [BeneficialOwnerSpec(name="fund-x", accounts=["X-1", "X-2"])]
_ids = count(1)


def order(kind: Activity, ts: int, account: str, side: Side, qty: str, price: str, **kw: object) -> OrderActivity:
    return OrderActivity(
        kind, ts, str(kw.pop("order_id", f"o{next(_ids)}")), account, "AAPL", side, P(qty), P(price), **kw
    )  # type: ignore[arg-type]


def fill(
    ts: int, account: str, side: Side, qty: str, price: str, order_id: str = "", venue: str = "v1", leaves: str = "0"
) -> OrderActivity:
    return OrderActivity(
        Activity.FILL,
        ts,
        order_id or f"o{next(_ids)}",
        account,
        "AAPL",
        side,
        P(qty),
        P(price),
        leaves_qty=P(leaves),
        venue=venue,
        fill_qty=P(qty),
        fill_price=P(price),
    )


def monitor(**overrides: object) -> SurveillanceMonitor:
    spec = SurveillanceSpec(beneficial_owners=OWNERS, **overrides)  # type: ignore[arg-type]
    return SurveillanceMonitor(detectors_for(spec, {"AAPL": CALENDAR}))


def run(m: SurveillanceMonitor, events: list[object], until: int) -> list[str]:
    for ev in events:
        if isinstance(ev, OrderActivity):
            m.on_order(ev)
        else:
            m.on_market(ev)  # type: ignore[arg-type]
    m.advance(until)
    return [a.detector for a in m.alerts]


# wash trades -----------------------------------------------------------------------------------------------


def test_wash_trade_across_linked_accounts_and_venues_is_flagged() -> None:
    m = monitor(wash_trades=WashTradeSpec(window_ms=60_000, price_band_bps=10))
    t = T0 + 60 * NS_PER_MINUTE
    events = [
        fill(t, "X-1", Side.BUY, "500", "100.00", venue="v1"),
        fill(t + 900 * MS, "X-2", Side.SELL, "300", "100.05", venue="v2"),
    ]
    assert run(m, events, t + NS_PER_MINUTE) == [WASH_TRADE]
    alert = m.alerts[0]
    assert alert.owner == "fund-x" and alert.accounts == ("X-1", "X-2") and alert.rule == RULES[WASH_TRADE]
    assert dict(alert.figures)["matched_qty"] == "300" and "venues v1, v2" in alert.summary


def test_the_same_account_buying_and_selling_itself_is_flagged() -> None:
    m = monitor()
    t = T0 + 60 * NS_PER_MINUTE
    assert run(m, [fill(t, "Y", Side.SELL, "10", "50"), fill(t + MS, "Y", Side.BUY, "10", "50")], t + 1) == [WASH_TRADE]


def test_unlinked_accounts_far_apart_prices_or_times_are_not_wash_trades() -> None:
    t = T0 + 60 * NS_PER_MINUTE
    innocent = [
        [fill(t, "X-1", Side.BUY, "500", "100.00"), fill(t + MS, "OTHER", Side.SELL, "500", "100.00")],  # two owners
        [fill(t, "X-1", Side.BUY, "500", "100.00"), fill(t + MS, "X-2", Side.SELL, "500", "100.50")],  # 50 bps apart
        [fill(t, "X-1", Side.BUY, "500", "100.00"), fill(t + 61_000 * MS, "X-2", Side.SELL, "500", "100.00")],  # 61 s
        [fill(t, "X-1", Side.BUY, "500", "100.00"), fill(t + MS, "X-2", Side.BUY, "500", "100.00")],  # same side
    ]
    for events in innocent:
        m = monitor(wash_trades=WashTradeSpec(window_ms=60_000, price_band_bps=10))
        assert run(m, events, t + 120_000 * MS) == [], events


def test_a_fill_already_matched_is_not_matched_again() -> None:
    m = monitor()
    t = T0 + 60 * NS_PER_MINUTE
    events = [
        fill(t, "X-1", Side.BUY, "100", "10"),
        fill(t + MS, "X-2", Side.SELL, "100", "10"),
        fill(t + 2 * MS, "X-2", Side.SELL, "100", "10"),
    ]
    assert run(m, events, t + 3 * MS) == [WASH_TRADE]


# spoofing and layering -------------------------------------------------------------------------------------

SPOOF = SpoofingSpec(near_touch_bps=10, size_ratio=5, lookback_ms=10_000, cancel_within_ms=5_000, layering_levels=3)


def spoof_sequence(
    *, prices: list[str], cancel_after_ms: int, qty: str = "5000", price_near: bool = True
) -> list[object]:
    t = T0 + 60 * NS_PER_MINUTE
    events: list[object] = [MarketQuote(t, "AAPL", P("100.00"), P("100.02"), P("800"), P("800"))]
    bids = []
    for i, price in enumerate(prices):
        bid = order(Activity.NEW, t + (i + 1) * MS, "X-1", Side.BUY, qty, price if price_near else "99.00")
        bids.append(bid)
        events.append(bid)
    sell = order(Activity.NEW, t + 10 * MS, "X-2", Side.SELL, "100", "100.02", order_id="small")
    events += [sell, fill(t + 500 * MS, "X-2", Side.SELL, "100", "100.02", order_id="small")]
    for i, bid in enumerate(bids):
        ts = t + 500 * MS + cancel_after_ms * MS + i * MS
        events.append(order(Activity.CANCEL, ts, "X-1", Side.BUY, qty, "100", order_id=bid.order_id))
    return events


def test_large_bids_near_the_touch_cancelled_after_a_small_sell_is_spoofing() -> None:
    m = monitor(spoofing=SPOOF)
    assert run(m, spoof_sequence(prices=["100.00"], cancel_after_ms=200), T0 + 70 * NS_PER_MINUTE) == [SPOOFING]
    alert = m.alerts[0]
    assert alert.owner == "fund-x" and alert.order_ids[0] == "small" and set(alert.accounts) == {"X-1", "X-2"}
    assert dict(alert.figures)["cancelled_qty"] == "5000" and alert.rule == RULES[SPOOFING]


def test_three_price_levels_make_it_layering() -> None:
    m = monitor(spoofing=SPOOF)
    events = spoof_sequence(prices=["100.00", "99.99", "99.98"], cancel_after_ms=200)
    assert run(m, events, T0 + 70 * NS_PER_MINUTE) == [LAYERING]
    assert dict(m.alerts[0].figures)["price_levels"] == "3"


def test_similar_innocent_sequences_are_not_spoofing() -> None:
    innocent = {
        "cancelled too late": spoof_sequence(prices=["100.00"], cancel_after_ms=6_000),
        "far from the touch": spoof_sequence(prices=["100.00"], cancel_after_ms=200, price_near=False),
        "not large": spoof_sequence(prices=["100.00"], cancel_after_ms=200, qty="400"),
        "never cancelled": [
            e
            for e in spoof_sequence(prices=["100.00"], cancel_after_ms=200)
            if not (isinstance(e, OrderActivity) and e.kind is Activity.CANCEL)
        ],
    }
    for why, events in innocent.items():
        m = monitor(spoofing=SPOOF)
        assert run(m, events, T0 + 70 * NS_PER_MINUTE) == [], why


def test_an_unlinked_account_on_the_other_side_is_not_spoofing() -> None:
    events = spoof_sequence(prices=["100.00"], cancel_after_ms=200)
    events = [
        e._replace(account="OTHER") if isinstance(e, OrderActivity) and e.order_id == "small" else e for e in events
    ]
    m = monitor(spoofing=SPOOF)
    assert run(m, events, T0 + 70 * NS_PER_MINUTE) == []


# order-to-trade ratio --------------------------------------------------------------------------------------

OTR = OrderToTradeSpec(window_s=60, max_ratio=10, min_messages=50)


def churn(messages: int, trades: int) -> list[object]:
    t = T0 + 60 * NS_PER_MINUTE
    events: list[object] = []
    for i in range(messages):
        kind = Activity.NEW if i % 2 == 0 else Activity.CANCEL
        events.append(order(kind, t + i * 10 * MS, "Q-1", Side.BUY, "100", "100"))
    events += [fill(t + 10_000 * MS + i * MS, "Q-1", Side.BUY, "1", "100") for i in range(trades)]
    return events


def test_a_window_with_too_many_messages_per_trade_is_flagged_when_it_closes() -> None:
    m = monitor(order_to_trade=OTR)
    events = churn(120, 5)
    assert run(m, events, T0 + 60 * NS_PER_MINUTE + 59_000 * MS) == []  # the window is still open
    m.advance(T0 + 61 * NS_PER_MINUTE)
    assert [a.detector for a in m.alerts] == [ORDER_TO_TRADE]
    alert = m.alerts[0]
    assert alert.accounts == ("Q-1",) and dict(alert.figures)["messages"] == "120" and "ratio 24.0" in alert.summary


def test_enough_trades_or_too_few_messages_is_not_flagged() -> None:
    for messages, trades in ((120, 12), (40, 0)):
        m = monitor(order_to_trade=OTR)
        assert run(m, churn(messages, trades), T0 + 62 * NS_PER_MINUTE) == [], (messages, trades)


# marking the close -----------------------------------------------------------------------------------------

CLOSE = SESSION.close_ns


def closing_tape(*, buyer_qty: str, last_price: str) -> list[object]:
    """Quiet trading until 15:50, then the fund buys into the close while the price climbs to ``last_price``."""
    events: list[object] = [MarketPrint(CLOSE - 30 * NS_PER_MINUTE, "AAPL", P("100.00"), P("1000"))]
    events.append(MarketPrint(CLOSE - 9 * NS_PER_MINUTE, "AAPL", P("100.02"), P("500")))
    events.append(fill(CLOSE - 5 * NS_PER_MINUTE, "X-1", Side.BUY, buyer_qty, "100.10"))
    events.append(fill(CLOSE - 1 * NS_PER_MINUTE, "X-2", Side.BUY, buyer_qty, last_price))
    events.append(MarketPrint(CLOSE - 30_000 * MS, "AAPL", P(last_price), P("200")))
    return events


def test_buying_most_of_the_closing_volume_as_the_price_rises_is_flagged() -> None:
    m = monitor(marking_close=MarkingCloseSpec(window_minutes=10, min_volume_share_bps=2_000, min_move_bps=20))
    events = closing_tape(buyer_qty="800", last_price="100.40")
    assert run(m, events, CLOSE - 1) == []  # judged once the session has closed
    m.advance(CLOSE)
    assert [a.detector for a in m.alerts] == [MARKING_CLOSE]
    alert = m.alerts[0]
    assert alert.owner == "fund-x" and alert.accounts == ("X-1", "X-2") and alert.ts_ns == CLOSE
    assert dict(alert.figures)["move_bps"] == "40" and dict(alert.figures)["share_bps"] == "6956"  # 1,600 of 2,300


def test_the_same_buying_with_a_flat_close_or_a_small_share_is_not_flagged() -> None:
    spec = MarkingCloseSpec(window_minutes=10, min_volume_share_bps=2_000, min_move_bps=20)
    for buyer_qty, last in (("800", "100.01"), ("10", "100.40")):
        m = monitor(marking_close=spec)
        assert run(m, closing_tape(buyer_qty=buyer_qty, last_price=last), CLOSE + 1) == [], (buyer_qty, last)


def test_selling_into_a_rising_close_is_not_marking_it() -> None:
    m = monitor(marking_close=MarkingCloseSpec(window_minutes=10, min_volume_share_bps=2_000, min_move_bps=20))
    events = [
        MarketPrint(CLOSE - 30 * NS_PER_MINUTE, "AAPL", P("100"), P("100")),
        fill(CLOSE - 5 * NS_PER_MINUTE, "X-1", Side.SELL, "800", "100.40"),
        MarketPrint(CLOSE - MS, "AAPL", P("100.40"), P("100")),
    ]
    assert run(m, events, CLOSE + 1) == []


def test_owners_default_to_the_account_itself() -> None:
    owners = Owners(OWNERS)
    assert owners.of("X-2") == "fund-x" and owners.of("LONE") == "LONE"


def test_an_alert_key_is_stable() -> None:
    m = monitor()
    t = T0 + 60 * NS_PER_MINUTE
    run(
        m,
        [fill(t, "Y", Side.SELL, "10", "50", order_id="a"), fill(t + MS, "Y", Side.BUY, "10", "50", order_id="b")],
        t + 2,
    )
    assert m.alerts[0].key == f"wash_trade:Y:AAPL:{t + MS}:a,b"
