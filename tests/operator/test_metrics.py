"""The operator's Prometheus text output."""

from __future__ import annotations

from deskoperator.metrics import Metrics


def test_text_format() -> None:
    m = Metrics()
    assert "tradingdesk_operator_reconcile_total 0.0" in m.render()
    m.observe_reconcile(0.02, ok=True)
    m.observe_reconcile(3.0, ok=False)
    m.inc("tradingdesk_operator_drift_repairs_total", kind="Service")
    text = m.render()
    assert 'tradingdesk_operator_reconcile_total{result="success"} 1.0' in text
    assert 'tradingdesk_operator_reconcile_total{result="error"} 1.0' in text
    assert "tradingdesk_operator_reconcile_errors_total 1.0" in text
    assert 'tradingdesk_operator_drift_repairs_total{kind="Service"} 1.0' in text
    assert 'tradingdesk_operator_reconcile_duration_seconds_bucket{le="0.025"} 1' in text
    assert 'tradingdesk_operator_reconcile_duration_seconds_bucket{le="5.0"} 2' in text
    assert "tradingdesk_operator_reconcile_duration_seconds_count 2" in text
    assert "# TYPE tradingdesk_operator_reconcile_duration_seconds histogram" in text
