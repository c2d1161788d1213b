"""The desk-level metrics the monitoring service exports from the status it collects.

Health of each service as the monitoring service probes it (``target_service``: the label ``service`` is the
scrape target's own), readiness, trading state per scope, halts by cause, P&L and limit use per scope (the
desk and each scope with its own limits) and active alerts. Scopes are bounded by the spec's
accounts and strategies; amounts are in the instruments' currency.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from tradingdesk.core.fixed import parse_fixed, to_float
from tradingdesk.monitoring.alerts import SEVERITIES, scope_label
from tradingdesk.monitoring.clock_skew import clock_skews
from tradingdesk.monitoring.collector import DeskCollector
from tradingdesk.v1 import common_pb2, monitoring_pb2, risk_pb2

STATES = {
    common_pb2.TRADING_STATE_ACTIVE: "active",
    common_pb2.TRADING_STATE_REDUCING: "reducing",
    common_pb2.TRADING_STATE_HALTED: "halted",
}
_PNL: dict[str, tuple[Callable[[risk_pb2.RiskSnapshot], str], str]] = {
    "tradingdesk_pnl_realized": (lambda s: s.realized_pnl, "Realized P&L since the positions opened."),
    "tradingdesk_pnl_unrealized": (lambda s: s.unrealized_pnl, "Unrealized P&L at the marks."),
    "tradingdesk_pnl_daily": (lambda s: s.daily_pnl, "P&L since the start of the UTC day (after fees)."),
    "tradingdesk_drawdown": (lambda s: s.drawdown, "Fall of the day's P&L from its intraday high."),
    "tradingdesk_exposure_gross": (lambda s: s.gross_exposure, "Sum of absolute positions at the mark."),
    "tradingdesk_exposure_net": (lambda s: s.net_exposure, "Signed sum of positions at the mark."),
}


def _amount(text: str) -> float:
    return to_float(parse_fixed(text or "0", allow_negative=True))


class MonitoringMetrics:
    def __init__(self, collector: DeskCollector, meter: metrics.Meter | None = None) -> None:
        self.collector = collector
        meter = meter or metrics.get_meter("tradingdesk.monitoring")
        gauge = meter.create_observable_gauge
        gauge("tradingdesk_desk_ready", [self._ready], description="1 while every service is SERVING.")
        gauge(
            "tradingdesk_service_serving",
            [self._serving],
            description="1 while a service answers SERVING on gRPC health, by target_service.",
        )
        meter.create_observable_counter(
            "tradingdesk_service_restarts",
            [self._restarts],
            description="Restarts of a service's process by the embedded runtime's supervisor since the desk "
            "started, by target_service (none on Kubernetes: see process_start_time_seconds).",
        )
        gauge(
            "tradingdesk_trading_state",
            [self._state],
            description="Trading state of the desk and of each scope not ACTIVE, one series per state.",
        )
        gauge(
            "tradingdesk_trading_halted",
            [self._halted],
            description="1 for each halted scope, with the cause: kill_switch, daily_loss, drawdown, "
            "circuit_breaker or manual.",
        )
        gauge(
            "tradingdesk_risk_limit_utilization_ratio",
            [self._utilization],
            description="Used share of a scope's daily loss or drawdown limit (1: the limit is reached).",
        )
        for name, (read, text) in _PNL.items():
            gauge(name, self._pnl(read), description=text)
        gauge("tradingdesk_alerts_active", [self._alerts], description="Active alerts of the desk, by severity.")
        gauge(
            "tradingdesk_clock_skew_seconds",
            [self._clock_skew],
            description="How far a service's desk clock is off the desk's consensus, beyond the measurement's "
            "uncertainty (+: ahead), by target_service.",
        )

    @property
    def _status(self) -> monitoring_pb2.DeskStatus:
        return self.collector.status

    def _ready(self, _: CallbackOptions) -> Iterable[Observation]:
        status = self._status
        return [Observation(int(status.healthy))] if status.services else []

    def _serving(self, _: CallbackOptions) -> Iterable[Observation]:
        return [Observation(int(s.status == "SERVING"), {"target_service": s.service}) for s in self._status.services]

    def _restarts(self, _: CallbackOptions) -> Iterable[Observation]:
        if self.collector.health.supervision_status is None:
            return []
        return [Observation(s.restarts, {"target_service": s.service}) for s in self._status.services]

    def _state(self, _: CallbackOptions) -> Iterable[Observation]:
        out = []
        for scope in self._status.trading_states:
            label = scope_label(scope.state.scope.account, scope.state.scope.strategy)
            for value, name in STATES.items():
                out.append(Observation(int(scope.state.state == value), {"scope": label, "state": name}))
        return out

    def _halted(self, _: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(1, {"scope": scope_label(s.state.scope.account, s.state.scope.strategy), "cause": s.cause})
            for s in self._status.trading_states
            if s.state.state == common_pb2.TRADING_STATE_HALTED
        ]

    def _utilization(self, _: CallbackOptions) -> Iterable[Observation]:
        used = self.collector.risk.utilization()
        return [Observation(v, {"scope": scope, "limit": limit}) for (scope, limit), v in sorted(used.items())]

    def _pnl(self, read: Callable[[risk_pb2.RiskSnapshot], str]) -> list[Callable[[CallbackOptions], list]]:
        def observe(_: CallbackOptions) -> list[Observation]:
            return [
                Observation(_amount(read(s)), {"scope": scope_label(s.scope.account, s.scope.strategy)})
                for s in self._status.risk
            ]

        return [observe]

    def _alerts(self, _: CallbackOptions) -> Iterable[Observation]:
        alerts = self._status.alerts
        return [Observation(sum(1 for a in alerts if a.severity == s), {"severity": s}) for s in SEVERITIES]

    def _clock_skew(self, _: CallbackOptions) -> Iterable[Observation]:
        return [Observation(s.skew_ns / 1e9, {"target_service": s.service}) for s in clock_skews(self._status.services)]
