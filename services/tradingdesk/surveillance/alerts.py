"""What a detector raises: one alert, with the evidence a compliance officer needs to review it."""

from __future__ import annotations

from dataclasses import dataclass

WASH_TRADE = "wash_trade"
SPOOFING = "spoofing"
LAYERING = "layering"
ORDER_TO_TRADE = "order_to_trade"
MARKING_CLOSE = "marking_close"

RULES = {
    WASH_TRADE: "SEA 9(a)(1); FINRA Rule 5210 .02; MAR art. 12(1)(a)",
    SPOOFING: "SEA 9(a)(2); CEA 4c(a)(5)(C); FINRA Rule 2020; MAR art. 12(1)(a)",
    LAYERING: "SEA 9(a)(2); FINRA Rule 2020; MAR art. 12(1)(a) and Annex II",
    ORDER_TO_TRADE: "MiFID II art. 48(6); RTS 9 (Delegated Regulation (EU) 2017/566)",
    MARKING_CLOSE: "SEA 9(a)(2); FINRA Rule 2020; MAR Annex I 2(b)",
}
"""The rule each detector answers."""


@dataclass(frozen=True, slots=True)
class Alert:
    detector: str
    """One of WASH_TRADE, SPOOFING, LAYERING, ORDER_TO_TRADE, MARKING_CLOSE."""
    ts_ns: int
    """When the pattern completed (the event that made it an alert)."""
    owner: str
    """The beneficial owner (the account itself when it is linked to none)."""
    accounts: tuple[str, ...]
    symbol: str
    """Empty for alerts about an account's whole activity (order-to-trade)."""
    order_ids: tuple[str, ...]
    summary: str
    """One sentence a person reads: what happened, with the figures."""
    figures: tuple[tuple[str, str], ...] = ()
    """The measured values and thresholds, as name/value text pairs."""

    @property
    def rule(self) -> str:
        return RULES[self.detector]

    @property
    def key(self) -> str:
        """Identifies the alert: the same pattern found twice (a replay of the same events) has the same key."""
        return f"{self.detector}:{self.owner}:{self.symbol}:{self.ts_ns}:{','.join(self.order_ids)}"
