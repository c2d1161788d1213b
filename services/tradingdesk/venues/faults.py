"""Faults a simulated venue can be switched into while the desk runs, for fault drills and simulation.

A real exchange fails in a few recognisable ways; these are the ones the OMS and the router must survive:
- ``REJECT_ALL``: the venue is up but rejects every new order (and replacement), each with a reason.
- ``AWAY``: the venue is disconnected. The router sends new orders elsewhere where another venue trades the
  symbol; an order that can only go there is refused (``venue_away``). Orders already resting stay at the
  venue; cancels and replaces of them are rejected until it is back, and a kill switch's mass cancel does not
  reach them either (routing cancels them when the venue is back).
A venue that stops answering (acknowledgements never come) is not built: the OMS has no venue-silence timeout
yet, so its orders would stay PENDING_NEW for ever.
"""

from __future__ import annotations

from enum import Enum


class VenueFaultMode(Enum):
    NONE = "none"
    REJECT_ALL = "reject_all"
    AWAY = "away"


def fault_reason(venue: str, mode: VenueFaultMode) -> str:
    """What the OMS hears back from a faulted venue."""
    if mode is VenueFaultMode.REJECT_ALL:
        return f"venue {venue} rejects every order (venue fault)"
    return f"venue {venue} is away (disconnected)"
