"""The desk's alerts as the desk itself reports them during a simulation, into ``alerts.jsonl`` of the run
directory: the alerts of every status the monitoring service streams (``StreamDeskStatus``: the status it
refreshes every ``spec.monitoring.healthCheckIntervalMs`` and publishes when any part of it changes, alerts
included; the same alerts ``ListAlerts`` lists). Following the stream adds no load to the desk, where polling
``ListAlerts`` would make monitoring probe every service and read routing's metrics on each call.

Each line is one episode of one alert (one fingerprint, from the status that first listed it to the first
that no longer did): its name, severity and labels, when the watch first saw it (market and wall ns), the
``starts_ns`` the desk gave it (0 from the desk's own checks, which do not date their alerts; Alertmanager's
``startsAt`` otherwise), and when it was resolved (null: still listed at the end). The verdict's detection
line (``simulate.detection``) reads this file, never the watch itself.

While the stream is broken (monitoring restarting) every open episode stays as it was: an alert is resolved
only by a status without it. ``watch.json`` counts the statuses received and the reconnections.
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

RECONNECT_S = 0.25
"""Wall seconds before following the stream again after it broke."""
ALERTS_FILE = "alerts.jsonl"
WATCH_FILE = "watch.json"


class AlertWatch:
    """``run`` follows the stream until cancelled; ``write`` puts the episodes seen into the run directory."""

    def __init__(self, address: str, *, market_now: Callable[[], int]) -> None:
        self.address = address
        self.market_now = market_now
        self.episodes: list[dict] = []
        self._open: dict[str, dict] = {}  # fingerprint -> its open episode
        self.statuses = 0
        self.broken: dict[str, int] = {}  # status code -> times the stream broke (or was refused) with it
        self.sources: set[str] = set()

    async def run(self) -> None:
        """Follow the stream until cancelled, again after each break."""
        async with channels.aio_channel(self.address, options=channels.FAST_RECONNECT) as channel:
            stub = monitoring_pb2_grpc.MonitoringServiceStub(channel)
            while True:
                try:
                    async for status in stub.StreamDeskStatus(monitoring_pb2.StreamDeskStatusRequest()):
                        self.statuses += 1
                        self.sources.add(status.alert_source)
                        self.seen(list(status.alerts), market_ns=self.market_now(), wall_ns=time.time_ns())
                    self.broken["ended"] = self.broken.get("ended", 0) + 1
                except grpc.aio.AioRpcError as err:
                    self.broken[err.code().name] = self.broken.get(err.code().name, 0) + 1
                await asyncio.sleep(RECONNECT_S)

    def seen(self, alerts: list[monitoring_pb2.Alert], *, market_ns: int, wall_ns: int) -> None:
        """One status: open an episode for each alert not listed before, resolve those no longer listed."""
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
        watch = {"statuses": self.statuses, "broken": self.broken, "sources": sorted(self.sources)}
        (directory / WATCH_FILE).write_text(json.dumps(watch, indent=2) + "\n")


def _fingerprint(alert: monitoring_pb2.Alert) -> str:
    return "/".join(f"{k}={v}" for k, v in sorted(alert.labels.items())) or alert.name
