"""Active alerts and silences: Alertmanager's v2 API when the desk names one, else the desk's own checks.

The own checks judge the status the monitoring service already collects with the same names, severities and
runbooks as the Prometheus rules (``tradingdesk.spec.alerting``), so a desk without Prometheus still lists
what would page: a service not serving or restarted, a routing standby that took over, a feed or a line down,
stale symbols, halted scopes, a skewed clock, a venue away, rejecting or not acknowledging, an order journal that
cannot write.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tradingdesk.core.clock import NS_PER_MS
from tradingdesk.monitoring.clock_skew import clock_skews
from tradingdesk.monitoring.restarts import RECENT_RESTART_S
from tradingdesk.monitoring.venue_activity import VenueGrowth
from tradingdesk.spec.alerting import alerts as rule_alerts
from tradingdesk.spec.model import TradingDesk
from tradingdesk.v1 import common_pb2, market_data_pb2, monitoring_pb2

SILENCE_MIN_S = 60
SILENCE_MAX_S = 7 * 86_400
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
TIMEOUT_S = 3.0
SEVERITIES = ("critical", "warning", "info")


class AlertmanagerError(Exception):
    """Alertmanager could not be reached or refused the request (the message says which)."""


def _ns(timestamp: str) -> int:
    if not timestamp:
        return 0
    return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1e9)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def from_alertmanager(item: dict[str, Any]) -> monitoring_pb2.Alert:
    labels = item.get("labels", {})
    annotations = item.get("annotations", {})
    status = item.get("status", {})
    return monitoring_pb2.Alert(
        name=labels.get("alertname", ""),
        severity=labels.get("severity", ""),
        service=labels.get("service", ""),
        summary=annotations.get("summary", ""),
        description=annotations.get("description", ""),
        runbook_url=annotations.get("runbook_url", ""),
        labels=labels,
        starts_ns=_ns(item.get("startsAt", "")),
        state=status.get("state", "active"),
        silenced_by=status.get("silencedBy", []),
        fingerprint=item.get("fingerprint", ""),
    )


class Alertmanager:
    """The part of Alertmanager's v2 API the desk uses: its alerts, and silences of them."""

    def __init__(self, url: str, desk: str, client: httpx.AsyncClient) -> None:
        self.url = url.rstrip("/")
        self.desk = desk
        self.client = client

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            resp = await self.client.request(method, f"{self.url}/api/v2{path}", timeout=TIMEOUT_S, **kwargs)
        except httpx.HTTPError as exc:
            raise AlertmanagerError(f"Alertmanager at {self.url} is unreachable: {exc}") from exc
        if resp.status_code >= 400:
            raise AlertmanagerError(f"Alertmanager answered {resp.status_code}: {resp.text.strip()[:300]}")
        return resp.json()

    async def alerts(self, *, include_suppressed: bool) -> list[monitoring_pb2.Alert]:
        params = [("filter", f'desk="{self.desk}"'), ("active", "true")]
        flag = "true" if include_suppressed else "false"
        params += [("silenced", flag), ("inhibited", flag), ("unprocessed", "true")]
        items = await self._call("GET", "/alerts", params=params)
        return sorted((from_alertmanager(i) for i in items), key=lambda a: (a.severity != "critical", a.name))

    async def silence(self, *, matchers: dict[str, str], duration_s: int, author: str, comment: str):
        """Create the silence; returns (id, starts, ends)."""
        starts = datetime.now(UTC)
        ends = starts + timedelta(seconds=duration_s)
        body = {
            "matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in matchers.items()],
            "startsAt": _iso(starts),
            "endsAt": _iso(ends),
            "createdBy": author,
            "comment": comment,
        }
        answer = await self._call("POST", "/silences", json=body)
        return answer["silenceID"], starts, ends


