"""The gate's exposure book: open orders and positions per scope, kept incrementally, and the exposure checks.

Every change (an order opening, a fill, a close, a new mark) is applied to the running sums as a difference,
so a check never sums a book: it is a few integer operations per scope. The book changes only through the
order events the engine emits (``on_order_event``), live and during recovery alike.
"""

from __future__ import annotations

from collections.abc import Mapping

from tradingdesk.core.enums import Side
from tradingdesk.core.events import (
    OrderCanceled,
    OrderEvent,
    OrderFilled,
    OrderPending,
    OrderReplaced,
    OrderRestated,
    OrderTerms,
    ReplaceRejected,
    ReplaceRequested,
)
from tradingdesk.core.fixed import SCALE, format_fixed, mul
from tradingdesk.core.reject import refused
from tradingdesk.risk.limits import LimitSet
from tradingdesk.risk.scope import ScopeKey, scope_label, scopes_of


class SymbolExposure:
    """One scope's exposure in one symbol. The gross term (worst-case absolute quantity x mark) and the net
    legs are cached, and every change is applied to the book's sums as a difference."""

    __slots__ = (
        "book",
        "gross_term",
        "mark",
        "net_if_buys_fill",
        "net_if_sells_fill",
        "open_buy",
        "open_sell",
        "position",
        "position_value",
        "sector",
    )

    def __init__(self, book: ExposureBook, sector: str, mark: int) -> None:
        self.book = book
        self.sector = sector
        self.mark = mark
        self.position = 0  # signed; negative is short
        self.open_buy = 0  # quantity of open buy orders
        self.open_sell = 0  # quantity of open sell orders
        self.gross_term = 0  # max(|position + open_buy|, |position - open_sell|) x mark
        self.net_if_buys_fill = 0  # (position + open_buy) x mark
        self.net_if_sells_fill = 0  # (position - open_sell) x mark
        self.position_value = 0  # |position| x mark

    def refresh(self) -> None:
        # Floor division, inlined: these are running sums of exact differences, so the rounding only has to be
        # the same every time (a unit is 1e-9), not truncation toward zero like ``mul``.
        mark = self.mark
        position = self.position
        long_qty = position + self.open_buy
        short_qty = position - self.open_sell
        net_long = mark * long_qty // SCALE
        net_short = mark * short_qty // SCALE
        worst = long_qty if long_qty >= -short_qty else -short_qty
        gross_term = mark * (worst if worst >= 0 else -worst) // SCALE
        position_value = mark * (position if position >= 0 else -position) // SCALE
        book = self.book
        change = gross_term - self.gross_term
        if change:
            book.gross += change
            book.sectors[self.sector] = book.sectors.get(self.sector, 0) + change
            self.gross_term = gross_term
        book.net_long += net_long - self.net_if_buys_fill
        book.net_short += net_short - self.net_if_sells_fill
        book.position_value += position_value - self.position_value
        self.net_if_buys_fill = net_long
        self.net_if_sells_fill = net_short
        self.position_value = position_value


class ExposureBook:
    """Orders and positions of one scope (desk, account or account+strategy)."""

    __slots__ = ("gross", "net_long", "net_short", "open_notional", "position_value", "scope", "sectors", "symbols")

    def __init__(self, scope: ScopeKey) -> None:
        self.scope = scope
        self.symbols: dict[str, SymbolExposure] = {}
        self.sectors: dict[str, int] = {}
        self.open_notional = 0
        self.position_value = 0
        self.gross = 0
        self.net_long = 0
        self.net_short = 0


class OpenOrder:
    """What an open order (or a pending replacement) holds in the books."""

    __slots__ = ("exposures", "is_buy", "open_qty", "price")

    def __init__(self, exposures: tuple[SymbolExposure, ...], is_buy: bool, open_qty: int, price: int) -> None:
        self.exposures = exposures
        self.is_buy = is_buy
        self.open_qty = open_qty
        self.price = price


