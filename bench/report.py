"""The one output format of every benchmark: a JSON line per figure, collected into bench/results.json."""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results.json"


def figure(name: str, value: float, unit: str, baseline: float, *, lower_is_better: bool = True) -> dict:
    """``ratio`` is always value / baseline, measured in the same run.

    For a latency, 1.3 means 30% slower than the baseline; for a rate, 0.8 means 80% of the baseline's rate.
    """
    ratio = value / baseline if baseline else float("nan")
    row = {
        "name": name,
        "value": round(value, 3),
        "unit": unit,
        "baseline": round(baseline, 3),
        "ratio": round(ratio, 3),
        "lower_is_better": lower_is_better,
    }
    print(json.dumps(row), flush=True)
    return row


def write(rows: list[dict]) -> None:
    RESULTS.write_text(json.dumps(rows, indent=2) + "\n")
