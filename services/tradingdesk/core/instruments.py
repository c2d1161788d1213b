"""Instruments and the fixed-point grid (tick and lot size) that every price and quantity must sit on."""

from __future__ import annotations

from dataclasses import dataclass

from tradingdesk.core.fixed import format_fixed, is_multiple


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str
    tick_size: int
    lot_size: int
    sector: str = ""
    currency: str = "USD"
    reference_price: int = 0

    def check_price(self, price: int) -> str | None:
        """Why ``price`` is not valid for this instrument, or None."""
        if price <= 0:
            return f"must be > 0 (got {format_fixed(price)})"
        if not is_multiple(price, self.tick_size):
            return f"{format_fixed(price)} is not a multiple of the tick size {format_fixed(self.tick_size)}"
        return None

    def check_qty(self, qty: int) -> str | None:
        """Why ``qty`` is not valid for this instrument, or None."""
        if qty <= 0:
            return f"must be > 0 (got {format_fixed(qty)})"
        if not is_multiple(qty, self.lot_size):
            return f"{format_fixed(qty)} is not a multiple of the lot size {format_fixed(self.lot_size)}"
        return None

    def round_to_tick(self, price: int, *, up: bool) -> int:
        """Snap a computed price (impact, collars) onto the tick grid, away from or toward the market."""
        q, r = divmod(price, self.tick_size)
        if r and up:
            q += 1
        return max(q, 1) * self.tick_size
