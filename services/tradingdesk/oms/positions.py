"""All positions of the desk, keyed by (account, symbol), moved by fills as they are applied."""

from __future__ import annotations

from tradingdesk.core.enums import side_sign
from tradingdesk.core.events import OrderFilled
from tradingdesk.core.positions import Position


class PositionBook:
    """All positions of the desk, keyed by (account, symbol)."""

    def __init__(self) -> None:
        self._positions: dict[tuple[str, str], Position] = {}

    def get(self, account: str, symbol: str) -> Position:
        key = (account, symbol)
        pos = self._positions.get(key)
        if pos is None:
            pos = self._positions[key] = Position(account, symbol)
        return pos

    def qty(self, account: str, symbol: str) -> int:
        pos = self._positions.get((account, symbol))
        return pos.qty if pos else 0

    def on_event(self, event: object) -> None:
        """The fan-out's handler: a fill moves the position of its account and symbol."""
        if type(event) is OrderFilled:
            terms = event.terms
            self.get(terms.account, terms.symbol).apply_fill(
                side_sign(terms.side) * event.last_qty, event.last_price, event.fee
            )

    def all(self, account: str = "") -> list[Position]:
        return sorted(
            (p for p in self._positions.values() if not account or p.account == account),
            key=lambda p: (p.account, p.symbol),
        )