class ExposureBooks:
    """The books of every scope, the orders they hold, and the marks they are valued at."""

    def __init__(self) -> None:
        self.books: dict[ScopeKey, ExposureBook] = {}
        self.sectors: Mapping[str, str] = {}
        self.marks: dict[str, int] = {}  # last trade per symbol: what open market orders and positions are worth
        self._open: dict[str, OpenOrder] = {}
        self._by_symbol: dict[str, list[SymbolExposure]] = {}
        self._cache: dict[str, dict[tuple[str, str], tuple[SymbolExposure, ...]]] = {}  # account -> ...
        self._replacements: dict[str, str] = {}  # order_id -> its replacement's id while a replace is pending

    def book(self, scope: ScopeKey) -> ExposureBook:
        book = self.books.get(scope)
        if book is None:
            book = self.books[scope] = ExposureBook(scope)
        return book

    # -- events --------------------------------------------------------------------------------------------------
    def on_order_event(self, event: OrderEvent) -> None:
        """Open orders, fills and replaces as the engine emits (or recovery replays) them."""
        kind = type(event)
        t = event.terms
        order_id = t.order_id
        if kind is OrderPending:
            if event.is_open:
                self._open_terms(order_id, t, qty=t.qty - event.cum_qty, price=t.price)
            return
        if kind is OrderFilled:
            self.fill(
                order_id,
                account=t.account,
                strategy=t.strategy,
                symbol=t.symbol,
                side=t.side,
                qty=event.last_qty,
                price=event.last_price,
            )
        elif kind is OrderRestated:
            if event.is_open:  # the venue reduced it: it holds less from now on
                self._open_terms(order_id, t, qty=t.qty - event.cum_qty, price=t.price)
            return
        elif kind is ReplaceRequested:
            # Until the venue answers, both the working order and its replacement count against exposure.
            self._replacements[order_id] = event.new_order_id
            self._open_terms(event.new_order_id, t, qty=event.new_qty - event.cum_qty, price=event.new_price)
            return
        elif kind is OrderReplaced:
            self._replacements.pop(t.replaces_order_id, None)
            self.close(t.replaces_order_id)
            if event.is_open:
                self._open_terms(order_id, t, qty=t.qty - event.cum_qty, price=t.price)
            else:
                self.close(order_id)
            return
        elif kind is ReplaceRejected or kind is OrderCanceled:
            pending = self._replacements.pop(order_id, None)
            if pending is not None:
                self.close(pending)
        if not event.is_open:
            self.close(order_id)

    def _open_terms(self, order_id: str, terms: OrderTerms, *, qty: int, price: int) -> None:
        self.open(
            order_id,
            account=terms.account,
            strategy=terms.strategy,
            symbol=terms.symbol,
            side=terms.side,
            qty=qty,
            price=price,
        )

    def open(
        self, order_id: str, account: str, strategy: str, symbol: str, *, side: Side, qty: int, price: int
    ) -> None:
        """An order is working (or a replacement pending) with ``qty`` open at ``price`` (0: market)."""
        if order_id in self._open:
            self.close(order_id)
        if not price:
            price = self.marks.get(symbol, 0)
        exposures = self.exposures(account, strategy, symbol, mark=price)
        is_buy = side == Side.BUY
        notional = mul(price, qty)
        for se in exposures:
            if is_buy:
                se.open_buy += qty
            else:
                se.open_sell += qty
            se.book.open_notional += notional
            se.refresh()
        self._open[order_id] = OpenOrder(exposures, is_buy, qty, price)

    def fill(
        self, order_id: str, account: str, strategy: str, symbol: str, *, side: Side, qty: int, price: int
    ) -> None:
        """A fill moves quantity from open to position."""
        entry = self._open.get(order_id)
        signed = qty if side == Side.BUY else -qty
        if entry is not None:
            exposures, is_buy = entry.exposures, entry.is_buy
            taken = min(qty, entry.open_qty)
            entry.open_qty -= taken
            notional = mul(entry.price, taken)
        else:
            exposures = self.exposures(account, strategy, symbol, mark=price)
            is_buy = side == Side.BUY
            taken = notional = 0
        for se in exposures:
            if taken:
                if is_buy:
                    se.open_buy -= taken
                else:
                    se.open_sell -= taken
                se.book.open_notional -= notional
            se.position += signed
            if not se.mark:
                se.mark = price
            se.refresh()

    def close(self, order_id: str) -> None:
        """The order no longer works (filled, canceled, rejected, expired, replaced)."""
        entry = self._open.pop(order_id, None)
        if entry is None or not entry.open_qty:
            return
        notional = mul(entry.price, entry.open_qty)
        for se in entry.exposures:
            if entry.is_buy:
                se.open_buy -= entry.open_qty
            else:
                se.open_sell -= entry.open_qty
            se.book.open_notional -= notional
            se.refresh()

    def mark(self, symbol: str, price: int) -> None:
        """A new last trade revalues every scope's exposure in the symbol."""
        self.marks[symbol] = price
        for se in self._by_symbol.get(symbol, ()):
            if se.mark != price:
                se.mark = price
                se.refresh()

    def exposures(self, account: str, strategy: str, symbol: str, *, mark: int) -> tuple[SymbolExposure, ...]:
        """The symbol's exposure in every scope an order of ``account``/``strategy`` counts in."""
        by_strategy = self._cache.get(account)
        cached = by_strategy.get((strategy, symbol)) if by_strategy is not None else None
        if cached is not None:
            return cached
        out = []
        for scope in scopes_of(account, strategy):
            book = self.book(scope)
            se = book.symbols.get(symbol)
            if se is None:
                se = book.symbols[symbol] = SymbolExposure(
                    book, self.sectors.get(symbol, ""), self.marks.get(symbol, mark)
                )
                self._by_symbol.setdefault(symbol, []).append(se)
            out.append(se)
        exposures = tuple(out)
        self._cache.setdefault(account, {})[(strategy, symbol)] = exposures
        return exposures

    # -- views -----------------------------------------------------------------------------------------------------
    def open_order_ids(self) -> list[str]:
        return list(self._open)

    def position(self, scope: ScopeKey, symbol: str) -> int:
        book = self.books.get(scope)
        se = book.symbols.get(symbol) if book is not None else None
        return se.position if se is not None else 0

    def positions_of(self, scope: ScopeKey) -> dict[str, int]:
        """The scope's position in each symbol it has traded."""
        book = self.books.get(scope)
        return {symbol: se.position for symbol, se in book.symbols.items()} if book is not None else {}


