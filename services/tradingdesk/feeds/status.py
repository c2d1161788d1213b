"""``FeedStatus`` messages: what GetFeedStatus and SetLineEnabled report about a feed, read off its handler."""

from __future__ import annotations

from tradingdesk.core.fixed import format_fixed
from tradingdesk.feeds.events import QUOTE
from tradingdesk.feeds.feed import FeedHandler
from tradingdesk.feeds.monitor import DEGRADED, DISABLED, DOWN, LAGGING, LIVE, SILENT, Switch
from tradingdesk.v1 import market_data_pb2 as pb

MS = 1_000_000

FEED_HEALTH = {LIVE: pb.FEED_HEALTH_LIVE, DEGRADED: pb.FEED_HEALTH_DEGRADED, DOWN: pb.FEED_HEALTH_DOWN}
LINE_STATE = {
    LIVE: pb.LINE_STATE_LIVE,
    LAGGING: pb.LINE_STATE_LAGGING,
    SILENT: pb.LINE_STATE_SILENT,
    DOWN: pb.LINE_STATE_DOWN,
    DISABLED: pb.LINE_STATE_DISABLED,
}


def switch_message(s: Switch) -> pb.LineSwitch:
    return pb.LineSwitch(
        time_ns=s.at_ns,
        from_line=s.from_line,
        to_line=s.to_line,
        failback=s.failback,
        took_ms=s.took_ns // MS,
        reason=s.reason,
    )


def feed_status(handler: FeedHandler, now_ns: int) -> pb.FeedStatus:
    """The status of one feed at ``now_ns``."""
    arb = handler.arbitrator
    monitor = handler.monitor
    lines = []
    for name, h in handler.lines.items():
        lines.append(
            pb.LineStatus(
                name=name,
                state=LINE_STATE[h.state],
                active=name == monitor.active,
                last_seq=max(0, h.last_seq),
                lag_ms=handler.lag_ns(h, now_ns) // MS if h.connected else 0,
                silent_ms=(now_ns - h.last_rx_ns) // MS if h.last_rx_ns else 0,
                received=h.received,
                first_copies=arb.wins.get(name, 0),
                heartbeats=h.heartbeats,
                malformed=h.malformed,
                out_of_order=h.out_of_order,
                duplicates=h.duplicates,
                disconnects=h.disconnects,
                detail=h.detail,
                last_malformed=h.last_malformed,
            )
        )
    active = handler.lines[monitor.active]
    return pb.FeedStatus(
        feed=handler.spec.name,
        kind=handler.spec.kind,
        health=FEED_HEALTH[monitor.health],
        active_line=monitor.active,
        lines=lines,
        next_seq=arb.next_seq,
        published=handler.published,
        duplicates=arb.duplicates,
        gaps=arb.gaps,
        missing=arb.missing,
        recovered=arb.recovered,
        lost=arb.lost,
        held=len(arb.held),
        failovers=monitor.failovers,
        failbacks=monitor.failbacks,
        recent_switches=[switch_message(s) for s in monitor.switches],
        stale_symbols=handler.stale_symbols(now_ns),
        outliers=handler.outliers.held,
        recent_outliers=[
            pb.HeldOutlier(
                symbol=o.symbol,
                kind="quote" if o.kind == QUOTE else "trade",
                price=format_fixed(o.price),
                reference=format_fixed(o.reference),
                seq=o.seq,
                vendor_time_ns=o.vendor_ts_ns,
            )
            for o in handler.outliers.recent
        ],
        snapshot_recoveries=handler.snapshot_recoveries,
        failover_after_ms=handler.spec.failover_after_ms,
        stale_after_ms=handler.spec.stale_after_ms,
        lag_ms=handler.lag_ns(active, now_ns) // MS if active.connected else 0,
        gap_age_ms=arb.gap_age_ns(now_ns) // MS,
    )
