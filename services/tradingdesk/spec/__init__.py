"""The TradingDesk spec: one typed model read by the operator and by the embedded runtime."""

from tradingdesk.spec.load import SpecError, load_desk, parse_desk
from tradingdesk.spec.model import TradingDesk, TradingDeskSpec

__all__ = ["SpecError", "TradingDesk", "TradingDeskSpec", "load_desk", "parse_desk"]
