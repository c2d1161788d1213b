"""A position with average cost and realized/unrealized P&L, all in fixed point: the OMS keeps one per account
and symbol, risk's real-time monitor one per scope and symbol."""

from __future__ import annotations

from dataclasses import dataclass

from tradingdesk.core.fixed import div, mul


@dataclass(slots=True)
class Position:
    account: str
    symbol: str
    qty: int = 0  # signed; negative is short
    avg_cost: int = 0
    realized_pnl: int = 0
    fees: int = 0

    def apply_fill(self, signed_qty: int, price: int, fee: int) -> None:
        """Average-cost accounting: adding to a position re-averages, reducing realizes P&L."""
        self.fees += fee
        self.realized_pnl -= fee
        if self.qty == 0 or (self.qty > 0) == (signed_qty > 0):
            total_cost = mul(self.avg_cost, abs(self.qty)) + mul(price, abs(signed_qty))
            self.qty += signed_qty
            self.avg_cost = div(total_cost, abs(self.qty))
            return
        closing = min(abs(signed_qty), abs(self.qty))
        direction = 1 if self.qty > 0 else -1
        self.realized_pnl += mul(price - self.avg_cost, closing) * direction
        self.qty += signed_qty
        if self.qty == 0:
            self.avg_cost = 0
        elif (self.qty > 0) != (direction > 0):
            # Flipped through zero: the remainder opened a new position at this price.
            self.avg_cost = price

    def unrealized_pnl(self, mark: int) -> int:
        if not self.qty or not mark:
            return 0
        return mul(mark - self.avg_cost, self.qty)
