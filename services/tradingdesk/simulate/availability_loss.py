"""Where a simulated day lost its availability: each market second of the measured session without an
acknowledged probe, put down to the fault whose window it falls in, or to none.

An availability figure alone says how much was lost, not why; an SRE reading a failed day needs to know whether
the seconds went to a restart, a database outage, or a desk too slow outside any fault. A fault's window runs
from its first change in ``faults.jsonl`` to its last (a line disabled until enabled again, a venue fault until
``none``, a database until it is up, a burst until it ends; a SIGKILL is an instant) and then ``recovery_wall_s``
more of wall time, times the replay's speed in market seconds: what the desk needs to be itself again. A second
inside several windows goes to the one that began last. Each fault's seconds are counted by what the probe got
in them (``UNAVAILABLE``, ``DEADLINE_EXCEEDED``, ...; ``NO_PROBE`` when none was sent).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from tradingdesk.core.clock import NS_PER_SECOND

RECOVERY_WALL_S = 5.0
"""Wall seconds after a fault's last change still put down to it: a restarted service's start, a client's
reconnect, a backlog drained."""
OUTSIDE = "outside every fault's window"
ENDINGS = ("line enabled", "ended", "database up", "node powered on")
NOT_APPLIED = ("skipped", "failed", "refused")


@dataclass(frozen=True, slots=True)
class FaultWindow:
    fault: str
    start_s: int
    end_s: int
    """Inclusive, market seconds."""


@dataclass
class Loss:
    seconds: int = 0
    codes: Counter[str] = field(default_factory=Counter)


def _ends(what: str) -> bool:
    return what in ENDINGS or what.endswith(" set to none") or what.endswith(" +0 ms off")


def fault_windows(events: Iterable[dict], *, recovery_s: float) -> list[FaultWindow]:
    """The windows of the faults in ``events`` (``faults.jsonl``), each ``recovery_s`` market seconds longer."""
    opened: dict[str, int] = {}
    spans: list[tuple[str, int, int]] = []
    for event in sorted(events, key=lambda e: e["market_ns"]):
        name, what, at = event["fault"], event["what"], event["market_ns"]
        if what.startswith(NOT_APPLIED):
            continue
        if _ends(what):
            if name in opened:
                spans.append((name, opened.pop(name), at))
            continue
        if name in opened:  # an instant fault (a SIGKILL) applied again: the earlier one was an instant too
            start = opened.pop(name)
            spans.append((name, start, start))
        opened[name] = at
    spans.extend((name, start, start) for name, start in opened.items())
    return sorted(
        (
            FaultWindow(name, start // NS_PER_SECOND, int((end + recovery_s * NS_PER_SECOND) // NS_PER_SECOND))
            for name, start, end in spans
        ),
        key=lambda w: w.start_s,
    )


def availability_losses(lost_s: Iterable[int], probes: Iterable[dict], windows: list[FaultWindow]) -> dict[str, Loss]:
    """``lost_s``: the market seconds measured without an acknowledged probe. By fault (and ``OUTSIDE``), in the
    order the faults began, those with no second left out."""
    codes: dict[int, str] = {}
    for probe in probes:
        if not probe["acked"]:
            codes.setdefault(probe["market_ns"] // NS_PER_SECOND, probe.get("code") or "UNKNOWN")
    out: dict[str, Loss] = {}
    for second in sorted(lost_s):
        owner = OUTSIDE
        for window in windows:  # by start: the last that holds the second began last
            if window.start_s > second:
                break
            if second <= window.end_s:
                owner = window.fault
        loss = out.setdefault(owner, Loss())
        loss.seconds += 1
        loss.codes[codes.get(second, "NO_PROBE")] += 1
    order = {w.fault: i for i, w in reversed(list(enumerate(windows)))}
    return dict(sorted(out.items(), key=lambda kv: order.get(kv[0], len(order))))


def describe(losses: dict[str, Loss], *, recovery_wall_s: float = RECOVERY_WALL_S) -> list[str]:
    """The report's lines: one per fault that cost seconds, then those outside every window."""
    if not losses:
        return []
    total = sum(loss.seconds for loss in losses.values())
    lines = [
        f"availability lost: {total} market second(s) without an acknowledged probe, by the fault whose window "
        f"(its changes plus {recovery_wall_s:g} wall seconds) they fall in:"
    ]
    for fault, loss in losses.items():
        codes = ", ".join(f"{code} {n}" for code, n in loss.codes.most_common())
        lines.append(f"  {fault}: {loss.seconds} s ({codes})")
    return lines
