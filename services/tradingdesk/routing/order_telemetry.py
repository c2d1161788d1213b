"""The order path's metrics and spans, recorded where routing sees each step: the risk gate's check (duration,
rejects by reason code, a span), the order going to its venue (a span), the engine's events (submit to venue
acknowledgement, acknowledgement to first fill), and the durable batches handed to the execution streams (fill
to execution report). The spans are children of routing's SubmitOrder server span, so a client's trace shows
where its order spent its time; with traces off (no ``otlpEndpoint``) not even a no-op span is opened.

Latencies come from the events' own timestamps (the engine's clock); the engine's bus hands this module live
events only, so replaying the journal after a restart records nothing. Labels stay bounded: the venue comes
from the spec, the reason from the stable reject codes in the code; never an order id (spans may carry one).
The latency histograms are ``LatencyHistogram``s in the process's Prometheus registry, recorded on every
order: the OpenTelemetry SDK's record would cost more than the risk check it times (telemetry/histogram.py).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import Status, StatusCode
from prometheus_client import CollectorRegistry

from tradingdesk.core.clock import Clock
from tradingdesk.core.enums import TERMINAL_STATUSES
from tradingdesk.core.events import OrderAccepted, OrderEvent, OrderFilled, OrderPending
from tradingdesk.core.reject import Reject
from tradingdesk.risk.gate import RiskGate
from tradingdesk.spec.monitoring import LATENCY_BUCKETS_S
from tradingdesk.telemetry.histogram import latency_histogram
from tradingdesk.telemetry.setup import metrics_registry
from tradingdesk.venues.base import VenueOrder
from tradingdesk.venues.simulated import SimulatedVenue

if TYPE_CHECKING:
    from tradingdesk.oms.engine import OrderEngine
    from tradingdesk.storage.journal import Journal, JournalRecord

FILL_KIND = OrderFilled.kind
FILL_WAIT_BUCKETS_S = (*LATENCY_BUCKETS_S, 30.0, 60.0, 300.0, 900.0, 3_600.0)
"""A resting order can wait minutes for its first fill."""
RECORDS_AHEAD_BUCKETS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000)


def _meter() -> metrics.Meter:
    return metrics.get_meter("tradingdesk.routing")


class MeasuredRiskGate(RiskGate):
    """The risk gate, with every pre-trade check timed (and traced) and every refusal counted by its reason code."""

    def __init__(
        self,
        *args: Any,
        meter: metrics.Meter | None = None,
        registry: CollectorRegistry | None = None,
        tracer: trace.Tracer | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        meter = meter or _meter()
        self._tracer = tracer
        self._check_duration = latency_histogram(
            registry or metrics_registry(),
            "tradingdesk_risk_check_duration_seconds",
            description="Time the pre-trade risk gate takes to pass or refuse one new order.",
            buckets=LATENCY_BUCKETS_S,
        ).series()
        self._rejects = meter.create_counter(
            "tradingdesk_risk_rejects",
            description="New orders the risk gate refused, by reason code (PRICE_COLLAR, MAX_ORDER_QTY, ...).",
        )

    def check(self, **order: Any) -> None:
        if self._tracer is None:
            self._timed_check(order)
            return
        attributes = {"tradingdesk.account": order["account"], "tradingdesk.symbol": order["symbol"]}
        with self._tracer.start_as_current_span("risk gate check", attributes=attributes) as span:
            try:
                self._timed_check(order)
            except Reject as reject:
                span.set_attribute("tradingdesk.reject_reason", reject.code)
                span.set_status(Status(StatusCode.ERROR, reject.message))
                raise

    def _timed_check(self, order: dict[str, Any]) -> None:
        started = time.perf_counter()
        try:
            super().check(**order)
        except Reject as reject:
            self._rejects.add(1, {"reason": reject.code})
            raise
        finally:
            self._check_duration.record(time.perf_counter() - started)


class TracedVenue(SimulatedVenue):
    """A venue whose order entry is a span (the simulated venue answers later, from the scheduler)."""

    def __init__(self, *args: Any, tracer: trace.Tracer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tracer = tracer

    def submit(self, order: VenueOrder) -> None:
        attributes = {"tradingdesk.venue": self.name, "tradingdesk.order_id": order.order_id}
        with self._tracer.start_as_current_span("venue submit", attributes=attributes):
            super().submit(order)


class OrderLatencyMetrics:
    """Subscribes to the engine's live events and to durable batches; holds one timestamp per order between its
    acknowledgement and its first fill (or its end), so memory is bounded by the open orders."""

    def __init__(
        self,
        engine: OrderEngine,
        clock: Clock,
        *,
        meter: metrics.Meter | None = None,
        registry: CollectorRegistry | None = None,
        journal: Journal | None = None,
    ) -> None:
        meter = meter or _meter()
        registry = registry or metrics_registry()
        self.clock = clock
        self.journal = journal
        self.awaiting_first_fill: dict[str, int] = {}
        """order id -> when its venue acknowledged it, until its first fill or its end."""

        def histogram(name: str, description: str, buckets: tuple[float, ...] = LATENCY_BUCKETS_S) -> Any:
            return latency_histogram(
                registry, f"{name}_seconds", description=description, buckets=buckets, label_names=("venue",)
            )

        self.submit_to_ack = histogram(
            "tradingdesk_order_submit_to_ack_duration",
            "From a new order accepted by routing to its acknowledgement by the venue, by venue.",
        )
        self.ack_to_first_fill = histogram(
            "tradingdesk_order_ack_to_first_fill_duration",
            "From the venue's acknowledgement of an order to its first fill, by venue.",
            FILL_WAIT_BUCKETS_S,
        )
        self.records_ahead = latency_histogram(
            registry,
            "tradingdesk_order_journal_records_ahead",
            description="Journal records not yet durable ahead of a new order's own when it is journaled: its "
            "acknowledgement waits until they are committed (a venue's burst of answers is paced to keep this "
            "near spec.routing.venueAnswersMaxBacklog).",
            buckets=RECORDS_AHEAD_BUCKETS,
            counts=True,
        ).series()
        self.fill_to_report = latency_histogram(
            registry,
            "tradingdesk_order_fill_to_execution_report_duration_seconds",
            description="From a fill at the venue to its execution report being durable and handed to the "
            "execution streams.",
            buckets=LATENCY_BUCKETS_S,
        ).series()
        ref = weakref.ref(engine)

        def open_orders(_: CallbackOptions) -> Iterable[Observation]:
            e = ref()
            return [] if e is None else [Observation(e.open_count)]

        meter.create_observable_gauge(
            "tradingdesk_orders_open", [open_orders], description="Orders working at a venue or on their way."
        )
        engine.bus.subscribe(self.on_event, replayed=False)

    def on_event(self, event: Any) -> None:
        if not isinstance(event, OrderEvent):
            return
        order_id = event.terms.order_id
        if isinstance(event, OrderPending):
            if self.journal is not None:  # the journal writer ran first: its last seq is this order's record
                self.records_ahead.record(self.journal.last_seq() - 1 - self.journal.durable_seq)
        elif isinstance(event, OrderAccepted):
            self.submit_to_ack.record((event.ts_ns - event.terms.created_ns) / 1e9, event.venue)
            self.awaiting_first_fill[order_id] = event.ts_ns
        elif isinstance(event, OrderFilled):
            acked = self.awaiting_first_fill.pop(order_id, None)
            if acked is not None:
                self.ack_to_first_fill.record((event.ts_ns - acked) / 1e9, event.venue)
        if event.status in TERMINAL_STATUSES:
            self.awaiting_first_fill.pop(order_id, None)

    def on_committed(self, records: list[JournalRecord]) -> None:
        now = None
        for rec in records:
            if rec.kind == FILL_KIND:
                now = now or self.clock.now_ns()
                self.fill_to_report.record(max(0, now - rec.ts_ns) / 1e9)
