"""The verdict of a simulation, computed afterwards from the record alone: the routing journal, the risk
service's change journal, the sealed audit bucket, and the clients' own log of what they were told.

Each line passes or fails on its own; the run fails when one does:

* ``desk_ran_to_the_end``: the supervisor did not give up on a service (a crash loop) before the session ended.
* ``clients_ran_to_the_end``: no client stopped before the end of the run (``clients.json``: a strategy client,
  the alert watch, or the probe process, whose death would otherwise read as seconds without a probe).
* ``restarts_unscheduled``: services the supervisor restarted more often than the fault schedule SIGKILLed them
  (``simulate.restarts``): a crash or an exit of their own; on a cluster, containers restarted more often than the
  schedule powered their node off (the pods' restart counts at the end). Must be 0.
* ``acked_orders_lost``: orders a client was acknowledged (an order id came back) that have no ``pending_new``
  record in the routing journal. Must be 0.
* ``orders_duplicated``: client order ids with more than one order in the journal, or acknowledged with two
  different order ids. Must be 0 (a resubmission after a transport error must find the original).
* ``accepted_while_halted``: orders whose ``pending_new`` record is timed inside an interval in which the risk
  service's change journal has their desk, account or strategy HALTED. Must be 0.
* ``orders_sent_to_away_venue``: orders whose ``pending_new`` record names a venue that the journal's
  ``venue_fault`` records have ``away`` at that moment. Must be 0 (routed around, or refused UNAVAILABLE).
* ``orders_unanswered_past_ack_timeout``: orders whose last journal record is still ``pending_new`` although the
  journal goes on for longer than the venue-silence timeout after it (``routing.venueAckTimeoutMs``, in wall time,
  so times the replay's speed in the journal's market time, plus one second of slack). Must be 0: a venue that
  stops answering (``venue_fault`` mode ``timeout``) must see its orders cancelled, never left in limbo.
* ``accepted_against_stale_data``: orders whose ``pending_new`` record is timed more than the risk gate's
  ``risk.referenceMaxAgeMs`` after the market data the gate checked them against (the record's ``reference_ns``,
  the feeds service's receipt of it; no such time counts as stale), or more than that bound plus one second of
  wall time (times ``speed``) after the last market event of their symbol on compliance's market tape (or with
  none), while the tape was being recorded. Must be 0 (``simulate.market_data`` gives the whole definition).
* ``market_data_gaps_past_recovery``: intervals of the session in which the market tape has no event of any symbol
  for longer than the feeds' largest ``staleAfterMs`` (plus the same slack), except where the fault schedule took
  the data away (every feed line disabled, until a line is back plus that bound; a SIGKILL of feeds or compliance).
  Market seconds a forward step of the machine's clock skipped (``simulate.clock_steps``) do not count in a gap.
  Must be 0. Its figure ``market_data_longest_gap_s`` is the longest stretch without market data, excused or not.
* ``audit_trail``: ``tradingdesk audit verify`` (the same ``verify_bucket``) finds no problem.
* ``faults_detected``: the faults that have an alert to expect (``simulate.detection``) whose alert the desk
  listed after the injection and within its bound. Must be all of them. Its figure ``detect_p99_s`` is the
  99th percentile of their detection times (wall seconds); the report lists every fault, with or without an
  expected alert.
* figures ``database_down_refusing_s`` and ``database_back_trading_s`` (when a fault took the database down):
  market seconds from the database going down to the first probe refused because the journal cannot write
  (routing saw the outage and said so), and from the database being back to the first probe acknowledged
  (trading resumed), the worst over the run's outages.
* ``availability``: the fraction of the one-second intervals of market time in the measured window (regular
  session hours only) in which a probe order was acknowledged within the probe timeout, less the seconds a forward
  step of the machine's clock skipped (nobody lived through them; each step is a note, and figure
  ``clock_stepped_s`` their sizes in wall seconds). Must reach the target.
  The report then lists where the other seconds went, by the fault whose window they fall in
  (``simulate.availability_loss``). Figure ``probe_snapshot_failures``: the probe's market-data snapshots that
  failed during the run (``clients.json``), with a note by code when there were any: the probe then prices its
  orders from its last answer, and each probe is still judged by its own answer (``simulate.probe_process``).

A desk under test may not have what a line reads (``simulate/target.py``, ``not_judged``: on a cluster there is
no supervisor to give up, and the audit bucket lives in the compliance pod's volume): such a
line is left out of the verdict, never passed, and the notes say why.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

from tradingdesk.audit.bucket import open_bucket
from tradingdesk.audit.checkpoint import VerifierKey
from tradingdesk.audit.verify import verify_bucket
from tradingdesk.core.clock import NS_PER_MS, NS_PER_SECOND
from tradingdesk.core.event_codec import decode_terms
from tradingdesk.markets.calendar import CalendarRangeError, ExchangeCalendar, Phase, TradingDay
from tradingdesk.routing.servicer import JOURNAL_UNAVAILABLE_MESSAGE
from tradingdesk.simulate import clock_steps, market_data, plot
from tradingdesk.simulate.availability_loss import RECOVERY_WALL_S, availability_losses, describe, fault_windows
from tradingdesk.simulate.detection import Detection, detections, read_record
from tradingdesk.simulate.restarts import unscheduled_restarts
from tradingdesk.spec.domain import data_dir, dsn_for, schema_for
from tradingdesk.spec.model import TradingDesk
from tradingdesk.storage.conduct_store import ConductStore
from tradingdesk.storage.db import make_engine
from tradingdesk.storage.journal import read_journal
from tradingdesk.storage.risk_store import RiskChangeStore

PENDING_NEW = "pending_new"
VENUE_FAULT = "venue_fault"
VENUE_ACK_TIMEOUT = "venue_ack_timeout"
ACK_TIMEOUT_SLACK_S = 1
RISK_CHANGES_READ = 1_000_000


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    value: float
    target: str
    ok: bool
    detail: str = ""


@dataclass
class Verdict:
    lines: list[Line] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    """What the lines summarise: each fault's detection, and the plot's file."""

    @property
    def ok(self) -> bool:
        return all(line.ok for line in self.lines)

    def as_json(self) -> dict:
        return {
            "ok": self.ok,
            "lines": [
                {"name": x.name, "value": x.value, "target": x.target, "ok": x.ok, "detail": x.detail}
                for x in self.lines
            ],
            "figures": self.figures,
            "notes": self.notes,
        }

    def text(self) -> str:
        out = [f"{'verdict':<24} {'value':>12}  {'target':<10} result"]
        for x in self.lines:
            value = f"{x.value:.6f}" if isinstance(x.value, float) and not x.value.is_integer() else f"{x.value:g}"
            out.append(f"{x.name:<24} {value:>12}  {x.target:<10} {'PASS' if x.ok else 'FAIL'}  {x.detail}".rstrip())
        for name, value in self.figures.items():
            out.append(f"{name:<24} {value:>12g}")
        out.extend(self.notes)
        out.append(f"result: {'PASS' if self.ok else 'FAIL'}")
        return "\n".join(out)


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def halted_intervals(
    desk: TradingDesk, environ: dict[str, str] | None = None
) -> dict[tuple[str, str], list[tuple[int, int]]]:
    """For each scope (account, strategy; ("", "") is the desk), the [from, to) market-time intervals in
    which the risk service's change journal has it HALTED."""
    engine = make_engine(dsn_for(desk, "risk", environ), schema=schema_for(desk, "risk"))
    try:
        changes = RiskChangeStore(engine).since(1, limit=RISK_CHANGES_READ)
    finally:
        engine.dispose()
    since: dict[tuple[str, str], int] = {}
    out: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for change in changes:
        body = change.change
        if body.get("type") != "trading_state":
            continue
        scope = (body.get("account", ""), body.get("strategy", ""))
        if body.get("state") == "HALTED":
            since.setdefault(scope, change.ts_ns)
        elif scope in since:
            out[scope].append((since.pop(scope), change.ts_ns))
    for scope, start in since.items():
        out[scope].append((start, 2**63 - 1))
    return out


