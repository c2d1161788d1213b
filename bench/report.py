"""The one output format of every benchmark: a JSON line per figure, collected into bench/results.json."""

from __future__ import annotations

import json
from collections.abc import Callable
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


SIM_DAY_PREFIX = "sim_day_"
"""The rows `make simulate-day` writes (bench/simulate_day.py); every other row is `make bench`'s."""


def is_sim_day(name: str) -> bool:
    return name.startswith(SIM_DAY_PREFIX)


def is_bench(name: str) -> bool:
    return not is_sim_day(name)


def write(rows: list[dict], *, owns: Callable[[str], bool]) -> None:
    """Replace every row of bench/results.json whose name the caller ``owns`` with ``rows``, keeping the rest:
    `make bench` and `make simulate-day` each write their own figures, and neither loses the other's."""
    old = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    kept = [row for row in old if not owns(row["name"])]
    RESULTS.write_text(json.dumps(kept + rows, indent=2) + "\n")
