"""How often monitoring refreshes the desk status when fills keep asking for it (``monitoring/collector.py``)."""

from __future__ import annotations

from tradingdesk.monitoring.collector import POKED_REFRESH_GAP_S, poked_refresh_wait


def test_a_refresh_asked_for_right_after_another_waits_out_the_gap() -> None:
    assert poked_refresh_wait(since_last_s=0.1) == POKED_REFRESH_GAP_S - 0.1
    assert poked_refresh_wait(since_last_s=0.0) == POKED_REFRESH_GAP_S


def test_one_asked_for_after_the_gap_runs_at_once() -> None:
    assert poked_refresh_wait(since_last_s=POKED_REFRESH_GAP_S) == 0.0
    assert poked_refresh_wait(since_last_s=5.0) == 0.0  # the interval's own refresh: never held up
