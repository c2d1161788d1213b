"""A price-time-priority limit order book for one symbol, holding client orders and external liquidity.

The simulated venue has two kinds of liquidity: our own (client) orders and the synthetic market maker
seeded from the feed ("external"). They share one book because queue position depends on both: a client
order joining a price sits behind the external size already there, and that external size must trade (by
a taker or by prints on the tape) before the client order does.

Each price level therefore keeps the external quantity as a number and the client orders as a FIFO. The
external size ahead of a client order is tracked with a mark on a per-level counter of consumed external
quantity (``ahead = mark - eaten``), so consuming external liquidity never touches every order behind it.

A new external ladder is kept aside until something reads or changes the book (``set_external``): a busy feed
replaces a symbol's ladder several times between two prints, and building levels nobody looks at was most of
routing's CPU at a 100x open. Deferring is exact, not an approximation: a ladder is kept aside only when no
level it or the applied ladder covers holds a client order, and then applying it would only set external sizes
that the next ladder replaces (it caps no queue, and the cross filter reads client orders, which cannot change
while a ladder waits: every method that touches them applies it first).

Pure and int-only: prices and quantities are fixed-point ints (``tradingdesk.core.fixed``), no I/O.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

_Ladder = tuple[tuple[int, int], ...]


class Resting:
    """A client order on the book. ``ref`` is the caller's payload (the venue stores its VenueOrder)."""

    __slots__ = ("buy", "mark", "order_id", "price", "qty", "ref", "smp")

    def __init__(self, order_id: str, buy: bool, price: int, qty: int, mark: int, ref: Any, smp: str = "") -> None:
        self.order_id = order_id
        self.buy = buy
        self.price = price
        self.qty = qty  # open quantity
        self.mark = mark  # level "eaten" count at which no external size is left ahead of this order
        self.ref = ref
        self.smp = smp  # self-match prevention group ("": none)

    def __repr__(self) -> str:
        side = "B" if self.buy else "S"
        return f"Resting({self.order_id!r} {side} {self.qty}@{self.price})"


class Execution(NamedTuple):
    """One match at one price: against a client order (``maker``) or external liquidity (``maker`` None).

    ``level_qty`` is the external size the level had before an external execution; the venue's market
    impact is a function of the fraction of it taken.
    """

    price: int
    qty: int
    maker: Resting | None
    level_qty: int


class _Level:
    __slots__ = ("cqty", "eaten", "ext", "orders")

    def __init__(self) -> None:
        self.ext = 0  # external quantity at this price
        self.eaten = 0  # external quantity consumed here so far (queue-position clock)
        self.cqty = 0  # sum of open client quantity
        self.orders: deque[Resting] = deque()


class _Half:
    """One side. ``keys`` is sorted ascending with the best price last (key = price for bids, -price for
    asks), so popping an exhausted best level is O(1)."""

    __slots__ = ("ext_prices", "keys", "levels", "sign")

    def __init__(self, sign: int) -> None:
        self.sign = sign
        self.keys: list[int] = []
        self.levels: dict[int, _Level] = {}
        self.ext_prices: list[int] = []

    def level_for(self, price: int) -> _Level:
        level = self.levels.get(price)
        if level is None:
            level = self.levels[price] = _Level()
            insort(self.keys, price * self.sign)
        return level

    def drop(self, price: int) -> None:
        """Remove an empty level."""
        del self.levels[price]
        keys = self.keys
        key = price * self.sign
        if keys[-1] == key:
            keys.pop()
        else:
            del keys[bisect_left(keys, key)]