def check_exposures(
    rules: tuple[tuple[LimitSet, ExposureBook, int, int], ...],
    *,
    symbol: str,
    sector: str,
    is_buy: bool,
    add_qty: int,
    add_notional: int,
    mark: int,
) -> None:
    """Each scope's exposure limits for an order adding ``add_qty`` (worst case: everything fills). ``rules``
    hold each scope's limits, book, and concentration limits in money (``scopes.resolve`` computes them once).

    An order that only reduces a scope's position in the symbol passes that scope: risk-reducing orders must
    always be possible."""
    for limits, book, symbol_cap, sector_cap in rules:
        se = book.symbols.get(symbol)
        if se is not None:
            position, open_buy, open_sell, gross_term = se.position, se.open_buy, se.open_sell, se.gross_term
        else:
            position = open_buy = open_sell = gross_term = 0
        if is_buy:
            if position < 0 and position + open_buy + add_qty <= 0:
                continue
            open_buy += add_qty
        else:
            if position > 0 and position - open_sell - add_qty >= 0:
                continue
            open_sell += add_qty
        long_qty = position + open_buy
        short_qty = position - open_sell
        worst = long_qty if long_qty >= -short_qty else -short_qty
        if worst < 0:
            worst = -worst
        credit = limits.credit_limit
        if credit:
            used = book.open_notional + book.position_value + add_notional
            if used > credit:
                raise refused(
                    f"credit limit of {scope_label(book.scope)}: open orders and positions would reach "
                    f"{format_fixed(used)}, limit {format_fixed(credit)}",
                    "CREDIT_LIMIT",
                )
        if limits.max_position_quantity and worst > limits.max_position_quantity:
            raise refused(
                f"position limit of {scope_label(book.scope)}: {symbol} could reach {format_fixed(worst)} with open "
                f"orders, limit {format_fixed(limits.max_position_quantity)}",
                "POSITION_LIMIT",
            )
        new_term = mul(mark, worst)
        gross_limit = limits.max_gross_exposure
        if gross_limit:
            gross = book.gross - gross_term + new_term
            if gross > gross_limit:
                raise refused(
                    f"gross exposure of {scope_label(book.scope)} would reach {format_fixed(gross)}, "
                    f"limit {format_fixed(gross_limit)}",
                    "GROSS_EXPOSURE",
                )
            if symbol_cap and new_term > symbol_cap:
                raise refused(
                    f"concentration of {scope_label(book.scope)} in {symbol} would reach {format_fixed(new_term)}, "
                    f"{limits.max_symbol_concentration_bps} bps of the gross limit is {format_fixed(symbol_cap)}",
                    "SYMBOL_CONCENTRATION",
                )
            if sector_cap:
                in_sector = book.sectors.get(sector, 0) - gross_term + new_term
                if in_sector > sector_cap:
                    raise refused(
                        f"concentration of {scope_label(book.scope)} in sector {sector or '(none)'} would reach "
                        f"{format_fixed(in_sector)}, {limits.max_sector_concentration_bps} bps of the gross limit is "
                        f"{format_fixed(sector_cap)}",
                        "SECTOR_CONCENTRATION",
                    )
        net_limit = limits.max_net_exposure
        if net_limit:
            if is_buy:
                before = book.net_long
                net = before - (se.net_if_buys_fill if se is not None else 0) + mark * long_qty // SCALE
            else:
                before = book.net_short
                net = before - (se.net_if_sells_fill if se is not None else 0) + mark * short_qty // SCALE
            if abs(net) > net_limit and abs(net) > abs(before):
                raise refused(
                    f"net exposure of {scope_label(book.scope)} would reach {format_fixed(net)}, "
                    f"limit {format_fixed(net_limit)}",
                    "NET_EXPOSURE",
                )
