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

from tests.monitoring.tools import points
from tests.unit.desk_fixtures import D, Desk, ListJournal, default_limits, make_desk, order
from tradingdesk.core.reject import Reject
from tradingdesk.oms.requests import OrderRef
from tradingdesk.routing.order_telemetry import MeasuredRiskGate, OrderLatencyMetrics
from tradingdesk.storage.journal import JournalRecord


def priced(d: Desk) -> None:
    d.trade("AAPL", "100.00", "10")
    d.quote("AAPL", "99.99", "500", "100.00", "500")


def test_an_order_from_gate_to_fill_to_report() -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test")
    journal = ListJournal()
    d = make_desk(journal=journal, gate=MeasuredRiskGate(default_limits(max_order_quantity=D("1000")), meter=meter))
    metrics = OrderLatencyMetrics(d.engine, d.clock, meter=meter)
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
    (checks,) = seen["tradingdesk_risk_check_duration"]
    assert checks.count == 3, "every check is timed, passed or refused"
    acks = {p.attributes["venue"]: p for p in seen["tradingdesk_order_submit_to_ack_duration"]}
    assert sum(p.count for p in acks.values()) == 2, "the refused order never reached a venue"
    assert all(p.min > 0 for p in acks.values()), "the venues' latency lies between submit and ack"
    (first_fill,) = seen["tradingdesk_order_ack_to_first_fill_duration"]
    assert first_fill.count == 1, "only the crossing order filled"
    (reports,) = seen["tradingdesk_order_fill_to_execution_report_duration"]
    fills = [r for r in journal.records if r.kind == "trade"]
    assert reports.count == len(fills) >= 1 and reports.min >= 0.003
    (open_orders,) = seen["tradingdesk_orders_open"]
    assert open_orders.value == 1, "the resting order"


def test_ended_orders_leave_nothing_behind() -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test")
    d = make_desk()
    metrics = OrderLatencyMetrics(d.engine, d.clock, meter=meter)
    priced(d)
    ack = d.engine.submit(order(cl="rests", qty="10", price="99.00"))
    d.settle()
    assert ack.order.order_id in metrics.awaiting_first_fill
    d.engine.cancel(OrderRef(account="ACC", order_id=ack.order.order_id, client_order_id=""))
    d.settle()
    assert not metrics.awaiting_first_fill, "a cancelled order is forgotten"
    metrics.on_committed([JournalRecord(1, d.clock.now_ns(), "new", ack.order.order_id, {})])
    assert "tradingdesk_order_fill_to_execution_report_duration" not in points(reader)


def test_the_gate_check_is_a_span_that_names_a_refusal() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter = MeterProvider(metric_readers=[InMemoryMetricReader()]).get_meter("test")
    gate = MeasuredRiskGate(default_limits(max_order_quantity=D("1000")), meter=meter, tracer=provider.get_tracer("t"))
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
