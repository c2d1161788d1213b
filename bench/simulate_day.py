"""The figures of a simulated day (`make simulate-day`) into bench/results.json, in the benchmarks' format.

Reads the run directory's ``verdict.json`` (written by ``tradingdesk simulate``) and replaces the ``sim_day_*``
rows of bench/results.json (all of them: a figure this day lacks goes), keeping `make bench`'s rows.
``sim_day_detect_p99_s`` (fault to alert, wall seconds) is written when at least one expected alert came (never a
made-up figure), against the largest detection bound of the day's faults: a ratio above 1 is past a bound.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.report import figure, is_sim_day, write

AVAILABILITY_TARGET = 0.9999
"""The seed target the availability figure is compared with (BRIEF section 6, issue 18)."""


def rows_of(verdict: dict) -> list[dict]:
    lines = {line["name"]: line for line in verdict["lines"]}
    acked = verdict["figures"]["orders_acknowledged"]
    rows = [
        # in percent, so the shared format's three decimals keep 99.990 apart from 99.999
        figure(
            "sim_day_availability",
            100 * lines["availability"]["value"],
            "percent",
            100 * AVAILABILITY_TARGET,
            lower_is_better=False,
        ),
        # against the acknowledged orders: the ratio is the fraction of them that went into the journal
        figure("sim_day_orders", verdict["figures"]["orders_journaled"], "orders", acked, lower_is_better=False),
        # against the acknowledged orders: the ratio is the fraction lost
        figure("sim_day_lost_orders", lines["acked_orders_lost"]["value"], "orders", acked),
    ]
    figures = verdict["figures"]
    if "detect_p99_s" in figures:
        rows.append(figure("sim_day_detect_p99_s", figures["detect_p99_s"], "s", figures["detect_bound_s"]))
    return rows


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bench.simulate_day RUN_DIR", file=sys.stderr)
        return 2
    path = Path(argv[0]) / "verdict.json"
    if not path.exists():
        print(f"error: {path} does not exist: the simulation did not get to its verdict", file=sys.stderr)
        return 1
    write(rows_of(json.loads(path.read_text())), owns=is_sim_day)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
