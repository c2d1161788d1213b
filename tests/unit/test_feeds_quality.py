"""The outlier filter: far-off prints are held and reported, real moves re-anchor after confirmation."""

from __future__ import annotations

import pytest

from tradingdesk.feeds.events import QUOTE, TRADE, FeedMessage, MarketEvent
from tradingdesk.feeds.quality import OutlierFilter, price_of

U = 10**9


def trade(seq: int, price: int, symbol: str = "AAPL") -> FeedMessage:
    return FeedMessage("A", seq, seq, MarketEvent(seq, symbol, TRADE, price=price, qty=100 * U))


def quote(seq: int, bid: int, ask: int, symbol: str = "AAPL") -> FeedMessage:
    return FeedMessage("A", seq, seq, MarketEvent(seq, symbol, QUOTE, bid, 100 * U, ask, 100 * U))


def test_prices_near_the_reference_pass_and_move_it() -> None:
    f = OutlierFilter(band_bps=1_000)
    assert f.admit(quote(1, 100 * U, 101 * U))
    assert f.reference("AAPL") == price_of(quote(1, 100 * U, 101 * U)) == 100_500_000_000
    assert f.admit(trade(2, 109 * U))  # +8.5%: inside a 10% band
    assert f.admit(trade(3, 118 * U))  # judged against the moved reference
    assert f.held == 0


def test_a_fat_finger_print_is_held_counted_and_reported() -> None:
    f = OutlierFilter(band_bps=1_000)
    f.admit(trade(1, 100 * U))
    assert not f.admit(trade(2, 1_000 * U))  # a missing decimal point
    assert not f.admit(quote(3, 10 * U, 11 * U))  # a quote whose mid is far off
    assert f.admit(trade(4, 100 * U))
    assert f.held == 2 and f.reference("AAPL") == 100 * U
    held = list(f.recent)
    assert [(h.seq, h.kind, h.price, h.reference) for h in held] == [
        (2, TRADE, 1_000 * U, 100 * U),
        (3, QUOTE, 10_500_000_000, 100 * U),
    ]


def test_a_confirmed_new_level_re_anchors() -> None:
    f = OutlierFilter(band_bps=1_000, confirm=3)
    f.admit(trade(1, 100 * U))
    assert not f.admit(trade(2, 150 * U))
    assert not f.admit(trade(3, 151 * U))
    assert f.admit(trade(4, 149 * U))  # the third in a row on the same new level: the market moved
    assert f.reanchors == 1 and f.reference("AAPL") == 149 * U and f.held == 2
    assert f.admit(trade(5, 150 * U))


def test_scattered_outliers_never_re_anchor() -> None:
    f = OutlierFilter(band_bps=1_000, confirm=2)
    f.admit(trade(1, 100 * U))
    assert not f.admit(trade(2, 200 * U))
    assert not f.admit(trade(3, 50 * U))  # far off, but not near the previous one either
    assert not f.admit(trade(4, 300 * U))
    assert f.reanchors == 0 and f.held == 3


def test_symbols_are_judged_separately() -> None:
    f = OutlierFilter()
    f.admit(trade(1, 100 * U, "AAPL"))
    assert f.admit(trade(2, 400 * U, "MSFT"))  # MSFT's first price sets its own reference


def test_band_and_confirm_must_be_positive() -> None:
    with pytest.raises(ValueError):
        OutlierFilter(band_bps=0)
    with pytest.raises(ValueError):
        OutlierFilter(confirm=0)


def test_the_band_and_confirmations_come_from_the_spec() -> None:
    """A feed handler's filter uses its FeedSpec: a 1% move is an outlier under a 50 bps band, not under 10%."""
    from tradingdesk.spec.model import FeedSpec

    tight = FeedSpec(name="tight", outlier_band_bps=50, outlier_confirmations=2)
    loose = FeedSpec(name="loose")
    for spec, held in ((tight, True), (loose, False)):
        f = OutlierFilter(spec.outlier_band_bps, spec.outlier_confirmations)
        assert f.admit(trade(1, 100 * 10**9))
        assert f.admit(trade(2, 101 * 10**9)) is not held
    f = OutlierFilter(tight.outlier_band_bps, tight.outlier_confirmations)
    f.admit(trade(1, 100 * 10**9))
    assert not f.admit(trade(2, 101 * 10**9))
    assert f.admit(trade(3, 101 * 10**9)), "two confirmations re-anchor under this spec"
