"""Per-symbol trading status as market data carries it: trading, halted, or paused (an LULD pause), with the
reason code of the securities information processors (CTA/UTP). Values match the protobuf enum one for one."""

from __future__ import annotations

from enum import IntEnum


class SymbolStatus(IntEnum):
    TRADING = 1
    HALTED = 2
    PAUSED = 3
    """A five-minute Limit Up-Limit Down trading pause."""


HALT_REASONS = {
    "T1": "news pending",
    "T2": "news released",
    "T5": "single stock trading pause",
    "T6": "extraordinary market activity",
    "T12": "additional information requested",
    "H4": "non-compliance",
    "H10": "SEC trading suspension",
    "H11": "regulatory concern",
    "LUDP": "Limit Up-Limit Down pause",
    "MWC1": "market-wide circuit breaker level 1",
    "MWC2": "market-wide circuit breaker level 2",
    "MWC3": "market-wide circuit breaker level 3",
}
"""Reason codes documented for halts; feeds pass any code of at most ``MAX_REASON_LEN`` printable characters."""
MAX_REASON_LEN = 16


def status_name(status: int) -> str:
    """``trading``, ``halted`` or ``paused`` (the wire and CSV spelling)."""
    return SymbolStatus(status).name.lower()


def parse_status(text: str) -> SymbolStatus:
    """The status spelled ``text`` (case-insensitive); raises ValueError naming the accepted spellings."""
    try:
        return SymbolStatus[text.upper()]
    except KeyError:
        raise ValueError(f"status must be trading, halted or paused, not {text!r}") from None
