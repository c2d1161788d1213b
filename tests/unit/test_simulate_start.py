"""``tradingdesk simulate --start``: a run that begins later in the session (the busy close without the day before
it). The start is read like a fault's ``at``; the run's length is counted from it and checked against the close;
and the wall time from launching the desk to the start puts the replay's open where the feeds process either waits
for it or joins the replay, never in between (where it would replay the session from the open at once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.desk_runner import write_desk
from tradingdesk.edge.clock import JOIN_AFTER_WALL_S
from tradingdesk.simulate.faults import session_offset_s
from tradingdesk.simulate.run import JOIN_SLACK_S, SimulationConfig, SimulationError, prepare, warmup_s


def test_the_start_is_seconds_or_hh_mm_ss_after_the_open() -> None:
    assert session_offset_s("06:10:00") == 22_200
    assert session_offset_s("300") == 300
    for bad in ("6:1", "-5", "01:60:00", "noon"):
        with pytest.raises(ValueError, match=r"is not a time|is negative"):
            session_offset_s(bad)


def test_the_run_lasts_from_its_start_to_the_close_unless_told_shorter(tmp_path: Path) -> None:
    spec = write_desk(tmp_path)
    plan = prepare(SimulationConfig(spec_path=spec, out_dir=tmp_path / "a", start_s=22_200))
    assert plan.run_s == plan.session_s - 22_200
    plan = prepare(SimulationConfig(spec_path=spec, out_dir=tmp_path / "b", start_s=22_200, duration_s=600))
    assert plan.run_s == 600


def test_a_start_at_or_past_the_close_or_a_run_past_it_is_refused(tmp_path: Path) -> None:
    spec = write_desk(tmp_path)
    session_s = prepare(SimulationConfig(spec_path=spec, out_dir=tmp_path / "a")).session_s
    with pytest.raises(SimulationError, match=f"--start {session_s}: must be from 0 to under"):
        prepare(SimulationConfig(spec_path=spec, out_dir=tmp_path / "b", start_s=session_s))
    with pytest.raises(SimulationError, match="--duration 1201: must be from 1 to the 1200 seconds from the start"):
        prepare(SimulationConfig(spec_path=spec, out_dir=tmp_path / "c", start_s=session_s - 1200, duration_s=1201))


@pytest.mark.parametrize("speed", [1, 20, 100])
def test_the_replays_open_is_never_just_before_the_feeds_start(speed: int) -> None:
    for start_s in range(0, 23_400, 50):
        config = SimulationConfig(spec_path=Path("d"), out_dir=Path("o"), speed=speed, start_s=start_s)
        warmup = warmup_s(config)
        assert warmup >= config.warmup_s
        open_after_launch_s = warmup - start_s / speed
        assert open_after_launch_s >= JOIN_SLACK_S or open_after_launch_s <= -(JOIN_AFTER_WALL_S + JOIN_SLACK_S), (
            start_s,
            warmup,
        )
