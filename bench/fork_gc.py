"""What a cyclic collection costs a process while a child it forked lives, and what holding the collector off
saves (routing's journal snapshots fork a child that serializes the order book, ``routing/snapshots.py``).

``python -m bench.fork_gc``: builds a heap of a million small containers (routing's open orders and their
terms are of that kind), forks a child that only sleeps, and runs a full collection in the parent while the
child lives: its wall time and the minor page faults it caused (each one a page copied because the collector
wrote into an object header on a page shared with the child), against the same collection with no child.
Routing holds the collector off while its child lives (``core/gc_pause.collector_paused(freeze_after=False)``),
so no such collection runs there. Not one of ``make bench``'s suites: a one-off measurement behind a design
choice (docs/architecture.md, "Journal snapshots").
"""

from __future__ import annotations

import gc
import os
import resource
import time

OBJECTS = 1_000_000
CHILD_S = 3.0


def _collection(*, child: bool) -> tuple[float, int]:
    """Wall ms and minor page faults of one full collection in this process, with or without a forked child."""
    pid = os.fork() if child else -1
    if pid == 0:
        gc.disable()
        time.sleep(CHILD_S)
        os._exit(0)
    try:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        started = time.perf_counter()
        gc.collect()  # what an automatic full collection does when it lands there
        took_ms = (time.perf_counter() - started) * 1e3
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    finally:
        if child:
            os.waitpid(pid, 0)
    return took_ms, faults


def main() -> None:
    heap = [{"id": i, "terms": (i, i + 1), "tags": [i]} for i in range(OBJECTS)]
    gc.collect()
    for child in (False, True, False, True):
        took_ms, faults = _collection(child=child)
        label = "while a forked child lives" if child else "no child                  "
        print(f"full collection, {label}: {took_ms:5.0f} ms, {faults:6d} minor page faults ({len(heap)} containers)")
    print("with the collector held off (collector_paused), no collection runs in the window at all")


if __name__ == "__main__":
    main()
