"""The order journal's metrics: commit latency and batch sizes (recorded once per group commit), and its
position, backlog and health (observed when /metrics is scraped).

Registered by every ``Journal``; the callbacks hold the journal weakly, so a closed journal stops reporting.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from tradingdesk.spec.monitoring import LATENCY_BUCKETS_S

if TYPE_CHECKING:
    from tradingdesk.storage.journal import Journal

BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000)


class JournalMetrics:
    def __init__(self, journal: Journal, meter: metrics.Meter | None = None) -> None:
        meter = meter or metrics.get_meter("tradingdesk.storage")
        ref = weakref.ref(journal)
        self.commit_duration = meter.create_histogram(
            "tradingdesk_journal_commit_duration",
            unit="s",
            description="Time to write and commit one group-commit batch (one fsync).",
            explicit_bucket_boundaries_advisory=LATENCY_BUCKETS_S,
        )
        self.batch_records = meter.create_histogram(
            "tradingdesk_journal_batch_records",
            description="Records committed together in one group commit.",
            explicit_bucket_boundaries_advisory=BATCH_BUCKETS,
        )

        def observe(read):
            def callback(_: CallbackOptions) -> Iterable[Observation]:
                j = ref()
                return [] if j is None else [Observation(read(j))]

            return [callback]

        gauge = meter.create_observable_gauge
        gauge("tradingdesk_journal_last_seq", observe(lambda j: j.last_seq()), description="Last seq assigned.")
        gauge("tradingdesk_journal_durable_seq", observe(lambda j: j.durable_seq), description="Last seq committed.")
        gauge(
            "tradingdesk_journal_backlog_records",
            observe(lambda j: j.backlog),
            description="Records appended and not yet durable.",
        )
        gauge(
            "tradingdesk_journal_healthy",
            observe(lambda j: int(j.healthy)),
            description="0 while the journal cannot write (it keeps retrying).",
        )
        counter = meter.create_observable_counter
        counter("tradingdesk_journal_commits", observe(lambda j: j.stats.commits), description="Group commits.")
        counter("tradingdesk_journal_records", observe(lambda j: j.stats.records), description="Records committed.")
        counter(
            "tradingdesk_journal_write_failures",
            observe(lambda j: j.stats.write_failures),
            description="Failed write attempts (each is retried).",
        )

    def committed(self, records: int, seconds: float) -> None:
        self.commit_duration.record(seconds)
        self.batch_records.record(records)
