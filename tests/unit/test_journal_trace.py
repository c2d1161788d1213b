"""Routing's memory of each order's trace context, and the spans consumers record from it."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tradingdesk.telemetry.journal_trace import OrderTraceContexts, record_spans


def test_the_first_context_of_an_order_is_kept_and_the_oldest_order_is_forgotten() -> None:
    tracer = TracerProvider().get_tracer("test")
    traces = OrderTraceContexts(max_orders=2)
    traces.remember("O-1")  # no current span: nothing to keep
    assert traces.of("O-1") == ""
    with tracer.start_as_current_span("submit 1") as first:
        traces.remember("O-1")
    with tracer.start_as_current_span("a later event of O-1"):
        traces.remember("O-1")  # the order keeps the context of the request that opened it
    context = first.get_span_context()
    assert traces.of("O-1") == f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    with tracer.start_as_current_span("submit 2"):
        traces.remember("O-2")
        traces.remember("O-3")
    assert traces.of("O-1") == "" and traces.of("O-2") and traces.of("O-3")


def test_a_span_per_traced_event_as_a_child_of_its_context() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("submit") as parent:
        traces = OrderTraceContexts()
        traces.remember("O-1")
    events = [(traces.of("O-1"), {"seq": 7}), ("", {"seq": 8}), ("00-garbage", {"seq": 9})]
    record_spans(tracer, "audit record", events, start_ns=1_000, end_ns=2_000)
    (span,) = [s for s in exporter.get_finished_spans() if s.name == "audit record"]
    assert span.parent is not None and span.parent.span_id == parent.get_span_context().span_id
    assert span.context.trace_id == parent.get_span_context().trace_id
    assert (span.start_time, span.end_time, dict(span.attributes)) == (1_000, 2_000, {"seq": 7})
