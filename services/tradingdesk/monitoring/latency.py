"""Order latency percentiles for the dashboard, read from routing's own /metrics histograms.

A refresh scrapes routing at most every ``scrape_every_s`` (5 s; over HTTPS with monitoring's own certificate
when the desk's TLS is on: routing's /metrics admits the desk's services), keeps the cumulative bucket counts,
and answers percentiles over the last ``window_s`` from the difference with the oldest sample still inside the
window, interpolating within a bucket as Prometheus' ``histogram_quantile`` does. No Prometheus server is
needed for it. Not at every status refresh: rendering routing's whole /metrics page takes routing's CPU (and
its GIL) away from orders, and a percentile over a minute moves little in a second; scraping every second cost
the order session rate about a tenth (``python -m bench.monitoring_bench``).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tradingdesk.security.channels import ClientCredentials
from tradingdesk.security.tls import TlsFiles
from tradingdesk.v1 import monitoring_pb2

HANDLING = "grpc_server_handling_seconds"
# (label shown, metric, label selector) of each latency the dashboard shows.
SERIES = (("SubmitOrder", HANDLING, {"grpc_method": "SubmitOrder"}),)


@dataclass(frozen=True, slots=True)
class Buckets:
    bounds: tuple[float, ...]
    counts: tuple[float, ...]
    """Cumulative counts per bound (the last bound is +Inf)."""


def parse_histograms(text: str) -> dict[str, Buckets]:
    """The histograms of ``SERIES`` in a Prometheus text page, summed over the labels not selected."""
    wanted: dict[str, dict[float, float]] = {name: {} for name, _, _ in SERIES}
    for family in text_string_to_metric_families(text):
        for label, metric, selector in SERIES:
            if family.name != metric:
                continue
            for sample in family.samples:
                if not sample.name.endswith("_bucket"):
                    continue
                if any(sample.labels.get(k) != v for k, v in selector.items()):
                    continue
                bound = float(sample.labels["le"])
                wanted[label][bound] = wanted[label].get(bound, 0.0) + sample.value
    out = {}
    for label, per_bound in wanted.items():
        if per_bound:
            bounds = tuple(sorted(per_bound))
            out[label] = Buckets(bounds, tuple(per_bound[b] for b in bounds))
    return out


def quantile(q: float, bounds: tuple[float, ...], counts: tuple[float, ...]) -> float:
    """``histogram_quantile`` over cumulative ``counts``; NaN without observations."""
    total = counts[-1] if counts else 0.0
    if total <= 0:
        return math.nan
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in zip(bounds, counts, strict=True):
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # beyond the last finite bound: the best known is that bound
            width = count - lower_count
            return lower_bound + (bound - lower_bound) * ((rank - lower_count) / width if width else 1.0)
        lower_bound, lower_count = bound, count
    return lower_bound


class LatencyWindow:
    """Samples of routing's histograms over time, and percentiles of the last ``window_s``."""

    def __init__(
        self, url: str | None, *, window_s: int = 60, scrape_every_s: float = 5.0, tls: TlsFiles | None = None
    ) -> None:
        self.url = url
        self.window_s = window_s
        self.scrape_every_s = scrape_every_s
        self.tls = tls
        """The certificate monitoring scrapes with (None: plaintext, or the caller's client)."""
        self._samples: deque[tuple[float, dict[str, Buckets]]] = deque()
        self._client: tuple[tuple[int, ...], httpx.AsyncClient] | None = None

    def add(self, at_s: float, histograms: dict[str, Buckets]) -> None:
        self._samples.append((at_s, histograms))
        while len(self._samples) > 1 and self._samples[1][0] <= at_s - self.window_s:
            self._samples.popleft()

    def summaries(self) -> list[monitoring_pb2.LatencySummary]:
        if not self._samples:
            return []
        (first_s, first), (last_s, last) = self._samples[0], self._samples[-1]
        out = []
        for label, _, _ in SERIES:
            now = last.get(label)
            if now is None:
                continue
            then = first.get(label) if first is not last else None
            base = then.counts if then is not None and then.bounds == now.bounds else (0.0,) * len(now.counts)
            if then is not None and any(b > n for b, n in zip(base, now.counts, strict=True)):
                base = (0.0,) * len(now.counts)  # routing restarted: its counters began again
            counts = tuple(n - b for n, b in zip(now.counts, base, strict=True))
            p50, p99 = quantile(0.5, now.bounds, counts), quantile(0.99, now.bounds, counts)
            out.append(
                monitoring_pb2.LatencySummary(
                    name=label,
                    p50_ms=0.0 if math.isnan(p50) else p50 * 1000,
                    p99_ms=0.0 if math.isnan(p99) else p99 * 1000,
                    count=int(counts[-1]) if counts else 0,
                    window_s=round(last_s - first_s) if then is not None else 0,
                )
            )
        return out

    async def _tls_client(self, tls: TlsFiles) -> httpx.AsyncClient:
        """A client with the current certificate files: made again when they are renewed."""
        stamp = tls.stamp()
        if self._client is None or self._client[0] != stamp:
            await self.aclose()
            context = ClientCredentials.from_files(tls).ssl_context()
            self._client = (stamp, httpx.AsyncClient(verify=context))
        return self._client[1]

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client[1].aclose()
            self._client = None

    async def refresh(self, client: httpx.AsyncClient, at_s: float) -> None:
        if self.url is None or (self._samples and at_s - self._samples[-1][0] < self.scrape_every_s):
            return
        if self.tls is not None:
            client = await self._tls_client(self.tls)
        resp = await client.get(self.url, timeout=2.0)
        resp.raise_for_status()
        self.add(at_s, parse_histograms(resp.text))
