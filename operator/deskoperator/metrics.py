"""The operator's own Prometheus metrics, in the text exposition format, without a client library.

Why hand-written: a few counters, gauges and one histogram do not justify a new dependency; the format is small
and stable (https://prometheus.io/docs/instrumenting/exposition_formats/). Per-desk series are removed when the
desk goes, so a deleted desk never lingers on a dashboard.
"""

from __future__ import annotations

import threading
from collections import defaultdict

import aiohttp.web

BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HELP = {
    "tradingdesk_operator_reconcile_total": ("counter", "Desk reconciliations, by result."),
    "tradingdesk_operator_reconcile_errors_total": ("counter", "Desk reconciliations that failed."),
    "tradingdesk_operator_drift_repairs_total": ("counter", "Children restored after a deletion or an edit."),
    "tradingdesk_operator_trading_state_calls_total": ("counter", "RiskService.SetTradingState calls, by result."),
    "tradingdesk_operator_repair_failures_total": ("counter", "Drift repairs that failed, by kind (retried)."),
    "tradingdesk_operator_limits_calls_total": ("counter", "RiskService.SetLimits calls, by result."),
    "tradingdesk_operator_reconcile_duration_seconds": ("histogram", "Time to apply a desk's children."),
    "tradingdesk_operator_leader": ("gauge", "1 while this replica holds the leadership Lease, else 0."),
    "tradingdesk_operator_leader_transitions_total": ("counter", "Times this replica became the leader."),
    "tradingdesk_operator_lease_wait_seconds": ("gauge", "How long this replica waited for the Lease last time."),
    "tradingdesk_operator_desk_ready_services": ("gauge", "Services of a desk with all replicas ready (of 5)."),
    "tradingdesk_operator_desk_ready": ("gauge", "1 when the desk's Ready condition is True."),
    "tradingdesk_operator_desk_degraded": ("gauge", "1 when the desk's Degraded condition is True."),
    "tradingdesk_operator_desk_trading_state": (
        "gauge",
        "1 for the trading state the RiskService confirmed for the desk (label state).",
    ),
    "tradingdesk_operator_desk_trading_state_pending": (
        "gauge",
        "1 while spec.tradingState is not confirmed by the RiskService.",
    ),
    "tradingdesk_operator_desk_last_reconcile_timestamp_seconds": ("gauge", "Unix time of the last applied spec."),
    "tradingdesk_operator_desk_repair_failures_total": ("counter", "Failed drift repairs of a desk's children."),
}
DESK_STATES = ("Active", "ReduceOnly", "Halted")

Labels = tuple[tuple[str, str], ...]


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counters: dict[str, dict[Labels, float]] = defaultdict(dict)
        self.hist_counts: list[int] = [0] * len(BUCKETS)
        self.hist_sum = 0.0
        self.hist_n = 0

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            series = self.counters[name]
            series[key] = series.get(key, 0.0) + amount

    def set_gauge(self, name: str, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            self.counters[name][key] = float(value)

    def desk(self, namespace: str, desk: str, status: dict) -> None:
        """The per-desk gauges from the status just written."""
        conds = {c.get("type"): c.get("status") for c in status.get("conditions", [])}
        who = {"namespace": namespace, "desk": desk}
        ready = int(str(status.get("readyServices", "0/5")).split("/")[0])
        self.set_gauge("tradingdesk_operator_desk_ready_services", ready, **who)
        self.set_gauge("tradingdesk_operator_desk_ready", conds.get("Ready") == "True", **who)
        self.set_gauge("tradingdesk_operator_desk_degraded", conds.get("Degraded") == "True", **who)
        for state in DESK_STATES:
            self.set_gauge("tradingdesk_operator_desk_trading_state", status.get("tradingState") == state, **who,
                           state=state)  # fmt: skip
        pending = conds.get("TradingHalted") == "Unknown"
        self.set_gauge("tradingdesk_operator_desk_trading_state_pending", pending, **who)

    def forget_desk(self, namespace: str, desk: str) -> None:
        """Drop every series of a deleted desk."""
        with self._lock:
            for series in self.counters.values():
                for key in [k for k in series if ("namespace", namespace) in k and ("desk", desk) in k]:
                    del series[key]

    def observe_reconcile(self, seconds: float, ok: bool) -> None:
        self.inc("tradingdesk_operator_reconcile_total", result="success" if ok else "error")
        if not ok:
            self.inc("tradingdesk_operator_reconcile_errors_total")
        with self._lock:
            self.hist_sum += seconds
            self.hist_n += 1
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    self.hist_counts[i] += 1

    def render(self) -> str:
        """The text format, every known metric present (zero until counted) so dashboards see them at once."""
        lines: list[str] = []
        with self._lock:
            for name, (kind, text) in HELP.items():
                lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
                if kind == "histogram":
                    for bound, count in zip(BUCKETS, self.hist_counts, strict=True):
                        lines.append(f'{name}_bucket{{le="{bound}"}} {count}')
                    lines += [f'{name}_bucket{{le="+Inf"}} {self.hist_n}', f"{name}_sum {self.hist_sum}"]
                    lines.append(f"{name}_count {self.hist_n}")
                    continue
                per_desk = name.startswith("tradingdesk_operator_desk_")
                series = self.counters.get(name) or ({} if per_desk else {(): 0.0})
                for labels, value in sorted(series.items()):
                    label_text = ",".join(f'{k}="{v}"' for k, v in labels)
                    lines.append(f"{name}{{{label_text}}} {value}" if label_text else f"{name} {value}")
        return "\n".join(lines) + "\n"


METRICS = Metrics()


async def serve(port: int, host: str = "0.0.0.0", metrics: Metrics = METRICS) -> aiohttp.web.AppRunner:
    """Start ``/metrics`` on ``host:port``; the caller cleans the runner up at shutdown."""

    async def handler(_: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.Response(text=metrics.render(), content_type="text/plain", charset="utf-8")

    app = aiohttp.web.Application()
    app.router.add_get("/metrics", handler)
    runner = aiohttp.web.AppRunner(app, handle_signals=False)
    await runner.setup()
    await aiohttp.web.TCPSite(runner, host, port).start()
    return runner
