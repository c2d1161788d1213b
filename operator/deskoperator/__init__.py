"""The TradingDesk operator: turns a TradingDesk custom resource into a running desk (see docs/operator.md)."""

from __future__ import annotations

__version__ = "0.1.0"
