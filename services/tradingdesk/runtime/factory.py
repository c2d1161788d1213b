"""Which class runs which service: the one place both runtimes look it up."""

from __future__ import annotations

from tradingdesk.runtime.service import DeskService
from tradingdesk.spec.model import SERVICE_NAMES, TradingDesk


def build_service(name: str, desk: TradingDesk) -> DeskService:
    if name == "feeds":
        from tradingdesk.feeds.service import MarketDataService

        return MarketDataService(desk)
    if name == "routing":
        from tradingdesk.routing.service import RoutingService

        return RoutingService(desk)
    if name == "risk":
        from tradingdesk.risk.service import RiskService

        return RiskService(desk)
    if name == "compliance":
        from tradingdesk.compliance.service import ComplianceService

        return ComplianceService(desk)
    if name == "monitoring":
        from tradingdesk.monitoring.service import MonitoringService

        return MonitoringService(desk)
    raise ValueError(f"unknown service {name!r}; expected one of {', '.join(SERVICE_NAMES)}")
