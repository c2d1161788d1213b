"""The offset clock and the per-service skew file a clock-skew drill writes (edge/clock_skew.py)."""

from __future__ import annotations

from pathlib import Path

from tradingdesk.core.clock import NS_PER_MS, ManualClock, OffsetClock, WallClock
from tradingdesk.edge.clock_skew import REFRESH_NS, SKEW_DIR_ENV, SkewFileClock, set_skew, skewable


def test_offset_clock_reads_off_both_ways_and_keeps_timers_right() -> None:
    manual = ManualClock()
    clock = OffsetClock(manual, 250 * NS_PER_MS)
    assert clock.now_ns() == manual.now_ns() + 250 * NS_PER_MS
    # a timer set for a time on the skewed clock fires when that clock reaches it
    assert clock.seconds_until(clock.now_ns() + 2 * 10**9) == 2.0
    clock.offset_ns = -1_000 * NS_PER_MS
    assert clock.now_ns() == manual.now_ns() - 1_000 * NS_PER_MS
    assert clock.seconds_until(clock.now_ns()) == 0


def test_skew_file_is_reread_only_after_the_refresh_interval(tmp_path: Path) -> None:
    monotonic = ManualClock(0)
    desk_time = ManualClock()
    clock = SkewFileClock(desk_time, tmp_path / "routing", monotonic=monotonic.now_ns)
    assert clock.now_ns() == desk_time.now_ns()  # no file: on time
    set_skew(tmp_path, "routing", 750 * NS_PER_MS)
    assert clock.now_ns() == desk_time.now_ns()  # not re-read yet: no read per call
    monotonic.advance(REFRESH_NS)
    assert clock.now_ns() == desk_time.now_ns() + 750 * NS_PER_MS
    set_skew(tmp_path, "routing", -300 * NS_PER_MS)
    monotonic.advance(REFRESH_NS)
    assert clock.now_ns() == desk_time.now_ns() - 300 * NS_PER_MS
    set_skew(tmp_path, "routing", 0)
    monotonic.advance(REFRESH_NS)
    assert clock.now_ns() == desk_time.now_ns()


def test_an_unreadable_skew_file_counts_as_no_skew(tmp_path: Path) -> None:
    (tmp_path / "risk").write_text("soon\n")
    monotonic = ManualClock(0)
    clock = SkewFileClock(ManualClock(), tmp_path / "risk", monotonic=monotonic.now_ns)
    assert clock.offset_ns == 0
    (tmp_path / "risk").write_text("5000000\n")
    monotonic.advance(REFRESH_NS)
    clock.now_ns()
    assert clock.offset_ns == 5 * NS_PER_MS


def test_without_the_drill_directory_a_service_keeps_its_clock_unwrapped(tmp_path: Path) -> None:
    wall = WallClock()
    assert skewable(wall, "routing", {}) is wall
    skewed = skewable(wall, "routing", {SKEW_DIR_ENV: str(tmp_path)})
    assert isinstance(skewed, SkewFileClock)
    assert skewed.path == tmp_path / "routing"
