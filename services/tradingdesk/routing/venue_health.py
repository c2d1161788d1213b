"""Routing's view of its venues and its journal, for ``GetRoutingStatus`` and the desk's venue metrics.

A venue that is away, one that rejects everything, one that stops answering and a journal that cannot write
are each a fault an SRE must hear about within seconds (docs/runbooks/venue-fault.md, journal.md). The
monitoring service reads this status every health-check interval and judges the alerts from it; Prometheus
judges the same alerts from the metrics registered here. Counts come from the engine's live events only, so
replaying the journal after a restart counts nothing twice.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from tradingdesk.core.events import OrderRejected, VenueAckTimedOut
from tradingdesk.routing.venue_faults import MODE_NUMBERS
from tradingdesk.v1 import orders_pb2
from tradingdesk.venues.faults import VenueFaultMode

if TYPE_CHECKING:
    from tradingdesk.oms.engine import OrderEngine
    from tradingdesk.storage.journal import Journal

ERROR_MAX = 300


class VenueHealth:
    """Counts each venue's rejects and acknowledgement timeouts, and answers the routing status."""

    def __init__(self, engine: OrderEngine, journal: Journal, *, meter: metrics.Meter | None = None) -> None:
        self.venues: Mapping[str, object] = engine.venues
        self.silence = engine.silence
        self.journal = journal
        self.rejects: dict[str, int] = dict.fromkeys(engine.venues, 0)
        self.ack_timeouts: dict[str, int] = dict.fromkeys(engine.venues, 0)
        meter = meter or metrics.get_meter("tradingdesk.routing")
        ref = weakref.ref(self)

        def per_venue(read) -> list:
            def callback(_: CallbackOptions) -> Iterable[Observation]:
                health = ref()
                if health is None:
                    return []
                return [Observation(read(health, name), {"venue": name}) for name in health.venues]

            return [callback]

        meter.create_observable_gauge(
            "tradingdesk_venue_connected",
            per_venue(lambda h, name: int(h.connected(name))),
            description="1 while the venue is connected, 0 while it is away (nothing new is sent there), by venue.",
        )
        meter.create_observable_gauge(
            "tradingdesk_venue_silent",
            per_venue(lambda h, name: int(h.silence.silent(name))),
            description="1 from a new order's ack timeout at the venue until it answers again (smart routing sends "
            "it nothing new meanwhile but one order every 5 ack timeouts, to try it), by venue.",
        )
        meter.create_observable_counter(
            "tradingdesk_venue_rejects",
            per_venue(lambda h, name: h.rejects[name]),
            description="New orders the venue rejected, by venue.",
        )
        # each venue's series from 0 (the callback reports every venue), so the alert's increase() sees the first
        meter.create_observable_counter(
            "tradingdesk_venue_ack_timeouts",
            per_venue(lambda h, name: h.ack_timeouts[name]),
            description="New orders cancelled because their venue did not acknowledge them within "
            "routing.venueAckTimeoutMs, by venue.",
        )
        engine.bus.subscribe(self.on_event, replayed=False)

    def connected(self, venue: str) -> bool:
        return bool(getattr(self.venues[venue], "connected", True))

    def on_event(self, event: object) -> None:
        kind = type(event)
        if kind is OrderRejected:
            self.rejects[event.venue] = self.rejects.get(event.venue, 0) + 1  # type: ignore[attr-defined]
        elif kind is VenueAckTimedOut:
            self.ack_timeouts[event.venue] = self.ack_timeouts.get(event.venue, 0) + 1  # type: ignore[attr-defined]

    def message(self) -> orders_pb2.RoutingStatus:
        journal = self.journal
        error = journal.last_error
        return orders_pb2.RoutingStatus(
            venues=[
                orders_pb2.VenueStatus(
                    venue=name,
                    connected=self.connected(name),
                    fault=MODE_NUMBERS[getattr(venue, "fault", VenueFaultMode.NONE)],
                    rejects=self.rejects.get(name, 0),
                    ack_timeouts=self.ack_timeouts.get(name, 0),
                    silent=self.silence.silent(name),
                )
                for name, venue in self.venues.items()
            ],
            journal=orders_pb2.JournalHealth(
                writable=journal.healthy,
                error="" if journal.healthy or error is None else _journal_error(journal.spooling, error),
                backlog_records=journal.backlog,
                write_failures=journal.stats.write_failures,
            ),
        )


def _journal_error(spooling: bool, error: BaseException) -> str:
    """Why the journal cannot write, and whether orders are acknowledged meanwhile (``spec.routing.outageSpool``)."""
    text = str(error)
    if spooling:
        text = f"orders acknowledged from the outage spool meanwhile; {text}"
    return text[:ERROR_MAX]
