"""Latency histograms for the hottest paths (every order, every gRPC call), exported on the process's /metrics.

Why not an OpenTelemetry ``Histogram``: its ``record`` builds a measurement, hashes the attributes and takes a
lock on every call, 5-7 us of Python (``python -m bench.monitoring_bench`` showed metrics costing the order
session about 15%, most of it in those records). Here a series is bound once per label set and a record is a
``bisect`` and two additions on the event loop's thread (about 0.4 us). Everything else the desk measures
still goes through the OpenTelemetry SDK; these histograms sit in the same Prometheus registry beside it, with
the names, labels and buckets the exporter would have given them (``<name>_seconds_bucket{le=...}``,
``_sum``, ``_count``).

Reads come from the scrape thread while the loop records: a series' counts are copied in one step (atomic under
the GIL) and ``_count`` is taken from that copy, so ``+Inf`` and ``_count`` always agree; ``_sum`` may lag a
record behind, which Prometheus' rate() cannot see.
"""

from __future__ import annotations

import weakref
from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString


class Series:
    """One label set's buckets: ``counts[i]`` observations fell in (bounds[i-1], bounds[i]], the last in +Inf."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def record(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value


class LatencyHistogram:
    """A Prometheus histogram of durations in seconds, its label sets bound once (``series``) and reused."""

    def __init__(
        self, name: str, *, description: str, buckets: Sequence[float], label_names: Sequence[str] = ()
    ) -> None:
        self._check_name(name)
        self.name = name
        self.description = description
        self.bounds = tuple(sorted(float(b) for b in buckets))
        self.label_names = tuple(label_names)
        self._series: dict[tuple[str, ...], Series] = {}

    def _check_name(self, name: str) -> None:
        if not name.endswith("_seconds"):
            raise ValueError(f"{name}: a duration histogram's name ends in _seconds")

    def series(self, *label_values: str) -> Series:
        """The series of these label values (in ``label_names`` order), made on first use."""
        found = self._series.get(label_values)
        if found is None:
            if len(label_values) != len(self.label_names):
                raise ValueError(f"{self.name}: labels {self.label_names}, got values {label_values}")
            found = self._series[label_values] = Series(self.bounds)
        return found

    def record(self, value: float, *label_values: str) -> None:
        """One observation; a hot path keeps the ``series`` instead and records on it."""
        self.series(*label_values).record(value)

    # -- prometheus_client's collector protocol ------------------------------------------------------------------
    def describe(self) -> list[Metric]:
        return [HistogramMetricFamily(self.name, self.description, labels=self.label_names)]

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.description, labels=self.label_names)
        les = [floatToGoString(b) for b in self.bounds] + ["+Inf"]
        for values, series in list(self._series.items()):
            counts, total = list(series.counts), series.total
            cumulative, buckets = 0, []
            for le, count in zip(les, counts, strict=True):
                cumulative += count
                buckets.append((le, cumulative))
            family.add_metric(list(values), buckets, total)
        yield family


class CountHistogram(LatencyHistogram):
    """A histogram of counts (records, messages) on the same cheap path; its name carries no unit."""

    def _check_name(self, name: str) -> None:
        if name.endswith("_seconds"):
            raise ValueError(f"{name}: a count histogram's name has no _seconds")


def latency_histogram(
    registry: CollectorRegistry | None,
    name: str,
    *,
    description: str,
    buckets: Sequence[float],
    label_names: Sequence[str] = (),
    counts: bool = False,
) -> LatencyHistogram:
    """A histogram registered in ``registry`` (a process's /metrics), or recording for nobody when metrics are
    off (``None``): the hot path stays the same either way. Asked again for a name it already holds (a service
    built twice in one process), the registry's histogram is returned, as an OpenTelemetry meter would.
    ``counts``: of counts, not durations (``CountHistogram``)."""
    kind = CountHistogram if counts else LatencyHistogram
    if registry is None:
        return kind(name, description=description, buckets=buckets, label_names=label_names)
    held = _registered.setdefault(registry, {})
    found = held.get(name)
    if found is None:
        found = held[name] = kind(name, description=description, buckets=buckets, label_names=label_names)
        registry.register(found)
    elif found.label_names != tuple(label_names) or found.bounds != tuple(sorted(float(b) for b in buckets)):
        raise ValueError(f"{name}: registered already with other labels or buckets")
    return found


_registered: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, LatencyHistogram]] = weakref.WeakKeyDictionary()
