"""Walk marks: a synthetic session resumed from the newest mark before its join point is exactly the session
resumed from the open; the marks survive the process in the data directory, and a bad or foreign file costs
only the long walk."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from tradingdesk.core.instruments import Instrument
from tradingdesk.feeds.sources import SyntheticSource
from tradingdesk.feeds.synthetic import generate_session, resume_session
from tradingdesk.feeds.walk_marks import WalkMarks

UNIT = SEC = 10**9
SESSION_S = 1_800
MARK_S = 300
INSTRUMENTS = (
    Instrument("AAPL", tick_size=UNIT // 100, lot_size=UNIT, reference_price=18_950 * UNIT // 100),
    Instrument("PENNY", tick_size=5 * UNIT // 100, lot_size=10 * UNIT, reference_price=10 * UNIT // 100),
)


def marks_of_a_whole_pass(directory: Path, *, seed: int = 7) -> tuple[list, WalkMarks]:
    marks = WalkMarks(directory, INSTRUMENTS, seed=seed, session_seconds=SESSION_S)
    whole = list(generate_session(INSTRUMENTS, seed=seed, session_seconds=SESSION_S, on_mark=marks.record))
    marks.flush()
    return whole, marks


@pytest.mark.parametrize("from_s", [0, 299, 300, 301, 1_234, 1_799, 5_000])
def test_a_session_resumed_from_a_mark_is_the_one_resumed_from_the_open(tmp_path: Path, from_s: int) -> None:
    whole, marks = marks_of_a_whole_pass(tmp_path)
    walked = resume_session(INSTRUMENTS, seed=7, session_seconds=SESSION_S, from_ns=from_s * SEC)
    marked = resume_session(INSTRUMENTS, seed=7, session_seconds=SESSION_S, from_ns=from_s * SEC, marks=marks.newest)
    assert marked[0] == walked[0]
    assert list(marked[1]) == list(walked[1]) == whole[walked[0] :]


def test_a_restarted_process_finds_the_newest_marks_before_its_join_point_on_disk(tmp_path: Path) -> None:
    marks_of_a_whole_pass(tmp_path)
    after_restart = WalkMarks(tmp_path, INSTRUMENTS, seed=7, session_seconds=SESSION_S)
    mark = after_restart.newest("AAPL", 1_650 * SEC)
    assert mark is not None and 1_500 * SEC <= mark.ts_ns <= 1_650 * SEC  # one of the two kept, the later ≤ 1650 s
    assert after_restart.newest("AAPL", 1_000 * SEC) is None  # older than both kept: walk from the open
    source = SyntheticSource(INSTRUMENTS, seed=7, session_seconds=SESSION_S, marks=after_restart)
    before, rest = source.resume(1_700 * SEC)
    walked_before, walked_rest = resume_session(INSTRUMENTS, seed=7, session_seconds=SESSION_S, from_ns=1_700 * SEC)
    assert (before, list(rest)) == (walked_before, list(walked_rest))


def test_marks_of_another_seed_are_not_found(tmp_path: Path) -> None:
    marks_of_a_whole_pass(tmp_path, seed=8)
    assert WalkMarks(tmp_path, INSTRUMENTS, seed=7, session_seconds=SESSION_S).newest("AAPL", SESSION_S * SEC) is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda items: "not json",
        lambda items: json.dumps([{**items[0], "rng": [3, [1, 2, 3], None]}]),  # not a Mersenne Twister's state
        lambda items: json.dumps([{k: v for k, v in items[0].items() if k != "log_mid"}]),
    ],
)
def test_a_damaged_file_costs_only_the_walk_from_the_open(tmp_path: Path, damage) -> None:
    marks_of_a_whole_pass(tmp_path)
    for path in tmp_path.glob("*.json"):
        path.write_text(damage(json.loads(path.read_text())))
    marks = WalkMarks(tmp_path, INSTRUMENTS, seed=7, session_seconds=SESSION_S)
    source = SyntheticSource(INSTRUMENTS, seed=7, session_seconds=SESSION_S, marks=marks)
    before, rest = source.resume(1_700 * SEC)
    walked_before, walked_rest = resume_session(INSTRUMENTS, seed=7, session_seconds=SESSION_S, from_ns=1_700 * SEC)
    assert (before, list(rest)) == (walked_before, list(walked_rest))


def test_a_directory_that_cannot_be_written_leaves_the_marks_in_memory(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    marks = WalkMarks(blocked / "marks", INSTRUMENTS, seed=7, session_seconds=SESSION_S)
    list(generate_session(INSTRUMENTS, seed=7, session_seconds=SESSION_S, on_mark=marks.record))
    assert marks.newest("AAPL", SESSION_S * SEC) is not None


def test_recording_a_mark_does_not_wait_for_the_disk(tmp_path: Path) -> None:
    """The pass records marks on the feeds process's event loop: a file write that blocks (here a FIFO nobody
    reads, standing for a disk held by another writer) must not hold the pass, or the desk's market data stops."""
    marks = WalkMarks(tmp_path, INSTRUMENTS, seed=7, session_seconds=SESSION_S)
    path = marks._files["AAPL"]
    fifo = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    os.mkfifo(fifo)
    passed = threading.Thread(
        target=lambda: list(generate_session(INSTRUMENTS, seed=7, session_seconds=SESSION_S, on_mark=marks.record)),
        daemon=True,
    )
    passed.start()
    passed.join(timeout=30)
    held = passed.is_alive()
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # lets the blocked writer through, either way
    try:
        assert not held, "the pass waited for a walk mark's file to be written"
        marks.flush()
    finally:
        os.close(reader)
    assert marks.newest("AAPL", SESSION_S * SEC) is not None
    assert marks.newest("PENNY", SESSION_S * SEC) is not None
