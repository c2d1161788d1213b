"""bench/results.json holds the figures of `make bench` and of `make simulate-day`: each writes its own rows and
keeps the other's (a `make bench` after a simulated day used to drop the day's figures)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import report
from bench.report import figure, is_bench, is_sim_day, write


@pytest.fixture
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "results.json"
    monkeypatch.setattr(report, "RESULTS", path)
    return path


def names(path: Path) -> list[str]:
    return [row["name"] for row in json.loads(path.read_text())]


def test_each_producer_replaces_its_own_rows_and_keeps_the_others(results: Path) -> None:
    write([figure("order_unary_p50_us", 1.0, "us", 2.0), figure("kill_switch_us", 3.0, "us", 4.0)], owns=is_bench)
    day = [figure("sim_day_availability", 99.0, "percent", 99.99), figure("sim_day_detect_p99_s", 2.0, "s", 7.2)]
    write(day, owns=is_sim_day)
    assert names(results) == ["order_unary_p50_us", "kill_switch_us", "sim_day_availability", "sim_day_detect_p99_s"]

    # a new `make bench` replaces its figures (one no longer measured goes) and keeps the day's
    write([figure("order_unary_p50_us", 5.0, "us", 2.0)], owns=is_bench)
    assert names(results) == ["sim_day_availability", "sim_day_detect_p99_s", "order_unary_p50_us"]
    assert json.loads(results.read_text())[-1]["value"] == 5.0

    # a new day without an alert to time has no detection figure: the old one goes rather than stay stale
    write([figure("sim_day_availability", 99.5, "percent", 99.99)], owns=is_sim_day)
    assert names(results) == ["order_unary_p50_us", "sim_day_availability"]
