"""Marking the close: an owner trading a large share of a symbol's volume in the last minutes of the session,
in the direction the closing price then moved. Closing prices value funds, settle derivatives and set
benchmarks, so pushing them is manipulation even when each trade looks ordinary.

For each session (from the symbol's exchange calendar, so early closes count) the window is the last
``windowMinutes`` before the regular close. When the session has closed, each owner that traded in the
window is examined: its share of the window's volume (prints on the tape plus the desk's own fills, which
simulated venues do not print) is at least ``minVolumeShareBps``, and the last price moved at least
``minMoveBps`` over the window (from the last price before it, or its first) in the direction of the owner's
net trading: an alert.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from tradingdesk.core.activity import Activity, MarketActivity, MarketPrint, OrderActivity
from tradingdesk.core.fixed import format_fixed
from tradingdesk.markets.calendar import ExchangeCalendar, Session
from tradingdesk.spec.conduct import MarkingCloseSpec
from tradingdesk.surveillance.alerts import MARKING_CLOSE, Alert
from tradingdesk.surveillance.owners import Owners

_NEVER = 1 << 63


@dataclass(slots=True)
class _Window:
    session: Session
    start_ns: int
    before: int = 0
    """The last price before the window (0: none seen)."""
    volume: int = 0
    last: int = 0
    first: int = 0
    bought: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    sold: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    orders: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    accounts: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


class MarkingCloseDetector:
    name = MARKING_CLOSE

    def __init__(self, spec: MarkingCloseSpec, owners: Owners, calendars: Mapping[str, ExchangeCalendar]) -> None:
        self.spec = spec
        self.owners = owners
        self.calendars = calendars
        self.window_ns = spec.window_minutes * 60_000_000_000
        self._windows: dict[str, _Window] = {}
        self._next_close = _NEVER  # the earliest close of a window still open: nothing to judge before it

    def _window(self, symbol: str, ts_ns: int) -> _Window | None:
        calendar = self.calendars.get(symbol)
        if calendar is None:
            return None
        day = calendar.trading_day(ts_ns)
        if day is None or ts_ns >= day.session.close_ns:
            return None  # outside any session, or after its close: nothing can mark this close any more
        current = self._windows.get(symbol)
        if current is None or current.session != day.session:
            current = self._windows[symbol] = _Window(day.session, day.session.close_ns - self.window_ns)
            self._next_close = min(self._next_close, day.session.close_ns)
        return current

    def _trade(self, symbol: str, ts_ns: int, price: int, qty: int) -> _Window | None:
        window = self._window(symbol, ts_ns)
        if window is None:
            return None
        if ts_ns < window.start_ns:
            window.before = price
            return None
        window.volume += qty
        window.last = price
        window.first = window.first or price
        return window

    def on_market(self, ev: MarketActivity) -> list[Alert]:
        alerts = self.advance(ev.ts_ns)
        if isinstance(ev, MarketPrint):
            self._trade(ev.symbol, ev.ts_ns, ev.price, ev.qty)
        return alerts

    def on_order(self, ev: OrderActivity) -> list[Alert]:
        alerts = self.advance(ev.ts_ns)
        if ev.kind is Activity.FILL:
            window = self._trade(ev.symbol, ev.ts_ns, ev.fill_price, ev.fill_qty)
            if window is not None:
                owner = self.owners.of(ev.account)
                (window.bought if ev.is_buy else window.sold)[owner] += ev.fill_qty
                window.orders[owner].append(ev.order_id)
                window.accounts[owner].append(ev.account)
        return alerts

    def advance(self, now_ns: int) -> list[Alert]:
        if now_ns < self._next_close:
            return []
        alerts: list[Alert] = []
        for symbol, window in list(self._windows.items()):
            if now_ns >= window.session.close_ns:
                del self._windows[symbol]
                alerts += self._judge(symbol, window)
        self._next_close = min((w.session.close_ns for w in self._windows.values()), default=_NEVER)
        return alerts

    def _judge(self, symbol: str, window: _Window) -> list[Alert]:
        spec = self.spec
        start = window.before or window.first
        if not window.volume or not start:
            return []
        move = window.last - start
        alerts = []
        for owner in sorted(set(window.bought) | set(window.sold)):
            bought, sold = window.bought.get(owner, 0), window.sold.get(owner, 0)
            net = bought - sold
            traded = bought + sold
            if not net or traded * 10_000 < window.volume * spec.min_volume_share_bps:
                continue
            if (move if net > 0 else -move) * 10_000 < start * spec.min_move_bps:
                continue
            share_bps = traded * 10_000 // window.volume
            move_bps = move * 10_000 // start
            summary = (
                f"{owner} {'bought' if net > 0 else 'sold'} a net {format_fixed(abs(net))} {symbol} in the last "
                f"{spec.window_minutes} minutes before the {window.session.day} close ({share_bps / 100:.2f}% of the "
                f"volume) while the price moved {move_bps / 100:+.2f}% from {format_fixed(start)} to "
                f"{format_fixed(window.last)}"
            )
            alerts.append(
                Alert(
                    MARKING_CLOSE,
                    window.session.close_ns,
                    owner,
                    tuple(dict.fromkeys(window.accounts[owner])),
                    symbol,
                    tuple(dict.fromkeys(window.orders[owner])),
                    summary,
                    (
                        ("share_bps", str(share_bps)),
                        ("move_bps", str(move_bps)),
                        ("net_qty", format_fixed(net)),
                        ("window_volume", format_fixed(window.volume)),
                    ),
                )
            )
        return alerts
