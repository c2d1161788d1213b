"""Faults a simulated venue can be switched into while the desk runs, for fault drills and simulation.

A real exchange fails in a few recognisable ways; these are the ones the OMS and the router must survive:
- ``REJECT_ALL``: the venue is up but rejects every new order (and replacement), each with a reason.
- ``AWAY``: the venue is disconnected. The router sends new orders elsewhere where another venue trades the
  symbol; an order that can only go there is refused (``venue_away``). Orders already resting stay at the
  venue; cancels and replaces of them are rejected until it is back, and a kill switch's mass cancel does not
  reach them either (routing cancels them when the venue is back).
- ``TIMEOUT``: the venue is silent. It takes every message (new orders rest and trade, cancels and replaces
  are carried out) but no answer leaves it (no acknowledgement, fill, cancel or reject) while the fault lasts;
  when it leaves ``TIMEOUT`` (cleared, or switched to another mode), everything it held back arrives at once,
  in order: the late answers. The OMS's
  venue-silence timeout (``routing.venueAckTimeoutMs``, ``oms/ack_timeout.py``) takes the unacknowledged orders
  out of the market meanwhile.
"""

from __future__ import annotations

from enum import Enum


class VenueFaultMode(Enum):
    NONE = "none"
    REJECT_ALL = "reject_all"
    AWAY = "away"
    TIMEOUT = "timeout"


def fault_reason(venue: str, mode: VenueFaultMode) -> str:
    """What the OMS hears back from a faulted venue."""
    if mode is VenueFaultMode.REJECT_ALL:
        return f"venue {venue} rejects every order (venue fault)"
    return f"venue {venue} is away (disconnected)"