class OrderBook:
    """Bids and asks by price level, FIFO within a level, external liquidity ahead of later client orders."""

    __slots__ = ("_asks", "_bids", "_client_tops", "_index", "_waiting", "symbol")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._bids = _Half(1)
        self._asks = _Half(-1)
        self._index: dict[str, Resting] = {}
        self._waiting: tuple[_Ladder, _Ladder] | None = None  # a deferred ladder
        self._client_tops: tuple[int | None, int | None] | None = None  # best client bid and ask; None: not known

    # ---- client orders -------------------------------------------------------------------------------

    def add(self, order_id: str, buy: bool, price: int, qty: int, ref: Any = None, smp: str = "") -> Resting:
        """Rest a client order at the back of its price level (behind all external size there)."""
        if self._waiting is not None:
            self._apply_waiting()
        if order_id in self._index:
            raise KeyError(f"order {order_id} is already on the book")
        level = (self._bids if buy else self._asks).level_for(price)
        order = Resting(order_id, buy, price, qty, level.eaten + level.ext, ref, smp)
        level.orders.append(order)
        self._client_tops = None
        level.cqty += qty
        self._index[order_id] = order
        return order

    def get(self, order_id: str) -> Resting | None:
        return self._index.get(order_id)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._index

    def __len__(self) -> int:
        return len(self._index)

    def orders(self) -> Iterator[Resting]:
        """Client orders in no particular order."""
        return iter(self._index.values())

    def cancel(self, order_id: str) -> Resting | None:
        """Remove a client order; None if it is not on the book."""
        if order_id not in self._index:
            return None
        if self._waiting is not None:
            self._apply_waiting()
        order = self._index.pop(order_id)
        half = self._bids if order.buy else self._asks
        level = half.levels[order.price]
        level.orders.remove(order)
        self._client_tops = None
        level.cqty -= order.qty
        if not level.orders and not level.ext:
            half.drop(order.price)
        return order

    def reduce(self, order_id: str, qty: int, new_id: str | None = None, ref: Any = None) -> Resting | None:
        """Shrink a client order in place, keeping its queue priority (optionally under a new id/payload).

        Returns None if the order is unknown; ``qty <= 0`` cancels it. Increasing is not a reduce: the
        caller cancels and re-adds, which correctly loses priority.
        """
        order = self._index.get(order_id)
        if order is None:
            return None
        if self._waiting is not None:
            self._apply_waiting()
        if qty <= 0:
            return self.cancel(order_id)
        if qty > order.qty:
            raise ValueError(f"reduce cannot increase {order_id} from {order.qty} to {qty}")
        level = (self._bids if order.buy else self._asks).levels[order.price]
        level.cqty -= order.qty - qty
        order.qty = qty
        if new_id is not None and new_id != order_id:
            if new_id in self._index:
                raise KeyError(f"order {new_id} is already on the book")
            del self._index[order_id]
            order.order_id = new_id
            self._index[new_id] = order
        if ref is not None:
            order.ref = ref
        return order

    def remove_where(self, predicate: Callable[[Resting], bool] | None = None) -> list[Resting]:
        """Remove every client order (or those matching ``predicate``) in one pass over the levels."""
        if self._waiting is not None:
            self._apply_waiting()
        self._client_tops = None
        removed: list[Resting] = []
        for half in (self._bids, self._asks):
            emptied: list[int] = []
            for price, level in half.levels.items():
                if not level.orders:
                    continue
                if predicate is None:
                    removed.extend(level.orders)
                    level.orders.clear()
                    level.cqty = 0
                else:
                    keep: deque[Resting] = deque()
                    for order in level.orders:
                        (removed if predicate(order) else keep).append(order)
                    level.orders = keep
                    level.cqty = sum(o.qty for o in keep)
                if not level.orders and not level.ext:
                    emptied.append(price)
            if emptied:
                for price in emptied:
                    del half.levels[price]
                half.keys = sorted(p * half.sign for p in half.levels)
        if predicate is None:
            self._index.clear()
        else:
            for order in removed:
                del self._index[order.order_id]
        return removed

    def queue_ahead(self, order_id: str) -> int:
        """Quantity (external plus earlier client orders) that trades before this order at its price."""
        order = self._index[order_id]
        if self._waiting is not None:
            self._apply_waiting()
        level = (self._bids if order.buy else self._asks).levels[order.price]
        ahead = max(order.mark - level.eaten, 0)
        for other in level.orders:
            if other is order:
                break
            ahead += other.qty
        return ahead

    # ---- external liquidity --------------------------------------------------------------------------

    def set_external(self, bids: Iterable[tuple[int, int]], asks: Iterable[tuple[int, int]]) -> None:
        """Replace the external ladder on both sides with ``(price, qty)`` levels.

        Client orders keep their place: external size that shrank is taken to have left from the front
        (their queue ahead is capped at the new size), size that grew joins behind them. External levels
        that would cross or lock a resting client order are left out; those client orders fill from prints.

        A ladder that meets no client order is kept aside until the book is next read (module docstring).
        """
        bids, asks = tuple(bids), tuple(asks)  # a tuple is taken as it is
        if self._index:
            best_bid, best_ask = self._client_tops or self._find_client_tops()
            if self._meets_clients(self._bids, bids, best_bid) or self._meets_clients(self._asks, asks, best_ask):
                self._waiting = None  # replaced: this ladder sets every level the waiting one would have set
                self._apply(bids, asks)
                return
        self._waiting = bids, asks

    @staticmethod
    def _meets_clients(half: _Half, ladder: _Ladder, best: int | None) -> bool:
        """Whether a client order rests on a level that the applied ladder or ``ladder`` covers: only there can
        applying a ladder cap a queue position. ``best`` is the side's best client price: client orders resting
        away from the touch (the usual case) are told apart without looking at a level."""
        if best is None:
            return False
        ext = half.ext_prices
        if half.sign > 0:
            if (not ext or min(ext) > best) and (not ladder or min(ladder)[0] > best):
                return False
        elif (not ext or max(ext) < best) and (not ladder or max(ladder)[0] < best):
            return False
        levels = half.levels
        for price in half.ext_prices:
            level = levels.get(price)
            if level is not None and level.orders:
                return True
        for price, _ in ladder:
            level = levels.get(price)
            if level is not None and level.orders:
                return True
        return False

    def _apply_waiting(self) -> None:
        assert self._waiting is not None
        bids, asks = self._waiting
        self._waiting = None
        self._apply(bids, asks)

    def _apply(self, bids: _Ladder, asks: _Ladder) -> None:
        best_bid, best_ask = self._client_tops or self._find_client_tops()
        self._seed(self._bids, {p: q for p, q in bids if q > 0 and (best_ask is None or p < best_ask)})
        self._seed(self._asks, {p: q for p, q in asks if q > 0 and (best_bid is None or p > best_bid)})

    def _find_client_tops(self) -> tuple[int | None, int | None]:
        """The best client bid and ask, kept until a client order arrives or leaves."""
        tops = self._client_tops = (self._best_client(self._bids), self._best_client(self._asks))
        return tops

    @staticmethod
    def _best_client(half: _Half) -> int | None:
        levels, sign = half.levels, half.sign
        for key in reversed(half.keys):
            if levels[key * sign].orders:
                return key * sign
        return None

    @staticmethod
    def _seed(half: _Half, ladder: dict[int, int]) -> None:
        """Every quote of every symbol re-seeds each venue's book (a restarted replay feed sends tens of thousands a
        second at 100x), so the common cases cost no call: a level without client orders needs no queue capping,
        and a level that exists is found in the dict."""
        levels = half.levels
        for price in half.ext_prices:
            if price in ladder:
                continue
            level = levels.get(price)
            if level is not None:
                level.ext = 0
                if level.orders:
                    _cap_queue(level)
                else:
                    half.drop(price)
        for price, qty in ladder.items():
            level = levels.get(price)
            if level is None:
                level = half.level_for(price)
            level.ext = qty
            if level.orders:
                _cap_queue(level)
        half.ext_prices = list(ladder)

    # ---- matching ------------------------------------------------------------------------------------

    def match(self, buy: bool, qty: int, limit: int | None = None) -> list[Execution]:
        """Match an incoming order (``limit`` None = market) against the opposite side, best price first.

        External size taken at one level is reported as one execution (listed before that level's client
        makers) so the caller can price its impact on the whole quantity taken there.
        """
        return self.match_until_self(buy, qty, limit)[0]

    def match_until_self(
        self, buy: bool, qty: int, limit: int | None = None, smp: str = ""
    ) -> tuple[list[Execution], Resting | None]:
        """``match``, stopping in front of the first resting order of self-match group ``smp`` (when not
        empty) that the incoming order would reach: returns the executions before it and that order, which
        stays on the book for the caller to resolve."""
        if self._waiting is not None:
            self._apply_waiting()
        half = self._asks if buy else self._bids
        keys, levels, sign = half.keys, half.levels, half.sign
        out: list[Execution] = []
        blocker = None
        while qty and keys:
            price = keys[-1] * sign
            if limit is not None and (price > limit if buy else price < limit):
                break
            level = levels[price]
            qty, blocker = self._take(level, price, qty, out, True, smp)
            if not level.ext and not level.orders:
                keys.pop()
                del levels[price]
            if blocker is not None:
                break
        return out, blocker

    def available(self, buy: bool, qty: int, limit: int | None = None, smp: str = "") -> int:
        """How much an incoming order could fill now (stops counting once ``qty`` is reached); for FOK. With a
        self-match group, only what trades before the first resting order of that group counts."""
        if self._waiting is not None:
            self._apply_waiting()
        half = self._asks if buy else self._bids
        levels, sign = half.levels, half.sign
        total = 0
        for key in reversed(half.keys):
            price = key * sign
            if limit is not None and (price > limit if buy else price < limit):
                break
            level = levels[price]
            if smp:
                clients_ahead = 0
                for order in level.orders:
                    if order.smp == smp:  # only the external size and the orders ahead of it trade first
                        return total + clients_ahead + min(max(order.mark - level.eaten, 0), level.ext)
                    clients_ahead += order.qty
            total += level.ext + level.cqty
            if total >= qty:
                break
        return total

    def on_print(self, price: int, qty: int) -> list[Execution]:
        """Apply a trade print from the tape; returns the client fills it causes (at the client's price).

        Client orders priced strictly through the print fill first, best price first, up to the print
        size. At the print price the print consumes the level in queue order: external size ahead of a
        client order only advances its queue position; the excess fills it.

        While a ladder waits (``set_external``) and no client order is priced at or through the print, the
        print can only take external size at its price: it takes it from the waiting ladder, which stays aside.
        """
        if self._waiting is not None:
            best_bid, best_ask = self._client_tops or self._find_client_tops()
            if (best_bid is None or best_bid < price) and (best_ask is None or best_ask > price):
                bids, qty = _take_from_ladder(self._waiting[0], price, qty)
                asks, qty = _take_from_ladder(self._waiting[1], price, qty)
                self._waiting = bids, asks
                return []
            self._apply_waiting()
        out: list[Execution] = []
        for half in (self._bids, self._asks):
            keys, levels, sign = half.keys, half.levels, half.sign
            bound = price * sign
            i = len(keys) - 1
            while qty and i >= 0 and keys[i] > bound:
                level_price = keys[i] * sign
                level = levels[level_price]
                if level.orders:
                    qty = self._fill_clients(level, level_price, qty, out)
                    if not level.orders and not level.ext:
                        half.drop(level_price)
                i -= 1
            at_price = levels.get(price)
            if qty and at_price is not None:
                qty, _ = self._take(at_price, price, qty, out, False, "")
                if not at_price.orders and not at_price.ext:
                    half.drop(price)
        return out

    def _take(
        self, level: _Level, price: int, qty: int, out: list[Execution], report_ext: bool, smp: str
    ) -> tuple[int, Resting | None]:
        """Consume up to ``qty`` from one level in queue order; returns what is left of ``qty``, and the resting
        order of group ``smp`` it stopped in front of (None: it did not)."""
        ext_before = level.ext
        orders = level.orders
        makers: list[Execution] = []
        blocker = None
        while qty and orders:
            order = orders[0]
            ahead = order.mark - level.eaten
            if ahead > 0:
                if ahead >= qty:
                    level.eaten += qty
                    level.ext -= qty
                    qty = 0
                    break
                level.eaten += ahead
                level.ext -= ahead
                qty -= ahead
            if smp and order.smp == smp:
                blocker = order
                break
            fill = order.qty if order.qty < qty else qty
            order.qty -= fill
            level.cqty -= fill
            qty -= fill
            makers.append(Execution(price, fill, order, 0))
            if not order.qty:
                orders.popleft()
                del self._index[order.order_id]
                self._client_tops = None
        if qty and level.ext and blocker is None:
            take = level.ext if level.ext < qty else qty
            level.ext -= take
            level.eaten += take
            qty -= take
        taken = ext_before - level.ext
        if taken and report_ext:
            out.append(Execution(price, taken, None, ext_before))
        out.extend(makers)
        return qty, blocker

    def _fill_clients(self, level: _Level, price: int, qty: int, out: list[Execution]) -> int:
        orders = level.orders
        while qty and orders:
            order = orders[0]
            fill = order.qty if order.qty < qty else qty
            order.qty -= fill
            level.cqty -= fill
            qty -= fill
            out.append(Execution(price, fill, order, 0))
            if not order.qty:
                orders.popleft()
                del self._index[order.order_id]
                self._client_tops = None
        return qty

    # ---- views ---------------------------------------------------------------------------------------

    def best_bid(self) -> tuple[int, int] | None:
        """(price, external + client quantity) at the best bid, or None."""
        if self._waiting is not None:
            self._apply_waiting()
        return self._best(self._bids)

    def best_ask(self) -> tuple[int, int] | None:
        if self._waiting is not None:
            self._apply_waiting()
        return self._best(self._asks)

    @staticmethod
    def _best(half: _Half) -> tuple[int, int] | None:
        if not half.keys:
            return None
        price = half.keys[-1] * half.sign
        level = half.levels[price]
        return price, level.ext + level.cqty

    def depth(self, buy: bool, levels: int) -> list[tuple[int, int]]:
        """Up to ``levels`` (price, quantity) levels of the bid (``buy``) or ask side, best first."""
        if self._waiting is not None:
            self._apply_waiting()
        half = self._bids if buy else self._asks
        out: list[tuple[int, int]] = []
        for key in reversed(half.keys[-levels:] if levels > 0 else []):
            level = half.levels[key * half.sign]
            out.append((key * half.sign, level.ext + level.cqty))
        return out

    def external_qty(self, buy: bool, price: int) -> int:
        """External size at a bid (``buy``) or ask price; 0 if none."""
        if self._waiting is not None:
            self._apply_waiting()
        level = (self._bids if buy else self._asks).levels.get(price)
        return level.ext if level is not None else 0


def _take_from_ladder(ladder: _Ladder, price: int, qty: int) -> tuple[_Ladder, int]:
    """A print of ``qty`` at ``price`` against a ladder not applied yet: the ladder with the size it takes gone, and
    what is left of ``qty``. As applying it would (``_seed``): no empty levels, and the last of two at one price."""
    for p, _ in ladder:
        if p == price:
            break
    else:
        return ladder, qty
    sizes = {p: q for p, q in ladder if q > 0}
    have = sizes.get(price, 0)
    take = have if have < qty else qty
    if take == have:
        sizes.pop(price, None)
    else:
        sizes[price] = have - take
    return tuple(sizes.items()), qty - take


def _cap_queue(level: _Level) -> None:
    """After the external size changed, no client order may have more external size ahead than exists.

    Marks never decrease from front to back, so only a suffix needs capping.
    """
    cap = level.eaten + level.ext
    for order in reversed(level.orders):
        if order.mark <= cap:
            break
        order.mark = cap