def silence_problems(request: monitoring_pb2.SilenceAlertRequest) -> list[tuple[str, str]]:
    """What is wrong with a silence request, as (field, problem) pairs."""
    out = []
    if not request.matchers.get("alertname"):
        out.append(("matchers", "must include alertname (one call never silences every alert of the desk)"))
    for name, value in request.matchers.items():
        if not LABEL_NAME.match(name):
            out.append(("matchers", f"{name!r} is not a label name"))
        elif not value:
            out.append(("matchers", f"{name}: needs a value"))
        elif name == "desk":
            out.append(("matchers", "desk is set by the desk itself"))
    if not SILENCE_MIN_S <= request.duration_s <= SILENCE_MAX_S:
        out.append(("duration_s", f"must be between {SILENCE_MIN_S} and {SILENCE_MAX_S} seconds (7 days)"))
    if not request.author.strip():
        out.append(("author", "required: the person silencing"))
    elif len(request.author) > 200:
        out.append(("author", "at most 200 characters"))
    if not request.comment.strip():
        out.append(("comment", "required: why (an incident or change reference)"))
    elif len(request.comment) > 2_000:
        out.append(("comment", "at most 2000 characters"))
    return out


class DeskChecks:
    """The desk's own alerts, judged from its status with the rules' names, severities and runbooks."""

    def __init__(self, desk: TradingDesk) -> None:
        self.desk = desk
        base = desk.spec.monitoring.alerts.runbook_base_url
        self.rules = {a.name: (a.severity, a.service, base + a.runbook) for a in rule_alerts(desk)}

    def _alert(
        self, name: str, summary: str, *, since_ns: int = 0, service: str = "", episode: str = "", **labels: str
    ):
        """The alert with the rule's severity and runbook. ``episode`` tells one occurrence from the next with the
        same labels (it joins the fingerprint): a second routing failover within the window is a new alert."""
        severity, rule_service, runbook = self.rules[name]
        service = service or rule_service
        all_labels = {"alertname": name, "desk": self.desk.name, "severity": severity, "service": service, **labels}
        fingerprint = "/".join(f"{k}={v}" for k, v in sorted(all_labels.items()))
        return monitoring_pb2.Alert(
            name=name,
            severity=severity,
            service=service,
            summary=summary,
            runbook_url=runbook,
            labels=all_labels,
            starts_ns=since_ns,
            state="active",
            fingerprint=f"{fingerprint}/{episode}" if episode else fingerprint,
        )

    def judge(
        self,
        status: monitoring_pb2.DeskStatus,
        utilization: dict[tuple[str, str], float],
        *,
        venues: dict[str, VenueGrowth] | None = None,
        wall_ns: int | None = None,
    ) -> list[monitoring_pb2.Alert]:
        """Alerts firing now, given the status and the used share of each scope's loss limits. ``venues`` is how
        much each venue's reject and timeout counts grew over the rules' windows (``VenueActivity``). ``wall_ns``
        (now, by the wall clock) judges how recent a restart or a routing takeover is: the supervisor and routing
        stamp them with the wall clock."""
        out = []
        wall_ns = time.time_ns() if wall_ns is None else wall_ns
        for s in status.services:
            if s.status == "UNREACHABLE":
                out.append(self._alert("ServiceDown", f"{s.service} is unreachable: {s.detail}", service=s.service))
            elif s.status != "SERVING" and s.service == "compliance":
                out.append(self._alert("ComplianceRefusing", f"compliance reports {s.status}"))
            if s.last_restart_ns and wall_ns - s.last_restart_ns < RECENT_RESTART_S * 1_000_000_000:
                ago = max(0, wall_ns - s.last_restart_ns) // 1_000_000_000
                text = f"{s.service} restarted {s.restarts} time(s) since the desk started, the last {ago}s ago"
                out.append(self._alert("ServiceRestarted", text, since_ns=s.last_restart_ns, service=s.service))
        took_over_ns = status.routing_took_over_ns
        if took_over_ns and wall_ns - took_over_ns < RECENT_RESTART_S * 1_000_000_000:
            ago = max(0, wall_ns - took_over_ns) // 1_000_000_000
            text = f"a routing standby took the journal over {ago}s ago: the active replica was gone"
            out.append(self._alert("RoutingFailover", text, since_ns=took_over_ns, episode=f"took_over={took_over_ns}"))
        if any(s.status != "SERVING" for s in status.services):
            out.append(self._alert("DeskNotReady", f"desk {self.desk.name} is not ready"))
        for feed in status.feeds:
            if feed.health == market_data_pb2.FEED_HEALTH_DOWN:
                out.append(self._alert("FeedDown", f"feed {feed.feed} is down: every line lost", feed=feed.feed))
                continue
            for line in feed.lines:
                if line.state != market_data_pb2.LINE_STATE_LIVE:
                    state = market_data_pb2.LineState.Name(line.state).removeprefix("LINE_STATE_").lower()
                    text = f"line {line.name} of feed {feed.feed} is {state}"
                    out.append(self._alert("FeedLineDown", text, feed=feed.feed, line=line.name))
        threshold_ms = self.desk.spec.monitoring.clock_skew.threshold_ms
        for skew in clock_skews(status.services):
            if abs(skew.skew_ns) > threshold_ms * NS_PER_MS:
                text = f"the clock of {skew.service} is {skew.skew_ns // NS_PER_MS:+d} ms off the desk's"
                out.append(self._alert("ClockSkew", f"{text} (threshold {threshold_ms} ms)", service=skew.service))
        out.extend(self._venue_alerts(status, venues or {}))
        if status.HasField("journal") and not status.journal.writable:
            text = f"the order journal cannot write: {status.journal.error or 'commits fail'}"
            out.append(self._alert("JournalWriteFailing", f"{text} ({status.journal.backlog_records} records waiting)"))
        if status.stale_symbols:
            out.append(self._alert("StaleSymbols", f"{len(status.stale_symbols)} symbols have stale market data"))
        for scope in status.trading_states:
            info = scope.state
            if info.state != common_pb2.TRADING_STATE_HALTED:
                continue
            label = scope_label(info.scope.account, info.scope.strategy)
            name = {"kill_switch": "KillSwitchFired", "circuit_breaker": "CircuitBreakerOpen"}.get(
                scope.cause, "TradingHalted"
            )
            text = f"trading halted for {label} by {info.actor}: {info.reason}"
            out.append(self._alert(name, text, since_ns=info.changed_ns, scope=label, cause=scope.cause))
        near = self.desk.spec.monitoring.alerts.loss_near_limit_percent / 100
        names = {
            "daily_loss": ("DailyLossNearLimit", "DailyLossLimitBreached"),
            "drawdown": ("DrawdownNearLimit", "DrawdownLimitBreached"),
        }
        for (label, limit), used in sorted(utilization.items()):
            if used >= near:
                name = names[limit][used >= 1]
                what = limit.replace("_", " ")
                out.append(self._alert(name, f"{label}: {what} at {used:.0%} of its limit", scope=label, limit=limit))
        return sorted(out, key=lambda a: (a.severity != "critical", a.name))

    def _venue_alerts(self, status: monitoring_pb2.DeskStatus, venues: dict[str, VenueGrowth]):
        """VenueDisconnected, VenueRejecting and VenueNotAcknowledging, as the Prometheus rules judge them."""
        per_minute = self.desk.spec.monitoring.alerts.venue_rejects_per_minute
        for venue in status.venues:
            name = venue.venue
            if not venue.connected:
                yield self._alert("VenueDisconnected", f"venue {name} is away (disconnected)", venue=name)
            grown = venues.get(name)
            if grown is None:
                continue
            if grown.rejects >= per_minute:
                text = f"venue {name} rejected {grown.rejects} new orders within a minute"
                yield self._alert("VenueRejecting", text, venue=name)
            if grown.ack_timeouts:
                text = f"venue {name} left {grown.ack_timeouts} new orders unacknowledged past the timeout (5 min)"
                yield self._alert("VenueNotAcknowledging", text, venue=name)


def scope_label(account: str, strategy: str) -> str:
    """``desk``, ``ACC``, or ``ACC/strategy``: the ``scope`` label of the desk's risk metrics and alerts."""
    return "/".join(p for p in (account, strategy) if p) or "desk"
