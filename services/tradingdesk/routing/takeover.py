"""When this routing process took the journal over from an active replica that was gone.

A takeover is the one fault of routing that no other signal reports everywhere: on Kubernetes the standby that
takes over is a pod that was running all along (no restart), and the dead active pod is replaced by a new one (a
new series, not a restart). So routing says it itself, for the ``RoutingFailover`` alert: in
``GetRoutingStatus`` (``took_over_ns``, read by the monitoring service's own checks) and as the gauge
``tradingdesk_routing_took_over_timestamp_seconds`` (read by the Prometheus rule). Both stay 0 in a process that
was active from its start. The time is the wall clock's: the alert's window (15 minutes) is judged against the
wall clock, whatever the desk clock of a replayed day says.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

METRIC = "tradingdesk_routing_took_over_timestamp_seconds"


class Takeover:
    """The wall time this process took the journal over as a standby; 0 until it does (or if it never does)."""

    def __init__(self, *, wall_ns: Callable[[], int] = time.time_ns) -> None:
        self.wall_ns = wall_ns
        self.at_ns = 0

    def mark(self) -> None:
        """This standby holds the writer lock now and is about to serve."""
        self.at_ns = self.wall_ns()

    def observe(self, meter: metrics.Meter) -> None:
        """Export the time from the start (0 until a takeover), so the rule sees the series before it changes."""
        ref = weakref.ref(self)

        def callback(_: CallbackOptions) -> Iterable[Observation]:
            takeover = ref()
            return [] if takeover is None else [Observation(takeover.at_ns / 1e9)]

        meter.create_observable_gauge(
            METRIC,
            [callback],
            description="When this routing process took the journal over as a standby, its active replica gone "
            "(seconds since the epoch); 0 if it was active from its start.",
        )
