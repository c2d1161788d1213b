"""SetVenueFault: an operator switches a fault on or off at one of routing's simulated venues.

The change is a journal event (``VenueFaultSet``) applied through the engine's one fan-out, so a restarted or
standby routing replica replays it and its venues are faulted the same way; a refused request is journaled like
a refused order request (``RequestRefused``), and the security layer audits every call as privileged.
"""

from __future__ import annotations

from collections.abc import Mapping

from tradingdesk.core.events import VenueFaultSet
from tradingdesk.core.reject import invalid, refused
from tradingdesk.v1 import orders_pb2
from tradingdesk.venues.faults import VenueFaultMode
from tradingdesk.venues.simulated import SimulatedVenue

REASON_MAX = 200
ACTOR_MAX = 128
MODES = {
    orders_pb2.VENUE_FAULT_MODE_NONE: VenueFaultMode.NONE,
    orders_pb2.VENUE_FAULT_MODE_REJECT_ALL: VenueFaultMode.REJECT_ALL,
    orders_pb2.VENUE_FAULT_MODE_AWAY: VenueFaultMode.AWAY,
    orders_pb2.VENUE_FAULT_MODE_TIMEOUT: VenueFaultMode.TIMEOUT,
}
MODE_NUMBERS = {mode: number for number, mode in MODES.items()}


class VenueFaults:
    """Validates requests into events and applies events (live and replayed) to the venues."""

    def __init__(self, venues: Mapping[str, object]) -> None:
        self.venues = venues
        self.since_ns: dict[str, int] = {}
        self.reasons: dict[str, str] = {}

    def event(self, request: orders_pb2.SetVenueFaultRequest, *, door: str, now_ns: int) -> VenueFaultSet:
        """The event a request asks for; a ``Reject`` naming the field when it cannot be done."""
        venue = self.venues.get(request.venue)
        if venue is None:
            raise invalid("venue", f"{request.venue!r} is not a venue of the desk ({', '.join(self.venues)})")
        if request.mode not in MODES:
            names = ", ".join(orders_pb2.VenueFaultMode.Name(n) for n in MODES)
            raise invalid("mode", f"{request.mode} is not a venue fault mode ({names})")
        if len(request.reason) > REASON_MAX:
            raise invalid("reason", f"at most {REASON_MAX} characters")
        if len(request.actor) > ACTOR_MAX:
            raise invalid("actor", f"at most {ACTOR_MAX} characters")
        if not isinstance(venue, SimulatedVenue):
            raise refused(f"venue {request.venue} is not a simulated venue: faults are for drills", "NOT_SIMULATED")
        return VenueFaultSet(
            ts_ns=now_ns,
            venue=request.venue,
            mode=MODES[request.mode].value,
            reason=request.reason,
            actor=request.actor,
            door=door,
        )

    def apply(self, event: object) -> None:
        """The fan-out's handler: live, replayed after a restart, and followed by a standby."""
        if type(event) is not VenueFaultSet:
            return
        venue = self.venues.get(event.venue)
        if isinstance(venue, SimulatedVenue):
            venue.fault = VenueFaultMode(event.mode)
            self.since_ns[event.venue] = event.ts_ns
            self.reasons[event.venue] = event.reason

    def message(self) -> orders_pb2.VenueFaults:
        return orders_pb2.VenueFaults(
            venues=[
                orders_pb2.VenueFault(
                    venue=name,
                    mode=MODE_NUMBERS[getattr(venue, "fault", VenueFaultMode.NONE)],
                    reason=self.reasons.get(name, ""),
                    since_ns=self.since_ns.get(name, 0),
                )
                for name, venue in self.venues.items()
            ]
        )
