"""Two verdict lines on market data, judged from the desk's own record of it: the market tape the compliance
service keeps (``storage/conduct_store.py``: every trade and every change of a symbol's best bid and offer, each
stamped with the desk's clock when the desk received it, the same stream routing's risk gate takes its reference
prices from) set against routing's journal and the run's ``faults.jsonl``.

* ``accepted_against_stale_data``: orders accepted against a stale reference price, by two pieces of evidence, each
  enough to fail an order:

  1. the order's own ``pending_new`` record: its ``reference_ns`` is the time, on the desk's clock, at which the
     feeds service took in the market data the risk gate checked the reference price against (``desk_time_ns`` of
     the event, carried through routing untouched). The order is stale when its record is timed more than
     ``spec.risk.referenceMaxAgeMs`` after it (the gate refuses ``age > max``, so exactly the bound is fresh), or
     when it has none (no evidence: the line errs towards failing). Exact, no slack: the gate ages a reference
     from that very stamp (or from routing's read of it, when that is earlier), so a gate that keeps its rule
     never fails this, and one that reads market data late, as routing did on a loaded machine (up to 140 market
     seconds behind, stamping its own receipt), fails it for every order it took against old data. Judged for
     every order, with or without a tape.
  2. the tape: the order is stale when its record is timed more than the bound (plus ``RECEIPT_SLACK_S``, below)
     after the last market event of its symbol on the tape (or with none): a reference the market data does not
     back. The tape is stamped with the same feeds receipt as the gate's references, so a compliance that reads
     late no longer makes the market look older than the gate saw it (the day's one order so counted,
     sim2449bbf7-s-138237, was read by compliance over 25 market seconds late). Orders while the tape's recorder
     was down (a SIGKILL of compliance, until the tape resumed and one reference age after) are not judged by
     it: the tape cannot tell.
* ``market_data_gaps_past_recovery``: the intervals of the measured window in which the tape has no market event of
  any symbol for longer than the recovery bound, the largest ``staleAfterMs`` of the desk's feeds (past it the desk
  calls the data stale) plus ``RECEIPT_SLACK_S``, except where the fault schedule took the data away: every line of
  every feed disabled (from the last line down to the first back, plus the bound), or a SIGKILL of feeds or of
  compliance (the gap that holds the kill, or one that starts within the bound after it: events in flight when
  feeds died still reach the tape a moment later; the restart's own length is the supervisor's, measured
  elsewhere).

The tape is desk-wide and not per feed line: the desk's feeds arbitrate lines and feeds, so market data is gone
only when every source is; a symbol that is merely quiet is the stale line's business, not a gap. The tape keeps a
quote only when the top of the book changed, so it may show a reference older than the gate's (a quote with the
same top refreshes the gate): that thinning can only make a reference look older than the gate saw it. A step of
the machine's own clock moves every service's time alike, and the market seconds a forward step skipped do not
count in a gap (``simulate.clock_steps`` measures the steps). A clock skew of routing or compliance alone (the
schedule's ``clock_skew``) is not corrected for: a step of the recorder's clock ahead by more than the bound would
read as a gap (not yet handled).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tradingdesk.core.clock import NS_PER_MS, NS_PER_SECOND

FOREVER_NS = 2**63 - 1
LINE_DISABLED = "line disabled"
LINE_ENABLED = "line enabled"
KILLED = "killed"
NODE_OFF = "node powered off"
RECORDER = "compliance"
"""The service that records the tape: while it is down, nothing is recorded."""
DATA_SERVICES = ("feeds", RECORDER)
RECEIPT_SLACK_S = 1
"""Wall seconds of tolerance for the tape's evidence (the order's own ``reference_ns`` is judged without any): the
tape and the gate's references are both stamped with the feeds service's receipt of an event, but a reader whose
clock is behind feeds' stamps its own receipt instead (``feeds.messages.data_time``), and a gap in market data is
judged against the feeds' stale bound. As the ack-timeout line's slack, it is wall time, so the bounds grow with the
replay's speed."""


@dataclass(frozen=True, slots=True)
class Outage:
    """Market data taken away by the fault schedule from ``start_ns`` to ``end_ns`` (``None``: until it came
    back, a killed service's restart)."""

    start_ns: int
    end_ns: int | None


@dataclass
class Findings:
    stale_orders: list[str] = field(default_factory=list)
    gaps: list[tuple[int, int]] = field(default_factory=list)
    """Past the bound and not excused by the fault schedule: [from, to) in market ns."""
    excused: list[tuple[int, int]] = field(default_factory=list)
    orders_judged: int = 0
    stale_by_reference: int = 0
    """Of ``stale_orders``, those their own ``reference_ns`` condemned (the rest: the tape)."""
    longest_gap_ns: int = 0


def outages_of(faults: list[dict], *, lines_of: dict[str, set[str]]) -> list[Outage]:
    """The fault log's market data outages: every line of every feed (``lines_of``: feed -> its lines) disabled,
    and each SIGKILL of feeds or compliance, or loss of a node that ran one of their pods (as a kill: the gap that
    holds it)."""
    every = {(feed, line) for feed, lines in lines_of.items() for line in lines}
    down: set[tuple[str, str]] = set()
    since: int | None = None
    out: list[Outage] = []
    for event in sorted(faults, key=lambda e: e["market_ns"]):
        target = event.get("target", {})
        if _killed(event) & set(DATA_SERVICES):
            out.append(Outage(_dead_by(event), None))
        elif event["kind"] == "feed_line_down" and event["what"] in (LINE_DISABLED, LINE_ENABLED):
            which = (target["feed"], target["line"])
            if event["what"] == LINE_DISABLED:
                down.add(which)
                if every and down >= every and since is None:
                    since = event["market_ns"]
            else:
                down.discard(which)
                if since is not None:
                    out.append(Outage(since, event["market_ns"]))
                    since = None
    if since is not None:
        out.append(Outage(since, FOREVER_NS))
    return out


