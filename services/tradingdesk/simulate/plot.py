"""The day on one page: order rate, probe latency and availability over market time, faults marked.

Drawn from the record alone: the routing journal's ``pending_new`` timestamps (orders the desk took), the
probe's log (``probes.jsonl``: one probe order per market second, acknowledged or not, and in how many ms)
and the injector's log (``faults.jsonl``). Three stacked panels share the time axis (market minutes from
the start of the measured window), cut into ``interval_s`` intervals:

* orders/s: journaled orders in the interval per wall second (its market length / the replay speed), so the
  panel reads in the same unit as ``--rate`` and the report's ``orders_per_s``;
* ack latency p50 and p99 (ms) of the probe orders acknowledged in the interval (blank when none was);
* availability: the share of the interval's market seconds in which a probe was acknowledged (the measure
  of the verdict's availability line, per interval).

Faults with a duration are shaded from their start to their end; instants (SIGKILL) are vertical lines; each
is labelled by its kind. matplotlib draws on its Agg canvas (a file: no display, no pyplot global state).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tradingdesk.core.clock import NS_PER_SECOND
from tradingdesk.simulate.detection import injected

PLOT_FILE = "day.png"
INTERVALS = 120
"""About this many intervals over the window, whatever its length (at least one second each)."""
FAULT_COLOURS = {"sigkill": "tab:red", "feed_line_down": "tab:orange", "venue_fault": "tab:purple", "burst": "tab:blue"}


@dataclass(frozen=True, slots=True)
class FaultSpan:
    kind: str
    start_min: float
    end_min: float  # == start_min for an instant


@dataclass(frozen=True, slots=True)
class DaySeries:
    """What the plot drew, interval by interval (``nan``: nothing to measure in that interval)."""

    interval_s: int
    start_min: list[float]
    orders_per_s: list[float]
    latency_p50_ms: list[float]
    latency_p99_ms: list[float]
    availability: list[float]
    faults: list[FaultSpan]


def _rank(values: list[float], q: float) -> float:
    """The nearest-rank ``q`` quantile; nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def fault_spans(events: list[dict], *, start_ns: int) -> list[FaultSpan]:
    """Each applied fault from its injection to the next event of the same fault (its end); an instant
    when nothing follows (SIGKILL), or until the window's end is unknown (then an instant too)."""
    out = []
    for i, event in enumerate(events):
        if not injected(event):
            continue
        end = next((e["market_ns"] for e in events[i + 1 :] if e["fault"] == event["fault"]), event["market_ns"])
        if event["kind"] == "sigkill":
            end = event["market_ns"]
        minutes = [(t - start_ns) / NS_PER_SECOND / 60 for t in (event["market_ns"], end)]
        out.append(FaultSpan(event["kind"], minutes[0], minutes[1]))
    return out


def day_series(
    *,
    order_ns: list[int],
    probes: list[dict],
    faults: list[dict],
    window: tuple[int, int],
    speed: float,
    intervals: int = INTERVALS,
) -> DaySeries:
    """``speed``: market seconds per wall second (the replay speed)."""
    start_ns, end_ns = window
    seconds = max(1, (end_ns - start_ns) // NS_PER_SECOND)
    step = max(1, math.ceil(seconds / intervals))
    count = math.ceil(seconds / step)
    orders = [0] * count
    for ts in order_ns:
        i = (ts - start_ns) // NS_PER_SECOND // step
        if 0 <= i < count:
            orders[i] += 1
    latencies: list[list[float]] = [[] for _ in range(count)]
    acked_seconds: list[set[int]] = [set() for _ in range(count)]
    for probe in probes:
        second = (probe["market_ns"] - start_ns) // NS_PER_SECOND
        i = second // step
        if not (0 <= i < count and probe["acked"]):
            continue
        acked_seconds[i].add(second)
        if probe["ms"] is not None:
            latencies[i].append(probe["ms"])
    lengths = [min(step, seconds - i * step) for i in range(count)]  # the last interval may be shorter
    return DaySeries(
        interval_s=step,
        start_min=[i * step / 60 for i in range(count)],
        orders_per_s=[n * speed / length for n, length in zip(orders, lengths, strict=True)],
        latency_p50_ms=[_rank(x, 0.5) for x in latencies],
        latency_p99_ms=[_rank(x, 0.99) for x in latencies],
        availability=[len(s) / length for s, length in zip(acked_seconds, lengths, strict=True)],
        faults=fault_spans(faults, start_ns=start_ns),
    )


def draw(series: DaySeries, path: Path, *, title: str) -> None:
    """The three panels into a PNG at ``path``."""
    fig = Figure(figsize=(12, 8), dpi=100)
    FigureCanvasAgg(fig)
    rate, latency, available = fig.subplots(3, 1, sharex=True)
    x = series.start_min
    rate.step(x, series.orders_per_s, where="post", color="black", label="orders/s, wall time (journal)")
    rate.set_ylabel("orders/s")
    latency.step(x, series.latency_p50_ms, where="post", label="probe ack p50")
    latency.step(x, series.latency_p99_ms, where="post", label="probe ack p99")
    latency.set_ylabel("ack latency (ms)")
    available.step(x, series.availability, where="post", color="green", label="probes acked")
    available.set_ylabel("availability")
    available.set_ylim(-0.05, 1.05)
    available.set_xlabel(f"market minutes from the start ({series.interval_s}s intervals)")
    labelled: set[str] = set()
    for span in series.faults:
        colour = FAULT_COLOURS.get(span.kind, "tab:gray")
        label = None if span.kind in labelled else span.kind
        labelled.add(span.kind)
        for panel in (rate, latency, available):
            if span.end_min > span.start_min:
                panel.axvspan(span.start_min, span.end_min, color=colour, alpha=0.15, label=label)
            else:
                panel.axvline(span.start_min, color=colour, linestyle="--", label=label)
            label = None  # one legend entry per kind, in the top panel
    for panel in (rate, latency, available):
        panel.legend(loc="upper right", fontsize="small")
        panel.grid(alpha=0.3)
    rate.set_title(title)
    fig.tight_layout()
    fig.savefig(path, format="png")
