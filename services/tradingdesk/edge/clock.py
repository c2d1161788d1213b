"""The desk's clock, from the spec and the environment: the time its market rules follow.

``spec.conduct.clock.source``: ``wall`` is the exchanges' real time (production); ``replay`` plays trading days
back to back from their open (``markets/replay_clock.py``); ``auto`` (the default) is ``replay`` when every
feed of the desk is a replay feed (``clock_source``, in the spec so the operator reads it too). A replay clock
needs one origin for every service of the desk, so they all tell the same time, and one that outlives a restart,
so time never runs back: ``TD_REPLAY_ORIGIN_NS``. The embedded runtime sets it for its children (the wall time it
first started the desk, kept with the desk's data); on Kubernetes the operator sets it in every pod to the
TradingDesk's creation time (deleting and creating the desk again starts the replay again from the open). A
service started without it takes its own start as the origin.

The replay runs at the first replay feed's speed (1 when there is none, or for speed 0, "as fast as
possible", which has no clock of its own), each pass of the replay being that feed's ``sessionSeconds``.
The calendar is the first instrument's exchange's; the first day is ``replayStart``, else today's session
there, or the last one before today.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

from tradingdesk.core.clock import NS_PER_SECOND, Clock, WallClock
from tradingdesk.edge.clock_skew import skewable
from tradingdesk.markets.calendar_source import load_calendar
from tradingdesk.markets.replay_clock import ReplayClock, default_first_day
from tradingdesk.spec.model import TradingDesk, clock_source

REPLAY_ORIGIN_ENV = "TD_REPLAY_ORIGIN_NS"
DEFAULT_PASS_S = 23_400


JOIN_AFTER_WALL_S = 10.0
"""A replay feed started more than this (wall time) after the desk's replay began joins it where the desk's clock
is. One started sooner, as at the desk's own start, plays its data from the start, a moment behind the clock."""


def replay_join_ns(clock: Clock, *, after_wall_s: float = JOIN_AFTER_WALL_S) -> int:
    """Where in its data a replay feed starting now joins the desk's replay: the replay time since the desk's
    replay origin, or 0 (from the start) before ``after_wall_s`` of wall time has passed, and for a wall clock.

    Negative while the origin is still ahead (``tradingdesk simulate`` sets it past the desk's warm-up): the feed
    waits that much replay time before its first event, so its data starts with the desk's clock at the open
    instead of running ahead of it by the whole warm-up. A skew drill's clock answers for the clock it wraps (the
    drill moves the time a service reads, not the replay)."""
    inner = getattr(clock, "inner", clock)
    if not isinstance(inner, ReplayClock):
        return 0
    ahead_ns = inner.origin_ns - inner.wall.now_ns()
    if ahead_ns > 0:
        return -(ahead_ns * inner.speed.numerator // inner.speed.denominator)
    elapsed = inner.elapsed_ns()
    return elapsed if elapsed > after_wall_s * NS_PER_SECOND * inner.speed else 0


def desk_clock(desk: TradingDesk, environ: Mapping[str, str] | None = None, *, service: str = "") -> Clock:
    """The clock every service of the desk stamps events with and judges sessions by; a ``service`` names whose
    clock it is, so a clock-skew drill can move that one (``edge/clock_skew.py``; untouched in production)."""
    env = os.environ if environ is None else environ
    return skewable(_unskewed(desk, env), service, env)


def _unskewed(desk: TradingDesk, env: Mapping[str, str]) -> Clock:
    if clock_source(desk) == "wall":
        return WallClock()
    origin = int(env.get(REPLAY_ORIGIN_ENV) or time.time_ns())
    spec = desk.spec
    calendar = load_calendar(spec.instruments[0].listing.exchange)
    replay = next((f.replay for f in spec.feeds if f.kind == "replay"), None)
    speed = Fraction(str(replay.speed)) if replay is not None and replay.speed else Fraction(1)
    pass_s = replay.session_seconds if replay is not None else DEFAULT_PASS_S
    start = spec.conduct.clock.replay_start
    if start:
        first_day = date.fromisoformat(start)
    else:
        today = datetime.fromtimestamp(origin // NS_PER_SECOND, UTC).astimezone(ZoneInfo(calendar.timezone)).date()
        first_day = default_first_day(calendar, today)
    try:
        return ReplayClock(calendar, first_day=first_day, origin_ns=origin, speed=speed, pass_ns=pass_s * NS_PER_SECOND)
    except ValueError as exc:
        raise ValueError(f"spec.conduct.clock.replayStart: {exc}") from None
