"""The compliance service's metrics: how far its audit mirror trails the routing journal.

``tradingdesk_journal_last_seq`` (routing) minus ``tradingdesk_compliance_mirrored_seq`` is the lag in records,
which the ComplianceLagging alert watches; the delay histogram says how old events are when they are stored.
``tradingdesk_audit_seal_failures_total{reason}`` counts failed attempts to seal audit segments into the bucket
(AuditSealFailing); every reason starts at 0, so the first failure is an increase Prometheus can see.
"""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry import metrics
from opentelemetry.metrics import Observation

from tradingdesk.compliance.trail import SEAL_FAILURE_REASONS
from tradingdesk.spec.monitoring import LATENCY_BUCKETS_S


class ComplianceMetrics:
    def __init__(
        self,
        *,
        mirrored_seq: Callable[[], int],
        connected: Callable[[], bool],
        meter: metrics.Meter | None = None,
    ) -> None:
        meter = meter or metrics.get_meter("tradingdesk.compliance")

        def observe(read: Callable[[], int]):
            return [lambda _: [Observation(read())]]

        meter.create_observable_gauge(
            "tradingdesk_compliance_mirrored_seq",
            observe(mirrored_seq),
            description="Last routing journal seq stored in the audit mirror.",
        )
        meter.create_observable_gauge(
            "tradingdesk_compliance_journal_connected",
            observe(lambda: int(connected())),
            description="1 while compliance reads the routing journal stream.",
        )
        self.delay = meter.create_histogram(
            "tradingdesk_compliance_mirror_delay",
            unit="s",
            description="Age of a journal event when compliance stored it (the last of each stored batch).",
            explicit_bucket_boundaries_advisory=LATENCY_BUCKETS_S,
        )
        self.stored = meter.create_counter(
            "tradingdesk_compliance_records_stored", description="Journal records stored in the audit mirror."
        )
        self.seal_failures = meter.create_counter(
            "tradingdesk_audit_seal_failures",
            description="Failed attempts to seal an audit segment into the bucket (or to cut one), by reason.",
        )
        for reason in SEAL_FAILURE_REASONS:
            self.seal_failures.add(0, {"reason": reason})

    def batch_stored(self, *, records: int, last_ts_ns: int, now_ns: int) -> None:
        self.stored.add(records)
        self.delay.record(max(0, now_ns - last_ts_ns) / 1e9)

    def seal_failed(self, reason: str) -> None:
        self.seal_failures.add(1, {"reason": reason})
