"""The cyclic garbage collector held off while a service rebuilds its state from a snapshot and the journal.

A restart creates hundreds of thousands of long-lived objects (orders, their terms, book levels) in a few
seconds and frees almost none. CPython's collector runs whenever allocations outnumber frees by 700, and its
older generations are traversed again as they grow, so during a rebuild most collections look at the state
being built and find nothing to free. Measured with ``python -m bench.recovery_bench`` (200,000 events): a
restart from a snapshot took 2.33 s with the collector running and 1.04 s held off, a full replay 6.75 s and
3.05 s. Reference counting still frees everything that is not in a cycle meanwhile; the collector runs again,
as configured, as soon as the rebuild ends (also when it fails).

When it ends, what the rebuild made is frozen first (``gc.freeze``: moved to the permanent generation, which no
collection traverses): otherwise the first collection after it walked the whole rebuilt state as young objects,
and the older generations again later, a third of a second of a restart from a snapshot of 150,000 orders
(py-spy on ``bench.recovery_bench`` at 2,000,000 events) and a pause of the event loop whenever the oldest
generation was collected. Reference counting frees frozen objects as before; only a cycle among them would stay.

Routing also holds the collector off while its journal snapshot's child lives (``routing/snapshots.py``), without
the freeze: that block builds nothing long-lived, and what it leaves is collected as usual after it. A collection
there writes into the header of every object it walks, and after a ``fork()`` each page it writes is copied first:
a full collection of a million small containers made 47,500 page faults (~190 MB copied) in a parent whose forked
child lived, and took about 25% longer than with no child (``python -m bench.fork_gc``).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0
_was_enabled = True
_freeze = False


@contextmanager
def collector_paused(*, freeze_after: bool = True) -> Iterator[None]:
    """No cyclic collection inside the block. Blocks may overlap (on several threads): the collector is enabled
    again when the last one ends, and only if it was enabled when the first one began. With ``freeze_after``
    (a rebuild: what it made is long-lived), everything alive then is frozen first if any of the overlapping
    blocks asked for it; without it (a pause that builds nothing to keep) a cycle made inside is collected after
    it as usual, not kept forever in the permanent generation."""
    global _holders, _was_enabled, _freeze
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            _freeze = False
            gc.disable()
        _holders += 1
        _freeze = _freeze or freeze_after
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                if _freeze:
                    gc.freeze()  # the rebuilt state is long-lived: no collection needs to walk it again
                gc.enable()
