"""Which service's clock runs off, from the clock readings the health probe takes (``edge/clock_reading.py``).

The reference is the desk's consensus, not the monitoring service's own clock: the median of every reading
(monitoring's own included, at 0). With five services one skewed clock, monitoring's included, stands out
against the four that agree. Each skew counts only what lies beyond the uncertainty of the two readings it
compares (half the round trip of each read: the service's and that of the reading the median fell on), so a
slow answer on a busy host is never taken for a skewed clock, whether it is the service's or the reference's.
A fast, exact reading measured against a slow median reading was once: a false ClockSkew of compliance while
the other services answered slowly under load (a simulation with a database outage).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from statistics import median_low

from tradingdesk.v1 import monitoring_pb2


@dataclass(frozen=True, slots=True)
class Skew:
    service: str
    skew_ns: int
    """How far its clock is off the consensus beyond the measurement's uncertainty, signed (+: ahead)."""


def clock_skews(services: Iterable[monitoring_pb2.ServiceHealth]) -> list[Skew]:
    """The skew of every service whose clock was read; none when fewer than two were (no consensus)."""
    read = [s for s in services if s.clock_read]
    if len(read) < 2:
        return []
    middle = median_low(s.clock_offset_ns for s in read)
    reference = min((s for s in read if s.clock_offset_ns == middle), key=lambda s: s.clock_uncertainty_ns)
    out = []
    for s in read:
        off = s.clock_offset_ns - reference.clock_offset_ns
        uncertainty = s.clock_uncertainty_ns + (0 if s is reference else reference.clock_uncertainty_ns)
        beyond = max(0, abs(off) - uncertainty)
        out.append(Skew(s.service, beyond if off >= 0 else -beyond))
    return out
