"""Venue answers paced by the journal: routing takes the next one only while few records wait to be committed.

Every venue answer (acknowledgement, fill, cancel, reject, replace, restatement) becomes journal records, and a new
order is acknowledged only once its own record is durable, so once every record before it is (group commit in seq
order, ``storage/journal.py``). A venue that speaks again after a silence hands routing its whole backlog at once
(the simulated venue in ``timeout`` released about 6,000 answers in one turn of the loop in the day-35 runs; a
real venue's adapter would read as many off its connection just as fast): taken all at once they put thousands of
records, and thousands of execution reports, ahead of the next new order, and its acknowledgement waited for all
of them.

``PacedVenueListener`` is the venues' listener in routing, whatever the venue (the simulated one, a real adapter):
it hands each answer to the engine at once while at most ``max_backlog`` journal records wait to be committed and
fewer than ``per_turn`` (``ANSWERS_PER_TURN``) answers went on in this turn of the event loop, and otherwise keeps
it, and every answer after it, in arrival order: the next turn takes the next ``per_turn`` of them, and once the
backlog is over the bound, the next commit's ``on_committed`` callback resumes. A new order taken meanwhile is read
within a turn of ``per_turn`` answers, journaled behind at most about ``max_backlog`` records, and acknowledged
after a commit or two of that size, not after the whole backlog. Nothing is reordered (answers reach the engine
in the order the venues gave them, and the journal numbers records in the order the engine makes them) and nothing
is dropped; an answer kept here is journaled later by the time the records ahead of it take to commit and the turns
before its own, which is what pacing means.

The bound alone would starve the answers whenever new orders by themselves keep the backlog over it (a session
client sending faster than the journal commits): every commit would find the backlog over the bound again, and
fills, cancels and acknowledgements would wait until the order flow stopped, with positions and the gate's view of
them out of date all that time; and the turn limit alone let 100 answers on in a turn while a session message
brought 1,000 new orders in the next. So the answers also get an equal share of the journal, whatever the backlog
and the turn: between two commits they may add as many records as everything else (new orders, client cancels)
added between the two commits before (what they did not use carried over while answers wait), and at least
``min(per_turn, max_backlog)``. Under a flood of new orders the answers keep pace with it (a venue answers each
order about once), and a new order waits behind at most about as many answer records as order records, never
behind a venue's whole backlog.

What is kept here is held in memory, like an answer still on its way from the venue: a routing process that stops
loses it as it would lose one in flight (the simulated venue's outbox dies with it too; a real adapter recovers
such messages by its session's resend). While the journal cannot commit at all (its database is down, no outage
spool), answers wait here instead of growing the journal's in-memory backlog towards ``JournalFull``.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import Counter, deque
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from tradingdesk.core.orders import Fill
from tradingdesk.storage.journal import Journal, JournalRecord
from tradingdesk.storage.journal_async import AsyncDurability
from tradingdesk.venues.base import VenueListener

log = logging.getLogger(__name__)

_Answer = tuple[Callable[..., None], tuple[Any, ...]]

ANSWERS_PER_TURN = 100
"""Answers handed to the engine in one turn of the event loop at most (about 4-8 ms of routing's CPU); then the loop
reads its sockets before the next ones. Without it a venue's whole backlog ran in one turn: about 14,000 answers,
0.4 s of CPU and 0.7-1.3 s of wall time on the loaded 2-core machine, in which no new order was even read."""


class PacedVenueListener:
    """A ``VenueListener`` in front of the engine's: each answer reaches ``listener`` in arrival order, at once while
    the journal's backlog is at most ``max_backlog`` records and fewer than ``per_turn`` answers went on in this turn
    of the loop, else in a later turn, once commits have brought the backlog down."""

    def __init__(
        self,
        listener: VenueListener,
        *,
        journal: Journal,
        max_backlog: int,
        loop: asyncio.AbstractEventLoop,
        per_turn: int = ANSWERS_PER_TURN,
    ) -> None:
        if max_backlog < 1 or per_turn < 1:
            raise ValueError("max_backlog and per_turn must be >= 1")
        self._listener = listener
        self._journal = journal
        self._max_backlog = max_backlog
        self._per_turn = per_turn
        self._loop = loop
        self._kept: deque[_Answer] = deque()
        self._kept_for: Counter[str] = Counter()
        """Order id -> answers about it waiting here (``holds_answer_for``)."""
        self._drain_scheduled = False
        self._this_turn = 0  # answers handed on at once in this turn of the loop
        self._least_share = min(per_turn, max_backlog)
        self._share = 0
        """Records the answers may add, whatever the backlog, until the next commit: what everything else added in
        the last interval between commits (at least ``_least_share``)."""
        self._mine = 0  # records the answers added since the last commit
        self._seq_at_commit = journal.last_seq()
        self.kept_total = 0
        """Answers that had to wait here (not handed on at once), since the start."""
        self.most_kept = 0
        """The most answers waiting here at once, since the start."""

    def observe(self, meter: metrics.Meter) -> None:
        """Report the answers waiting here and those that had to wait, so a pacer holding answers back shows."""
        ref = weakref.ref(self)

        def read(value: Callable[[PacedVenueListener], int]) -> list[Callable[..., Iterable[Observation]]]:
            def callback(_: CallbackOptions) -> Iterable[Observation]:
                pacer = ref()
                return [] if pacer is None else [Observation(value(pacer))]

            return [callback]

        meter.create_observable_gauge(
            "tradingdesk_venue_answers_waiting",
            read(lambda p: p.kept),
            description="Venue answers (acknowledgements, fills, cancels) received but held back by routing's pacer "
            "until the journal's backlog allows them (spec.routing.venueAnswersMaxBacklog).",
        )
        meter.create_observable_counter(
            "tradingdesk_venue_answers_paced",
            read(lambda p: p.kept_total),
            description="Venue answers that had to wait in routing's pacer rather than being taken at once.",
        )

    def follow(self, durability: AsyncDurability) -> Callable[[], None]:
        """Resume handing answers on after each commit; returns a function that stops it."""
        return durability.on_committed(self._committed)

    @property
    def kept(self) -> int:
        """Answers waiting here now."""
        return len(self._kept)

    def holds_answer_for(self, order_id: str) -> bool:
        """An answer about ``order_id`` waits here: the venue did answer, only routing has not taken it yet. The
        engine's venue-ack timeout asks before it cancels an order as unacknowledged (``oms/ack_timeout.py``):
        without it, answers kept past ``venueAckTimeoutMs`` (2 market seconds, 100 ms of wall time at 20x) had
        orders the venue had acknowledged cancelled as if it were silent."""
        return self._kept_for[order_id] > 0

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
        if not self._kept and (self._mine < self._share or self._within_bound(self._this_turn)):
            if not self._this_turn:
                self._loop.call_soon(self._turn_over)
            self._this_turn += 1
            self._hand_on(handler, args)
            return
        self._kept.append((handler, args))
        self._kept_for[_order_of(args)] += 1
        self.kept_total += 1
        if len(self._kept) > self.most_kept:
            self.most_kept = len(self._kept)
        if self._journal.backlog <= self._max_backlog:
            self._schedule_drain()  # kept only behind others: they go on in a turn of their own
        else:
            self._journal.wake()  # have the writer commit what this answer waits for now, not at its next sweep

    def _forget(self, args: tuple[Any, ...]) -> None:
        order_id = _order_of(args)
        left = self._kept_for[order_id] - 1
        if left > 0:
            self._kept_for[order_id] = left
        else:
            del self._kept_for[order_id]

    def _turn_over(self) -> None:
        self._this_turn = 0

    def _within_bound(self, this_turn: int) -> bool:
        """Fewer than ``per_turn`` answers went on in this turn and the backlog is at most ``max_backlog``."""
        return this_turn < self._per_turn and self._journal.backlog <= self._max_backlog

    def _hand_on(self, handler: Callable[..., None], args: tuple[Any, ...]) -> None:
        journal = self._journal
        before = journal.last_seq()
        try:
            handler(*args)
        finally:
            self._mine += journal.last_seq() - before

    def _committed(self, _records: list[JournalRecord]) -> None:
        last = self._journal.last_seq()
        others = last - self._seq_at_commit - self._mine
        # What the answers did not use is carried over while answers wait (several commits can be delivered in one
        # turn, before any drain), and dropped once none does: no credit piles up for a later burst to spend.
        unused = max(0, self._share - self._mine) if self._kept else 0
        self._share = max(self._least_share, others + unused)
        self._seq_at_commit = last
        self._mine = 0
        if self._kept:
            self._schedule_drain()

    def _schedule_drain(self) -> None:
        """Hand answers on in a turn of their own, never inside the commit callback that made room for them."""
        if not self._drain_scheduled:
            self._drain_scheduled = True
            self._loop.call_soon(self._drain)

    def _drain(self) -> None:
        """Kept answers, oldest first: the rest of the answers' share, and up to ``per_turn`` while the backlog is
        within the bound; then the next turn, or the next commit."""
        self._drain_scheduled = False
        kept = self._kept
        journal = self._journal
        handed = 0
        while kept and (self._mine < self._share or self._within_bound(handed)):
            handler, args = kept.popleft()
            self._forget(args)
            handed += 1
            try:
                self._hand_on(handler, args)
            except Exception:  # as when a venue calls the engine directly: logged, and the answers after it go on
                log.exception("routing: a venue answer failed in %r", handler)
        if not kept:
            return
        if journal.backlog <= self._max_backlog:
            self._schedule_drain()  # the loop reads its sockets first
        else:
            journal.wake()


def _order_of(args: tuple[Any, ...]) -> str:
    """The order an answer is about: a fill carries it, every other answer is ``(venue, order_id, ...)``."""
    first = args[0]
    return first.order_id if isinstance(first, Fill) else args[1]


__all__ = ["PacedVenueListener"]
