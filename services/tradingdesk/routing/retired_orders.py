"""Orders retired from the engine's memory, read back from the journal when a request names one (``oms/retired.py``).

The engine raises ``RetiredOrderNeeded``; ``answer`` reads the order in a worker thread (an indexed query or two,
never on the event loop) and asks the engine again with it, as often as the request needs (a repeated replace may
name two retired orders: the one it replaced and its replacement). Requests about orders in memory never come here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.engine import Engine

from tradingdesk.core.reject import unavailable
from tradingdesk.oms.retired import Lookup, Resolved, RetiredOrder, RetiredOrderNeeded, rebuild_order
from tradingdesk.storage.journal import read_order_records

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_LOOKUPS = 4
"""More lookups than any request makes (a replace makes two at most): a loop guard, never reached."""


class RetiredOrders:
    def __init__(self, db: Engine) -> None:
        self.db = db

    def read(self, lookup: Lookup) -> RetiredOrder | None:
        what, key = lookup
        if what == "seq":
            records = read_order_records(self.db, created_seq=int(key))
            order_id = next((r.order_id for r in records if r.seq == key), "")
        else:
            order_id = str(key)
            records = read_order_records(self.db, order_id=order_id)
        return rebuild_order(records, order_id) if records else None

    async def answer(self, call: Callable[[Resolved], T], need: RetiredOrderNeeded) -> T:
        """``call(resolved)`` again once ``need`` is read, until it needs no other retired order. A journal that
        cannot be read refuses the request with UNAVAILABLE (``JOURNAL_UNAVAILABLE``): the answer depends on it."""
        resolved: dict[Lookup, RetiredOrder | None] = {}
        while True:
            if need.lookup in resolved or len(resolved) >= MAX_LOOKUPS:
                raise RuntimeError(f"the engine asked for {need.lookup} again")
            try:
                resolved[need.lookup] = await asyncio.to_thread(self.read, need.lookup)
            except Exception as exc:  # any database error: the request cannot be answered now
                log.warning("routing: reading a retired order (%s) from the journal failed: %s", need.lookup, exc)
                raise unavailable(
                    "the journal could not be read for an order retired from memory; retry", "JOURNAL_UNAVAILABLE"
                ) from exc
            try:
                return call(resolved)
            except RetiredOrderNeeded as again:
                need = again
