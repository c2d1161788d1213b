"""Silent venues: smart routing stops sending new orders to a venue that has stopped answering.

A venue that takes orders and answers nothing (``VenueFaultMode.TIMEOUT`` on a simulated venue, a hung session on
a real one) is found by the venue-ack timeout (``oms/ack_timeout.py``): an order it left unacknowledged past
``routing.venueAckTimeoutMs``. Without this, smart routing kept choosing it for every order its prices won: each
such order sat PENDING_NEW for the timeout, then PENDING_CANCEL until the venue answered, and when it did, all its
held answers came at once (the simulated day's xnas timeout: 25,909 answers in one release, and 9 seconds of the
order API's availability while routing worked through them, docs/simulation.md).

From an order's ack timeout until the venue answers anything again (an acknowledgement, a fill, a reject, a
cancel's answer), the venue is *silent*: smart routing chooses among the other venues that trade the symbol.
Every ``RETRY_FACTOR`` ack timeouts it lets one order through to try the venue again (the circuit breaker's half
open): if the venue answers it, the venue is back; if not, that order's own timeout starts the next interval. An
order that names its venue goes there whatever its state (the client chose it), and when every venue that trades
a symbol is silent, the order goes where it would have gone without this: a silent venue may still fill it.

The state is routing's live view, not journaled: the venue each order was sent to is (``OrderPending.venue``), so
replay needs nothing from here. A restarted routing, or a standby that took over, starts with every venue
trusted and finds a silent one again by its next ack timeout.
"""

from __future__ import annotations

import logging

from tradingdesk.core.clock import NS_PER_SECOND

log = logging.getLogger(__name__)

RETRY_FACTOR = 5
"""Ack timeouts (in the desk's time) from one try of a silent venue to the next: with the default 2 s timeout, one
order every 10 s, so a venue back in service is back in the routing within about that, while one still silent
holds at most one new order per interval."""


class VenueSilence:
    """Which venues smart routing avoids for their silence, and when each may be tried again."""

    def __init__(self, *, ack_timeout_ms: int) -> None:
        self.retry_ns = RETRY_FACTOR * ack_timeout_ms * 1_000_000
        self.retry_at: dict[str, int] = {}
        """Silent venue -> the desk time from which one order may try it again."""

    def timed_out(self, venue: str, now_ns: int) -> None:
        """An order's ack timeout fired at ``venue``: silent from now, tried again after the interval."""
        if venue not in self.retry_at:
            log.warning(
                "routing: venue %s left a new order unacknowledged past the ack timeout; smart routing sends it "
                "nothing new until it answers again (one order every %g s tries it)",
                venue,
                self.retry_ns / NS_PER_SECOND,
            )
        self.retry_at[venue] = now_ns + self.retry_ns

    def answered(self, venue: str) -> None:
        """Any answer from ``venue``: it is back in the routing."""
        if self.retry_at.pop(venue, None) is not None:
            log.warning("routing: venue %s answers again; smart routing uses it again", venue)

    def avoided(self, now_ns: int) -> frozenset[str]:
        """The silent venues not due for a try at ``now_ns``: smart routing chooses among the others."""
        if not self.retry_at:
            return frozenset()
        return frozenset(venue for venue, at in self.retry_at.items() if now_ns < at)

    def sent(self, venue: str, now_ns: int) -> None:
        """Smart routing chose ``venue`` for an order at ``now_ns``: if it is silent, that order is its try, and the
        next waits another interval (the order's own ack timeout pushes it on again if the venue stays silent)."""
        if venue in self.retry_at:
            self.retry_at[venue] = now_ns + self.retry_ns

    def silent(self, venue: str) -> bool:
        return venue in self.retry_at