def recorder_kills(faults: list[dict]) -> list[int]:
    """When the tape's recorder was killed (market ns)."""
    return sorted(_dead_by(e) for e in faults if RECORDER in _killed(e))


def _dead_by(event: dict) -> int:
    """When the killed processes were surely dead: a SIGKILL's stamp (sent before it), a lost node's power-off
    done (``done_market_ns``; its stamp is when the power-off began, and the pods ran on until the node's kubelet
    acted: tape events written meanwhile would count as the recorder's return)."""
    return int(event.get("done_market_ns", event["market_ns"]))


def _killed(event: dict) -> set[str]:
    """The services whose process a fault event killed: a SIGKILL's, or those with a pod on a node powered off."""
    if event["kind"] == "sigkill" and event["what"] == KILLED:
        return {event.get("target", {}).get("service", "")}
    if event["kind"] == "node_down" and event["what"] == NODE_OFF:
        return set(event.get("services", ()))
    return set()


def _excused(gap: tuple[int, int], outages: Sequence[Outage], *, bound_ns: int) -> bool:
    start, end = gap
    for o in outages:
        if o.end_ns is None:  # a kill: the gap that holds it, or one that starts within the bound after it
            if o.start_ns - bound_ns <= start <= o.start_ns + bound_ns and end > o.start_ns:
                return True
        elif o.start_ns - bound_ns <= start and end <= o.end_ns + bound_ns and end > o.start_ns:
            return True
    return False


def judge(
    tape: Iterable[tuple[int, str]],
    orders: Iterable[tuple[int, str, str, int]],
    *,
    window: tuple[int, int],
    max_age_ns: int,
    gap_bound_ns: int,
    reference_max_age_ns: int,
    outages: Sequence[Outage] = (),
    kills: Sequence[int] = (),
    skipped: Sequence[tuple[int, int]] = (),
) -> Findings:
    """One pass over the tape (``(ts_ns, symbol)`` in time order) and the orders (``(ts_ns, symbol, client order
    id, reference_ns)`` of their ``pending_new``; ``reference_ns`` 0: none recorded), both within ``window``
    [from, to) and the tape from at least ``max_age_ns`` before it; ``kills``: when the recorder was killed.
    ``reference_max_age_ns``: the gate's own bound, without slack, for the orders' ``reference_ns``;
    ``max_age_ns``: the tape's, with it; ``skipped``: market intervals [from, to) a forward step of the machine's
    clock skipped (``simulate.clock_steps``), which a gap holding them is not long by."""
    found = Findings()
    start, end = window
    last: dict[str, int] = {}
    previous = start  # the gap line counts from the window's start
    pending = sorted(o for o in orders if start <= o[0] < end)
    at = 0
    resumed: dict[int, int] = {}  # kill -> the first tape event after it

    def close_gap(upto: int) -> None:
        nonlocal previous
        length = upto - previous
        found.longest_gap_ns = max(found.longest_gap_ns, length)
        if length - _overlap((previous, upto), skipped) > gap_bound_ns:
            gap = (previous, upto)
            (found.excused if _excused(gap, outages, bound_ns=gap_bound_ns) else found.gaps).append(gap)

    def take_orders(upto: int) -> None:
        nonlocal at
        while at < len(pending) and pending[at][0] < upto:
            ts, symbol, client_order_id, reference_ns = pending[at]
            at += 1
            found.orders_judged += 1
            if reference_ns <= 0 or ts - reference_ns > reference_max_age_ns:  # the gate's own evidence
                found.stale_orders.append(client_order_id)
                found.stale_by_reference += 1
                continue
            if _unjudged(ts, kills, resumed, max_age_ns=max_age_ns):
                continue
            seen = last.get(symbol)
            if seen is None or ts - seen > max_age_ns:
                found.stale_orders.append(client_order_id)

    for ts, symbol in tape:
        take_orders(ts)  # those stamped with the event's own time are taken after it, so they see it
        for kill in kills:
            if kill < ts and kill not in resumed:
                resumed[kill] = ts
        if ts >= end:
            break
        if ts >= start:
            close_gap(ts)
            previous = ts
        last[symbol] = ts
    take_orders(end)
    close_gap(end)
    return found


def _unjudged(ts: int, kills: Sequence[int], resumed: dict[int, int], *, max_age_ns: int) -> bool:
    """While the recorder was down and one reference age after it recorded again, the tape cannot say how fresh
    the desk's references were."""
    return any(kill <= ts and (kill not in resumed or ts <= resumed[kill] + max_age_ns) for kill in kills)


def bounds(*, reference_max_age_ms: int, stale_after_ms: Iterable[int], speed: int) -> tuple[int, int]:
    """(the reference's max age, the gap bound), in ns of the desk's clock, each with ``RECEIPT_SLACK_S`` of wall
    time (times the replay's ``speed`` in the desk's market time) for the tape being stamped on compliance's
    receipt while the gate stamps its references on routing's."""
    slack_ns = RECEIPT_SLACK_S * NS_PER_SECOND * speed
    return reference_max_age_ms * NS_PER_MS + slack_ns, max(stale_after_ms) * NS_PER_MS + slack_ns


def _overlap(span: tuple[int, int], others: Sequence[tuple[int, int]]) -> int:
    """How much of ``span`` the (disjoint) ``others`` cover, in ns."""
    return sum(max(0, min(span[1], b) - max(span[0], a)) for a, b in others)