def _halted_at(intervals, *, account: str, strategy: str, ts_ns: int) -> bool:
    scopes = [("", ""), (account, ""), (account, strategy)]
    return any(a <= ts_ns < b for scope in scopes for a, b in intervals.get(scope, ()))


def measured_seconds(
    calendar: ExchangeCalendar, *, start_ns: int, end_ns: int, skipped: Sequence[tuple[int, int]] = ()
) -> set[int]:
    """The whole market seconds in [start, end) that fall in the regular session the run starts in, less those that
    begin inside an interval of ``skipped`` (a forward step of the machine's clock). Past that session's close the
    replay clock is in the next session, where the clients and the probe send nothing: a run to the close starts a
    second or so after its start and ends as much past the close, and the full day of December 5 counted the next
    session's first second as lost."""
    day = _trading_day(calendar, start_ns)
    if day is not None:
        end_ns = min(end_ns, day.session.close_ns)
    first, last = -(-start_ns // NS_PER_SECOND), end_ns // NS_PER_SECOND
    return {
        s
        for s in range(first, last)
        if _regular(calendar, s * NS_PER_SECOND) and not any(a <= s * NS_PER_SECOND < b for a, b in skipped)
    }


def acked_seconds(probes: list[dict]) -> set[int]:
    return {p["market_ns"] // NS_PER_SECOND for p in probes if p["acked"]}


def _trading_day(calendar: ExchangeCalendar, ts_ns: int) -> TradingDay | None:
    try:
        return calendar.trading_day(ts_ns)
    except CalendarRangeError:  # outside the days the calendar was loaded with
        return None


def _regular(calendar: ExchangeCalendar, ts_ns: int) -> bool:
    try:
        return calendar.phase(ts_ns) == Phase.REGULAR
    except CalendarRangeError:  # past the days the calendar was loaded with: no session to measure
        return False


def ack_bound_ns(desk: TradingDesk, *, speed: int) -> int:
    """How long in the journal's market time an order may stay unanswered: the venue ack timeout and the slack,
    in wall time, times the replay's speed."""
    wall_ns = desk.spec.routing.venue_ack_timeout_ms * NS_PER_SECOND // 1000 + ACK_TIMEOUT_SLACK_S * NS_PER_SECOND
    return wall_ns * speed


class Unanswered:
    """Reads the journal in order; ``orders()``: those whose newest record is still ``pending_new`` although the
    journal goes on for longer than ``bound_ns`` after it."""

    def __init__(self, *, bound_ns: int) -> None:
        self.bound_ns = bound_ns
        self.newest: dict[str, tuple[str, int]] = {}  # order id -> the kind and time of its newest record
        self.end_ns = 0

    def see(self, kind: str, order_id: str, ts_ns: int) -> None:
        self.end_ns = max(self.end_ns, ts_ns)
        if order_id:
            self.newest[order_id] = (kind, ts_ns)

    def orders(self) -> list[str]:
        deadline = self.end_ns - self.bound_ns
        return sorted(oid for oid, (kind, ts) in self.newest.items() if kind == PENDING_NEW and ts < deadline)


def compute(
    desk: TradingDesk,
    run_dir: Path,
    *,
    calendar: ExchangeCalendar,
    window: tuple[int, int],
    min_availability: float,
    run_id: str,
    speed: int,
    gave_up: str = "",
    environ: dict[str, str] | None = None,
    not_judged: Mapping[str, str] | None = None,
) -> Verdict:
    """``gave_up``: why the supervisor stopped the desk before the end of the session ("" when it did not);
    ``speed``: the replay's, market seconds per wall second;
    ``environ``: the desk's environment (which database it used: ``TD_DSN``);
    ``not_judged``: lines the desk under test cannot give the record for (name -> why), left out."""
    verdict = Verdict()
    skip = dict(not_judged or {})
    verdict.notes.extend(f"not judged on this desk: {name}: {why}" for name, why in skip.items())
    if "desk_ran_to_the_end" not in skip:
        verdict.lines.append(Line("desk_ran_to_the_end", 0 if gave_up else 1, "1", not gave_up, gave_up))
    clients = json.loads((run_dir / "clients.json").read_text())
    crashed = clients["crashed"]
    verdict.lines.append(Line("clients_ran_to_the_end", len(crashed), "0", not crashed, "; ".join(crashed)))
    faults_log = run_dir / "faults.jsonl"
    fault_events = _read_jsonl(faults_log) if faults_log.exists() else []
    if "restarts_unscheduled" not in skip:
        restarted = unscheduled_restarts(run_dir / "logs", fault_events)
        verdict.lines.append(Line("restarts_unscheduled", len(restarted), "0", not restarted, "; ".join(restarted)))
    acks = _read_jsonl(run_dir / "acks.jsonl")
    probes = _read_jsonl(run_dir / "probes.jsonl")

    # the routing journal: every order the desk took, by client order id
    engine = make_engine(dsn_for(desk, "routing", environ), schema=schema_for(desk, "routing"))
    orders_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    journaled: set[str] = set()
    taken = []
    reference_of: dict[str, int] = {}  # order id -> its pending_new's reference_ns (the gate's evidence)
    away: set[str] = set()  # venues away at this point of the journal
    to_away: list[str] = []
    venue_faults = 0
    ack_timeouts = 0
    unanswered = Unanswered(bound_ns=ack_bound_ns(desk, speed=speed))
    try:
        for rec in read_journal(engine):
            unanswered.see(rec.kind, rec.order_id, rec.ts_ns)
            ack_timeouts += rec.kind == VENUE_ACK_TIMEOUT
            if rec.kind == VENUE_FAULT:
                venue_faults += 1
                if rec.payload["mode"] == "away":
                    away.add(rec.payload["venue"])
                else:
                    away.discard(rec.payload["venue"])
            if rec.kind != PENDING_NEW:
                continue
            terms = decode_terms(rec.order_id, rec.payload)
            if rec.payload["venue"] in away:
                to_away.append(terms.client_order_id)
            journaled.add(rec.order_id)
            orders_of[(terms.account, terms.client_order_id)].add(rec.order_id)
            taken.append((terms, rec.ts_ns))
            reference_of[rec.order_id] = int(rec.payload.get("reference_ns", 0))
    finally:
        engine.dispose()

    lost = [a for a in acks if a["order_id"] not in journaled]
    verdict.lines.append(
        Line("acked_orders_lost", len(lost), "0", not lost, ", ".join(a["client_order_id"] for a in lost[:5]))
    )
    acked_ids: dict[str, set[str]] = defaultdict(set)
    for a in acks:
        acked_ids[a["client_order_id"]].add(a["order_id"])
    dup_journal = [cid for (_, cid), ids in orders_of.items() if len(ids) > 1]
    dup_acks = [cid for cid, ids in acked_ids.items() if len(ids) > 1]
    dups = sorted(set(dup_journal) | set(dup_acks))
    verdict.lines.append(Line("orders_duplicated", len(dups), "0", not dups, ", ".join(dups[:5])))

    verdict.lines.append(Line("orders_sent_to_away_venue", len(to_away), "0", not to_away, ", ".join(to_away[:5])))
    limbo = unanswered.orders()
    verdict.lines.append(Line("orders_unanswered_past_ack_timeout", len(limbo), "0", not limbo, ", ".join(limbo[:5])))

    intervals = halted_intervals(desk, environ)
    while_halted = [
        t.client_order_id for t, ts in taken if _halted_at(intervals, account=t.account, strategy=t.strategy, ts_ns=ts)
    ]
    verdict.lines.append(
        Line("accepted_while_halted", len(while_halted), "0", not while_halted, ", ".join(while_halted[:5]))
    )

    if "audit_trail_verified" not in skip:
        verdict.lines.append(_audit_trail(desk))

    # the intervals measured and those with an acknowledged probe: the line's ratio, and later where the rest went
    steps = clock_steps.read_steps(run_dir)
    skipped = [span for step in steps if (span := step.skipped()) is not None]
    measured = measured_seconds(calendar, start_ns=window[0], end_ns=window[1], skipped=skipped)
    acked = acked_seconds(probes)
    up = len(measured & acked)
    ratio = up / len(measured) if measured else 0.0
    verdict.lines.append(
        Line(
            "availability",
            round(ratio, 6),
            f">= {min_availability:g}",
            bool(measured) and ratio >= min_availability,
            f"{up} of {len(measured)} one-second intervals acknowledged",
        )
    )
    events, episodes, source = read_record(run_dir)
    market = market_data_findings(
        desk,
        events,
        taken,
        window=_session_part(calendar, window),
        speed=speed,
        environ=environ,
        reference_of=reference_of,
        skipped=skipped,
    )
    verdict.lines.append(
        Line(
            "accepted_against_stale_data",
            len(market.stale_orders),
            "0",
            not market.stale_orders,
            (
                f"{', '.join(market.stale_orders[:5])} ({market.stale_by_reference} by their reference's time, "
                f"{len(market.stale_orders) - market.stale_by_reference} by the market tape)"
            )
            if market.stale_orders
            else f"{market.orders_judged} orders judged by their reference's time and the market tape",
        )
    )
    verdict.lines.append(
        Line(
            "market_data_gaps_past_recovery",
            len(market.gaps),
            "0",
            not market.gaps,
            "; ".join(
                f"{(b - a) / NS_PER_SECOND:g}s from {datetime.fromtimestamp(a / NS_PER_SECOND, UTC):%H:%M:%S}"
                for a, b in market.gaps[:3]
            )
            or f"{len(market.excused)} gap(s) the fault schedule made",
        )
    )
    speed = replay_speed(desk)
    found = detections(events, episodes, speed=speed, desk=desk, source=source, run_end_market_ns=window[1])
    add_detection(verdict, found, source=source)

    series = plot.day_series(
        order_ns=[ts for _, ts in taken],
        probes=probes,
        faults=events,
        window=_session_part(calendar, window),
        speed=speed,
    )
    start = datetime.fromtimestamp(window[0] / NS_PER_SECOND, UTC)
    plot.draw(series, run_dir / plot.PLOT_FILE, title=f"{desk.name}: session from {start:%Y-%m-%d %H:%M:%S} UTC")
    verdict.notes.append(f"plot of rate, latency and availability: {run_dir / plot.PLOT_FILE}")

    verdict.figures.update(
        # the busiest of the plot's intervals, in orders journaled per wall second: the run's peak, burst included
        orders_per_s_peak=round(max(series.orders_per_s, default=0.0), 1),
        orders_acknowledged=len(acks),
        # resubmitted after a transport error and answered with the original: the idempotency path exercised
        resubmissions_found_original=sum(1 for a in acks if a["duplicate"]),
        orders_journaled=sum(1 for t, _ in taken if t.client_order_id.startswith(run_id)),
        probes_sent=len(probes),
        venue_fault_changes=venue_faults,
        venue_ack_timeouts=ack_timeouts,
        market_data_longest_gap_s=market.longest_gap_ns / NS_PER_SECOND,
        probe_p99_ms=_p99([p["ms"] for p in probes if p["ms"] is not None]),
    )
    if fault_events:
        verdict.figures.update(database_outage_figures(fault_events, probes))
    verdict.figures["clock_stepped_s"] = round(sum(abs(step.step_ns) for step in steps) / NS_PER_SECOND, 3)
    verdict.notes.extend(clock_steps.describe(step) for step in steps)
    lost = measured - acked
    windows = fault_windows(fault_events, recovery_s=RECOVERY_WALL_S * speed)
    verdict.notes.extend(describe(availability_losses(lost, probes, windows)))
    snapshot_failures = clients.get("probe_snapshot_failures", {})  # absent from a record of before December 2026
    verdict.figures["probe_snapshot_failures"] = sum(snapshot_failures.values())
    if snapshot_failures:
        codes = ", ".join(f"{code} {n}" for code, n in sorted(snapshot_failures.items(), key=lambda c: -c[1]))
        verdict.notes.append(
            f"the probe's market-data snapshots failed {sum(snapshot_failures.values())} time(s) ({codes}): it "
            "probed on with its last prices (logs/probe.log says when)"
        )
    return verdict


def _audit_trail(desk: TradingDesk) -> Line:
    key = VerifierKey.parse((data_dir(desk) / "audit-keys" / "signing.pub").read_text())
    bucket_spec = desk.spec.compliance.audit_bucket
    report = verify_bucket(open_bucket(str(Path(bucket_spec.path) / desk.name)), key)
    detail = f"{report.records} records in {report.segments} segments"
    if not report.ok:
        detail = f"{len(report.problems)} problem(s), first: {report.problems[0]}"
    return Line("audit_trail_verified", 1 if report.ok else 0, "1", report.ok, detail)


def market_data_findings(
    desk: TradingDesk,
    faults: list[dict],
    taken: list,
    *,
    window: tuple[int, int],
    speed: int,
    environ: dict[str, str] | None = None,
    reference_of: dict[str, int] | None = None,
    skipped: Sequence[tuple[int, int]] = (),
) -> market_data.Findings:
    """The orders (``taken``: their terms and ``pending_new`` time; ``reference_of``: order id -> the record's
    ``reference_ns``, none counting as stale) and compliance's market tape judged by ``simulate.market_data``: stale
    references and gaps in market data; ``skipped``: the market intervals a forward step of the machine's clock
    skipped."""
    reference_of = reference_of or {}
    max_age_ns, gap_bound_ns = market_data.bounds(
        reference_max_age_ms=desk.spec.risk.reference_max_age_ms,
        stale_after_ms=[f.stale_after_ms for f in desk.spec.feeds],
        speed=speed,
    )
    lines_of = {f.name: {line.name for line in f.lines} for f in desk.spec.feeds}
    engine = make_engine(dsn_for(desk, "compliance", environ), schema=schema_for(desk, "compliance"))
    try:
        return market_data.judge(
            ConductStore(engine).tape_times(since_ns=window[0] - max(max_age_ns, gap_bound_ns)),
            [(ts, t.symbol, t.client_order_id, reference_of.get(t.order_id, 0)) for t, ts in taken],
            window=window,
            max_age_ns=max_age_ns,
            gap_bound_ns=gap_bound_ns,
            reference_max_age_ns=desk.spec.risk.reference_max_age_ms * NS_PER_MS,
            outages=market_data.outages_of(faults, lines_of=lines_of),
            kills=market_data.recorder_kills(faults),
            skipped=skipped,
        )
    finally:
        engine.dispose()


def add_detection(verdict: Verdict, found: list[Detection], *, source: str) -> None:
    """The ``faults_detected`` line, each fault's detection in the notes, and ``detect_p99_s`` (with the largest
    bound that applied) when at least one expected alert came: never a made-up figure."""
    expected = [d for d in found if d.expected]
    missed = [d for d in expected if not d.ok]
    detail = "; ".join(d.describe() for d in missed[:3]) or (
        f"alerts as the desk's status stream listed them ({source})"
        if expected
        else "no applied fault expects an alert"
    )
    verdict.lines.append(Line("faults_detected", len(expected) - len(missed), str(len(expected)), not missed, detail))
    if found:
        verdict.notes.append("fault detection (wall seconds from injection to the desk's alert):")
        verdict.notes.extend(f"  {d.describe()}" for d in found)
    times = [d.detected_s for d in expected if d.detected_s is not None]
    if times:
        verdict.figures["detect_p99_s"] = round(_p99(times), 3)
        verdict.figures["detect_bound_s"] = max(d.bound_s for d in expected if d.bound_s is not None)


def _session_part(calendar: ExchangeCalendar, window: tuple[int, int]) -> tuple[int, int]:
    """The window up to the close of the session it starts in: at the end of a full day the replay clock has
    already jumped to the next day's open, and the night between is nothing to draw."""
    try:
        day = calendar.trading_day(window[0])
    except CalendarRangeError:
        return window
    return (window[0], min(window[1], day.session.close_ns)) if day is not None else window


def replay_speed(desk: TradingDesk) -> float:
    """The replay speed the run's desk spec gives its feeds (market seconds per wall second)."""
    replay = next((f.replay for f in desk.spec.feeds if f.replay is not None and f.replay.speed), None)
    return float(Fraction(str(replay.speed))) if replay is not None else 1.0


JOURNAL_REFUSAL = JOURNAL_UNAVAILABLE_MESSAGE[:40]
"""How routing's refusal while its journal cannot write starts (a probe keeps the first 160 characters)."""


def database_outage_figures(events: list[dict], probes: list[dict]) -> dict[str, float]:
    """The worst time to refuse and the worst time to trade again over the database outages of ``faults.jsonl``
    (market seconds; -1 when it never happened before the run ended)."""
    refusing: list[float] = []
    trading: list[float] = []
    for event in events:
        if event["kind"] != "database_down" or event["what"] not in ("database down", "database up"):
            continue
        since = event["market_ns"]
        if event["what"] == "database down":
            first = (
                p["market_ns"]
                for p in probes
                if p["market_ns"] >= since and p.get("why", "").startswith(JOURNAL_REFUSAL)
            )
            into = refusing
        else:
            first = (p["market_ns"] for p in probes if p["market_ns"] >= since and p["acked"])
            into = trading
        at = next(first, None)
        into.append(-1.0 if at is None else round((at - since) / NS_PER_SECOND, 3))
    if not refusing and not trading:
        return {}
    return {"database_down_refusing_s": _worst(refusing), "database_back_trading_s": _worst(trading)}


def _worst(values: list[float]) -> float:
    """The longest time, or -1 when one never came."""
    return -1.0 if -1.0 in values else max(values, default=-1.0)


def _p99(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
