"""The desk's alerts as the desk itself reports them during a simulation: the monitoring service's
``ListAlerts`` polled every ``POLL_INTERVAL_S`` (wall time) into ``alerts.jsonl`` of the run directory.

Each line is one episode of one alert (one fingerprint, from the poll that first listed it to the poll that
no longer did): its name, severity and labels, when the watch first saw it (market and wall ns), the
``starts_ns`` the desk gave it (0 from the desk's own checks, which do not date their alerts; Alertmanager's
``startsAt`` otherwise), and when it was resolved (null: still listed at the end). The verdict's detection
line (``simulate.detection``) reads this file, never the watch itself.

A poll the monitoring service does not answer (it is restarting, or busy) leaves every open episode as it
was: an alert is resolved only by a poll that answered without it. ``watch.json`` counts the polls.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import grpc

from tradingdesk.security import channels
from tradingdesk.v1 import monitoring_pb2, monitoring_pb2_grpc

POLL_INTERVAL_S = 0.25
"""Wall seconds between two polls: part of every detection bound (``detection.BOUNDS``)."""
POLL_TIMEOUT_S = 2.0
ALERTS_FILE = "alerts.jsonl"
POLLS_FILE = "watch.json"


class AlertWatch:
    """``run`` polls until cancelled; ``write`` puts the episodes seen into the run directory."""

    def __init__(self, address: str, *, market_now: Callable[[], int], interval_s: float = POLL_INTERVAL_S) -> None:
        self.address = address
        self.market_now = market_now
        self.interval_s = interval_s
        self.episodes: list[dict] = []
        self._open: dict[str, dict] = {}  # fingerprint -> its open episode
        self.polls = 0
        self.unanswered: dict[str, int] = {}  # status code -> polls refused with it
        self.sources: set[str] = set()

    async def run(self) -> None:
        async with channels.aio_channel(self.address) as channel:
            stub = monitoring_pb2_grpc.MonitoringServiceStub(channel)
            while True:
                self.polls += 1
                try:
                    reply = await stub.ListAlerts(monitoring_pb2.ListAlertsRequest(), timeout=POLL_TIMEOUT_S)
                except grpc.aio.AioRpcError as err:
                    self.unanswered[err.code().name] = self.unanswered.get(err.code().name, 0) + 1
                else:
                    self.sources.add(reply.source)
                    self.seen(list(reply.alerts), market_ns=self.market_now(), wall_ns=time.time_ns())
                await asyncio.sleep(self.interval_s)

    def seen(self, alerts: list[monitoring_pb2.Alert], *, market_ns: int, wall_ns: int) -> None:
        """One answered poll: open an episode for each alert not listed before, resolve those no longer listed."""
        listed = {alert.fingerprint or _fingerprint(alert): alert for alert in alerts}
        for key in sorted(set(self._open) - set(listed)):
            episode = self._open.pop(key)
            episode.update(resolved_market_ns=market_ns, resolved_wall_ns=wall_ns)
        for key, alert in listed.items():
            if key in self._open:
                continue
            episode = {
                "name": alert.name,
                "severity": alert.severity,
                "labels": dict(alert.labels),
                "first_seen_market_ns": market_ns,
                "first_seen_wall_ns": wall_ns,
                "starts_ns": alert.starts_ns,
                "resolved_market_ns": None,
                "resolved_wall_ns": None,
            }
            self._open[key] = episode
            self.episodes.append(episode)

    def write(self, directory: Path) -> None:
        with (directory / ALERTS_FILE).open("w") as out:
            for episode in self.episodes:
                out.write(json.dumps(episode) + "\n")
        polls = {"polls": self.polls, "unanswered": self.unanswered, "sources": sorted(self.sources)}
        (directory / POLLS_FILE).write_text(json.dumps({**polls, "interval_s": self.interval_s}, indent=2) + "\n")


def _fingerprint(alert: monitoring_pb2.Alert) -> str:
    return "/".join(f"{k}={v}" for k, v in sorted(alert.labels.items())) or alert.name
