"""Venue answers paced by the journal: routing takes the next one only while few records wait to be committed.

Every venue answer (acknowledgement, fill, cancel, reject, replace, restatement) becomes journal records, and a new
order is acknowledged only once its own record is durable, so once every record before it is (group commit in seq
order, ``storage/journal.py``). A venue that speaks again after a silence hands routing its whole backlog at once
(the simulated venue in ``timeout`` released about 6,000 answers in one turn of the loop in the day-35 runs; a
real venue's adapter would read as many off its connection just as fast): taken all at once they put thousands of
records, and thousands of execution reports, ahead of the next new order, and its acknowledgement waited for all
of them.

``PacedVenueListener`` is the venues' listener in routing, whatever the venue (the simulated one, a real adapter):
it hands each answer to the engine at once while at most ``max_backlog`` journal records wait to be committed, and
otherwise keeps it, and every answer after it, in arrival order, until commits bring the backlog down again (it
resumes from the commit's ``on_committed`` callback, one chunk per turn of the loop). A new order taken meanwhile is
journaled behind at most about ``max_backlog`` records, and its acknowledgement waits for one commit of that size,
not for the whole backlog. Nothing is reordered (answers reach the engine in the order the venues gave them, and
the journal numbers records in the order the engine makes them) and nothing is dropped; an answer kept here is
journaled later by the time the records ahead of it take to commit, which is what pacing means.

What is kept here is held in memory, like an answer still on its way from the venue: a routing process that stops
loses it as it would lose one in flight (the simulated venue's outbox dies with it too; a real adapter recovers
such messages by its session's resend). While the journal cannot commit at all (its database is down, no outage
spool), answers wait here instead of growing the journal's in-memory backlog towards ``JournalFull``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from tradingdesk.core.orders import Fill
from tradingdesk.storage.journal import Journal, JournalRecord
from tradingdesk.storage.journal_async import AsyncDurability
from tradingdesk.venues.base import VenueListener

log = logging.getLogger(__name__)

_Answer = tuple[Callable[..., None], tuple[Any, ...]]


class PacedVenueListener:
    """A ``VenueListener`` in front of the engine's: each answer reaches ``listener`` in arrival order, at once while
    the journal's backlog is at most ``max_backlog`` records, else once commits have brought it down."""

    def __init__(
        self, listener: VenueListener, *, journal: Journal, max_backlog: int, loop: asyncio.AbstractEventLoop
    ) -> None:
        if max_backlog < 1:
            raise ValueError("max_backlog must be >= 1")
        self._listener = listener
        self._journal = journal
        self._max_backlog = max_backlog
        self._loop = loop
        self._kept: deque[_Answer] = deque()
        self._drain_scheduled = False
        self.kept_total = 0
        """Answers that had to wait here (not handed on at once), since the start."""
        self.most_kept = 0
        """The most answers waiting here at once, since the start."""

    def follow(self, durability: AsyncDurability) -> Callable[[], None]:
        """Resume handing answers on after each commit; returns a function that stops it."""
        return durability.on_committed(self._committed)

    @property
    def kept(self) -> int:
        """Answers waiting here now."""
        return len(self._kept)

    # ---------------------------------------------------------------- VenueListener

    def on_venue_accepted(self, venue: str, order_id: str) -> None:
        self._take(self._listener.on_venue_accepted, (venue, order_id))

    def on_venue_rejected(self, venue: str, order_id: str, reason: str) -> None:
        self._take(self._listener.on_venue_rejected, (venue, order_id, reason))

    def on_venue_fill(self, fill: Fill) -> None:
        self._take(self._listener.on_venue_fill, (fill,))

    def on_venue_canceled(self, venue: str, order_id: str, reason: str) -> None:
        self._take(self._listener.on_venue_canceled, (venue, order_id, reason))

    def on_venue_cancel_rejected(self, venue: str, order_id: str, reason: str) -> None:
        self._take(self._listener.on_venue_cancel_rejected, (venue, order_id, reason))

    def on_venue_replaced(self, venue: str, old_order_id: str, new_order_id: str) -> None:
        self._take(self._listener.on_venue_replaced, (venue, old_order_id, new_order_id))

    def on_venue_replace_rejected(self, venue: str, old_order_id: str, reason: str) -> None:
        self._take(self._listener.on_venue_replace_rejected, (venue, old_order_id, reason))

    def on_venue_restated(self, venue: str, order_id: str, open_qty: int, reason: str) -> None:
        self._take(self._listener.on_venue_restated, (venue, order_id, open_qty, reason))

    # ---------------------------------------------------------------- pacing

    def _take(self, handler: Callable[..., None], args: tuple[Any, ...]) -> None:
        if not self._kept and self._journal.backlog <= self._max_backlog:
            handler(*args)
            return
        self._kept.append((handler, args))
        self.kept_total += 1
        if len(self._kept) > self.most_kept:
            self.most_kept = len(self._kept)
        if self._journal.backlog <= self._max_backlog:
            self._schedule_drain()  # kept only behind others: they go on in a turn of their own
        else:
            self._journal.wake()  # have the writer commit what this answer waits for now, not at its next sweep

    def _committed(self, _records: list[JournalRecord]) -> None:
        if self._kept:
            self._schedule_drain()

    def _schedule_drain(self) -> None:
        """Hand answers on in a turn of their own, never inside the commit callback that made room for them."""
        if not self._drain_scheduled:
            self._drain_scheduled = True
            self._loop.call_soon(self._drain)

    def _drain(self) -> None:
        self._drain_scheduled = False
        kept = self._kept
        journal = self._journal
        while kept and journal.backlog <= self._max_backlog:
            handler, args = kept.popleft()
            try:
                handler(*args)
            except Exception:  # as when a venue calls the engine directly: logged, and the answers after it go on
                log.exception("routing: a venue answer failed in %r", handler)
        if kept:
            journal.wake()


__all__ = ["PacedVenueListener"]
