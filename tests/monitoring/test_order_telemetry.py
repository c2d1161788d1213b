"""The order path's metrics and spans on a real engine with simulated venues and a manual clock: the risk
gate's check (duration, rejects by reason code, a span naming a refusal), submit to acknowledgement,
acknowledgement to first fill, fill to execution report, open orders; nothing recorded for an order that
never reaches a venue, nothing kept for an order that ended."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from prometheus_client import CollectorRegistry

from tests.monitoring.tools import points
from tests.unit.desk_fixtures import D, Desk, ListJournal, default_limits, make_desk, order
from tradingdesk.core.reject import Reject
from tradingdesk.oms.requests import OrderRef
from tradingdesk.routing.order_telemetry import MeasuredRiskGate, OrderLatencyMetrics
from tradingdesk.storage.journal import JournalRecord


def priced(d: Desk) -> None:
    d.trade("AAPL", "100.00", "10")
    d.quote("AAPL", "99.99", "500", "100.00", "500")


def histogram(registry: CollectorRegistry, name: str) -> dict[tuple[str, ...], dict[str, float]]:
    """``{label values: {"count", "sum", "le=<bound>"...}}`` of one histogram as /metrics would give it."""
    out: dict[tuple[str, ...], dict[str, float]] = {}
    for family in registry.collect():
        if family.name != name:
            continue
        for sample in family.samples:
            labels = {k: v for k, v in sample.labels.items() if k != "le"}
            key = tuple(labels.values())
            field = sample.name.removeprefix(name + "_")
            out.setdefault(key, {})[f"le={sample.labels['le']}" if field == "bucket" else field] = sample.value
    return out


def test_an_order_from_gate_to_fill_to_report() -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test")
    registry = CollectorRegistry()
    journal = ListJournal()
    gate = MeasuredRiskGate(default_limits(max_order_quantity=D("1000")), meter=meter, registry=registry)
    d = make_desk(journal=journal, gate=gate)
    metrics = OrderLatencyMetrics(d.engine, d.clock, meter=meter, registry=registry)
    priced(d)

    with pytest.raises(Reject) as refused:
        d.engine.submit(order(cl="too-big", qty="5000"))
    assert refused.value.code == "MAX_ORDER_QTY"
    d.engine.submit(order(cl="rests", qty="10", price="99.00"))
    d.engine.submit(order(cl="crosses", qty="10", price="100.00"))
    d.settle()
    d.clock.advance(3_000_000)  # the report is durable 3 ms after the fill
    metrics.on_committed(journal.records)

    seen = points(reader)
    (rejects,) = seen["tradingdesk_risk_rejects"]
    assert dict(rejects.attributes) == {"reason": "MAX_ORDER_QTY"} and rejects.value == 1
    checks = histogram(registry, "tradingdesk_risk_check_duration_seconds")[()]
    assert checks["count"] == 3 == checks["le=+Inf"], "every check is timed, passed or refused"
    acks = histogram(registry, "tradingdesk_order_submit_to_ack_duration_seconds")
    assert sum(a["count"] for a in acks.values()) == 2, "the refused order never reached a venue"
    assert all(a["le=5e-05"] == 0 and a["sum"] > 0 for a in acks.values()), "venues answer after their latency"
    first_fill = histogram(registry, "tradingdesk_order_ack_to_first_fill_duration_seconds")
    assert [f["count"] for f in first_fill.values()] == [1], "only the crossing order filled"
    (reports,) = histogram(registry, "tradingdesk_order_fill_to_execution_report_duration_seconds").values()
    fills = [r for r in journal.records if r.kind == "trade"]
    assert reports["count"] == len(fills) >= 1
    assert reports["le=0.0025"] == 0 and reports["sum"] >= 0.003 * len(fills), "3 ms from fill to durable"
    (open_orders,) = seen["tradingdesk_orders_open"]
    assert open_orders.value == 1, "the resting order"


def test_ended_orders_leave_nothing_behind() -> None:
    registry = CollectorRegistry()
    d = make_desk()
    metrics = OrderLatencyMetrics(d.engine, d.clock, registry=registry)
    priced(d)
    ack = d.engine.submit(order(cl="rests", qty="10", price="99.00"))
    d.settle()
    assert ack.order.order_id in metrics.awaiting_first_fill
    d.engine.cancel(OrderRef(account="ACC", order_id=ack.order.order_id, client_order_id=""))
    d.settle()
    assert not metrics.awaiting_first_fill, "a cancelled order is forgotten"
    metrics.on_committed([JournalRecord(1, d.clock.now_ns(), "new", ack.order.order_id, {})])
    reports = histogram(registry, "tradingdesk_order_fill_to_execution_report_duration_seconds")
    assert reports[()]["count"] == 0, "no fill, nothing recorded"


def test_the_gate_check_is_a_span_that_names_a_refusal() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter = MeterProvider(metric_readers=[InMemoryMetricReader()]).get_meter("test")
    gate = MeasuredRiskGate(
        default_limits(max_order_quantity=D("1000")),
        meter=meter,
        registry=CollectorRegistry(),
        tracer=provider.get_tracer("t"),
    )
    d = make_desk(gate=gate)
    priced(d)
    d.engine.submit(order(cl="passes", qty="10", price="99.00"))
    with pytest.raises(Reject):
        d.engine.submit(order(cl="too-big", qty="5000"))
    passed, refused = exporter.get_finished_spans()
    assert passed.name == refused.name == "risk gate check"
    assert passed.status.is_ok and "tradingdesk.reject_reason" not in passed.attributes
    assert refused.status.status_code == StatusCode.ERROR
    assert refused.attributes["tradingdesk.reject_reason"] == "MAX_ORDER_QTY"
    assert refused.attributes["tradingdesk.symbol"] == "AAPL"
