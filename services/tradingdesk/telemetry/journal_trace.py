"""An order's trace followed across the journal stream.

Routing remembers the trace context of the request that opened each order and sends it with that order's journal
events (``JournalEvent.traceparent``, W3C Trace Context). Compliance (recording the event in the audit trail) and
risk (applying it to real-time risk) each record their work on a traced event as a span in that trace, so one
submitted order is one trace from the client through routing, the gate and the venue to compliance and risk.

The contexts live in routing's memory only, bounded: events sent again after routing restarts, or of orders opened
before the last ``MAX_ORDERS`` orders, carry none, and a consumer then records no span. The journal itself (what an
auditor reads) never holds a trace id.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

MAX_ORDERS = 100_000
"""Orders whose trace context routing keeps (the oldest is forgotten first)."""

_PROPAGATOR = TraceContextTextMapPropagator()


class OrderTraceContexts:
    """Order id -> the ``traceparent`` of the request that opened the order (routing only, traces on)."""

    def __init__(self, max_orders: int = MAX_ORDERS) -> None:
        self._max = max_orders
        self._by_order: OrderedDict[str, str] = OrderedDict()

    def remember(self, order_id: str) -> None:
        """Keep the current span's context for ``order_id``, once: the first event of an order is journaled
        inside its request, later ones (venue acknowledgements, fills) keep the order's first context."""
        if not order_id or order_id in self._by_order:
            return
        context = trace.get_current_span().get_span_context()
        if not context.is_valid:
            return
        self._by_order[order_id] = f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
        if len(self._by_order) > self._max:
            self._by_order.popitem(last=False)

    def of(self, order_id: str) -> str:
        return self._by_order.get(order_id, "")


def record_spans(
    tracer: trace.Tracer,
    name: str,
    events: Iterable[tuple[str, Mapping[str, str | int]]],
    *,
    start_ns: int,
    end_ns: int,
) -> None:
    """One span named ``name`` from ``start_ns`` to ``end_ns`` in each event's trace: ``events`` are
    ``(traceparent, attributes)`` pairs; one without a valid context is skipped."""
    for traceparent, attributes in events:
        parent = _PROPAGATOR.extract({"traceparent": traceparent})
        if not trace.get_current_span(parent).get_span_context().is_valid:
            continue
        span = tracer.start_span(name, context=parent, start_time=start_ns, attributes=dict(attributes))
        span.end(end_time=end_ns)
