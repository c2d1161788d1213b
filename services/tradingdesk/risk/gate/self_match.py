"""Self-match prevention at the desk: two orders of one group (an account, or the whole desk) must never trade
with each other.

A venue prevents it for the orders it holds (each order carries its group and mode, ``VenueOrder.smp_id``),
but two of our orders on different venues never meet in one book, so the venue cannot see that a new buy on
one crosses our own resting sell on another. ``SelfMatchBook`` keeps the desk's acknowledged working limit
orders by group, symbol and side, sorted by price, so the order engine can find the ones a new order would
trade with on other venues and apply the same mode there (``oms/self_match.py``). It follows the orders
through the engine's events, live and during recovery alike.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass

from tradingdesk.core.enums import OrderStatus, OrderType, SelfMatchMode, Side
from tradingdesk.core.events import OrderEvent, OrderReplaced
from tradingdesk.spec.conduct import SelfMatchSpec

DESK_GROUP = "desk"
_WORKING = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})
MODES = {
    "cancelNewest": SelfMatchMode.CANCEL_NEWEST,
    "cancelOldest": SelfMatchMode.CANCEL_OLDEST,
    "cancelBoth": SelfMatchMode.CANCEL_BOTH,
    "decrementAndCancel": SelfMatchMode.DECREMENT_AND_CANCEL,
}
"""The spec's spelling of each mode (``spec.conduct.selfMatchPrevention.mode``)."""


@dataclass(frozen=True, slots=True)
class SelfMatchPolicy:
    """Who may not trade with whom (``scope``: account, desk or off) and what gives way (``mode``)."""

    scope: str
    mode: SelfMatchMode

    @classmethod
    def from_spec(cls, spec: SelfMatchSpec) -> SelfMatchPolicy | None:
        """The policy of ``spec.conduct.selfMatchPrevention`` (None when it is off)."""
        return None if spec.scope == "off" else cls(spec.scope, MODES[spec.mode])

    def group_of(self, account: str) -> str:
        """The self-match group of an account's orders ("": none, prevention is off)."""
        if self.scope == "account":
            return account
        return DESK_GROUP if self.scope == "desk" else ""


@dataclass(frozen=True, slots=True)
class WorkingOrder:
    order_id: str
    venue: str
    price: int
    open_qty: int


class _Side:
    """The working orders of one group, symbol and side: by price (sorted) and by id."""

    __slots__ = ("by_price", "prices")

    def __init__(self) -> None:
        self.prices: list[int] = []
        self.by_price: dict[int, dict[str, WorkingOrder]] = {}

    def add(self, w: WorkingOrder) -> None:
        level = self.by_price.get(w.price)
        if level is None:
            level = self.by_price[w.price] = {}
            insort(self.prices, w.price)
        level[w.order_id] = w

    def remove(self, w: WorkingOrder) -> None:
        level = self.by_price[w.price]
        del level[w.order_id]
        if not level:
            del self.by_price[w.price]
            del self.prices[bisect_left(self.prices, w.price)]


class SelfMatchBook:
    def __init__(self, policy: SelfMatchPolicy) -> None:
        self.policy = policy
        self._sides: dict[tuple[str, str, bool], _Side] = {}  # (group, symbol, is_buy)
        self._orders: dict[str, tuple[_Side, WorkingOrder]] = {}

    def on_order_event(self, event: OrderEvent) -> None:
        """An order is working (acknowledged, with an open quantity) or not any more."""
        if type(event) is OrderReplaced:
            self._forget(event.terms.replaces_order_id)
        terms = event.terms
        order_id = terms.order_id
        if event.status not in _WORKING or terms.order_type != OrderType.LIMIT:
            self._forget(order_id)
            return
        group = self.policy.group_of(terms.account)
        if not group:
            return
        w = WorkingOrder(order_id, event.venue, terms.price, event.leaves_qty)
        known = self._orders.get(order_id)
        if known is not None:
            if known[1] == w:
                return
            known[0].remove(known[1])
        key = (group, terms.symbol, terms.side == Side.BUY)
        side = self._sides.get(key)
        if side is None:
            side = self._sides[key] = _Side()
        side.add(w)
        self._orders[order_id] = (side, w)

    def _forget(self, order_id: str) -> None:
        known = self._orders.pop(order_id, None)
        if known is not None:
            known[0].remove(known[1])

    def crossing(
        self, *, account: str, symbol: str, side: Side, price: int, venue: str, exclude: str = ""
    ) -> list[WorkingOrder]:
        """The group's working orders on the other side that an order at ``price`` (0: a market order) would
        trade with, on venues other than ``venue``, best price first. ``exclude``: an
        order that does not count (the one a replace replaces)."""
        group = self.policy.group_of(account)
        other = self._sides.get((group, symbol, side != Side.BUY)) if group else None
        if other is None or not other.prices:
            return []
        prices = other.prices
        if side == Side.BUY:  # our sells at or below the price, lowest first
            chosen = prices if not price else prices[: bisect_right(prices, price)]
        else:  # our buys at or above the price, highest first
            chosen = reversed(prices if not price else prices[bisect_left(prices, price) :])
        return [w for p in chosen for w in other.by_price[p].values() if w.venue != venue and w.order_id != exclude]
