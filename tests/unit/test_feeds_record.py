"""Recorded files: gzip round trips, the record command, and the shipped sample replayed by the model."""

from __future__ import annotations

import gzip
from itertools import islice
from pathlib import Path

from tradingdesk.feeds.record import main as record_main
from tradingdesk.feeds.record import session_prefix
from tradingdesk.feeds.recording import read_csv, write_csv
from tradingdesk.feeds.synthetic import NS, generate_session
from tradingdesk.spec.domain import instruments_of
from tradingdesk.spec.load import load_desk

REPO = Path(__file__).resolve().parents[2]
DESK = REPO / "examples" / "desk.yaml"
SAMPLE = REPO / "examples" / "data" / "us-equities-open-10min.csv.gz"


def instruments():
    return list(instruments_of(load_desk(DESK)).values())


def test_gzip_recordings_round_trip_and_are_reproducible(tmp_path: Path) -> None:
    events = list(generate_session(instruments()[:3], seed=5, session_seconds=120))
    a, b = tmp_path / "a.csv.gz", tmp_path / "b.csv.gz"
    assert write_csv(a, events) == len(events)
    write_csv(b, events)
    assert list(read_csv(a)) == events
    assert a.read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress(a.read_bytes()) == gzip.decompress(b.read_bytes())


def test_record_writes_the_first_minutes_of_the_session(tmp_path: Path) -> None:
    out = tmp_path / "open.csv"
    assert record_main(["-f", str(DESK), "-o", str(out), "--minutes", "0.5", "--seed", "3"]) == 0
    recorded = list(read_csv(out))
    assert recorded and all(e.ts_ns < 30 * NS for e in recorded)
    assert {e.symbol for e in recorded} == {i.symbol for i in instruments()}
    whole_day = generate_session(instruments(), seed=3, session_seconds=23_400)
    assert recorded == list(islice(whole_day, len(recorded)))  # a prefix of the full day, not a short day


def test_the_shipped_sample_is_what_the_model_generates() -> None:
    assert SAMPLE.is_file() and SAMPLE.stat().st_size < 3 * 1024 * 1024
    shipped = read_csv(SAMPLE)
    fresh = session_prefix(instruments(), seed=7, session_seconds=23_400, seconds=600)
    count = 0
    for a, b in zip(shipped, fresh, strict=True):
        assert a == b
        count += 1
    assert count > 100_000  # ten busy minutes of twelve symbols
