"""`make bench`: run every benchmark, print a JSON line per figure, write bench/results.json."""

from __future__ import annotations

import sys
import traceback

from bench import (
    audit_bench,
    backup_bench,
    conduct_bench,
    failover_bench,
    feeds_bench,
    memory_bench,
    monitoring_bench,
    order_path,
    quote_path_bench,
    recovery_bench,
    risk_bench,
    security_bench,
    snapshot_bench,
    unary_concurrency_bench,
)
from bench.report import is_bench, write


def main() -> int:
    rows: list[dict] = []
    suites = [
        ("order path", order_path.run),
        ("unary concurrency", unary_concurrency_bench.run),
        ("risk", risk_bench.run),
        ("feeds", feeds_bench.run),
        ("quote path", quote_path_bench.run),
        ("monitoring", monitoring_bench.run),
    ]
    suites.append(("security", security_bench.run))
    suites.append(("audit", lambda: audit_bench.run(rows)))  # rows: its headroom is against order_session_rate
    suites.append(("backup", backup_bench.run))
    suites.append(("failover", failover_bench.run))
    suites.append(("memory", memory_bench.run))
    suites.append(("recovery", recovery_bench.run))
    suites.append(("snapshot", snapshot_bench.run))
    try:
        from bench import operator_bench

        suites.append(("operator", operator_bench.run))
    except ImportError:
        pass
    failed: list[str] = []
    for name, run in suites:
        print(f"# {name}", file=sys.stderr, flush=True)
        try:
            rows.extend(run())
            if name == "order path":  # surveillance must keep up with twice the session rate just measured
                print("# conduct", file=sys.stderr, flush=True)
                rows.extend(conduct_bench.run(rows))
        except Exception:  # one broken suite must not cost the figures of the others
            traceback.print_exc()
            failed.append(name)
    write(rows, owns=is_bench)
    if failed:
        print(f"# failed: {', '.join(failed)} (the other figures are in bench/results.json)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
