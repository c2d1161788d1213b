"""The pre-trade risk gate (``facade.py`` first): a library inside routing, checking each order in-process."""

from tradingdesk.risk.gate.facade import RiskGate

__all__ = ["RiskGate"]
