"""The day's plot from a known small record: the series it draws (order rate, probe latency, availability,
fault spans) and a PNG of the expected size."""

from __future__ import annotations

import math
import struct
from pathlib import Path

from tradingdesk.core.clock import NS_PER_SECOND
from tradingdesk.simulate.plot import FaultSpan, day_series, draw

T0 = 1_700_000_000 * NS_PER_SECOND


def at(second: float) -> int:
    return T0 + int(second * NS_PER_SECOND)


def probe(second: int, *, ms: float | None) -> dict:
    return {
        "market_ns": at(second),
        "acked": ms is not None,
        "ms": ms,
        "code": "OK" if ms is not None else "UNAVAILABLE",
    }


def test_the_series_of_a_small_record_and_its_png(tmp_path: Path) -> None:
    # 12 market seconds cut into 3 intervals of 4 s
    orders = [at(0.5)] * 8 + [at(5)] * 4 + [at(11.9)] * 2 + [at(12), at(-1)]  # the last two are outside the window
    probes = [probe(0, ms=1.0), probe(1, ms=3.0), probe(2, ms=2.0), probe(3, ms=10.0)]  # all acked
    probes += [probe(4, ms=None), probe(5, ms=None), probe(6, ms=5.0), probe(7, ms=None)]  # one second of four
    probes += [probe(s, ms=None) for s in range(8, 12)]  # none
    faults = [
        {"market_ns": at(4), "kind": "sigkill", "fault": "SIGKILL routing", "what": "killed"},
        {"market_ns": at(6), "kind": "feed_line_down", "fault": "feed f line A", "what": "line disabled"},
        {"market_ns": at(9), "kind": "feed_line_down", "fault": "feed f line A", "what": "line enabled"},
    ]
    series = day_series(order_ns=orders, probes=probes, faults=faults, window=(T0, at(12)), speed=10, intervals=3)
    assert series.interval_s == 4
    assert series.start_min == [0, 4 / 60, 8 / 60]
    assert series.orders_per_s == [20.0, 10.0, 5.0]  # per wall second: 8, 4 and 2 orders in 4 market s at 10x
    assert series.latency_p50_ms[:2] == [2.0, 5.0] and math.isnan(series.latency_p50_ms[2])
    assert series.latency_p99_ms[:2] == [10.0, 5.0] and math.isnan(series.latency_p99_ms[2])
    assert series.availability == [1.0, 0.25, 0.0]
    assert series.faults == [FaultSpan("sigkill", 4 / 60, 4 / 60), FaultSpan("feed_line_down", 6 / 60, 9 / 60)]

    path = tmp_path / "day.png"
    draw(series, path, title="test desk")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (1200, 800)  # 12 x 8 inches at 100 dpi
