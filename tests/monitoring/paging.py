"""A whole paging chain on loopback: an embedded desk, Prometheus scraping it with the desk's generated rules,
Alertmanager routing with the desk's generated tree, and the local PagerDuty Events API v2 receiver.

Shared by the end-to-end test (tests/monitoring/test_paging_e2e.py) and the ``alert_to_page_s`` benchmark.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.desk_runner import RunningDesk, free_ports, wait_for, write_desk
from tests.monitoring.pagerduty import PagerDutyReceiver, Received
from tests.monitoring.tools import bin_dir, prometheus_query
from tradingdesk.runtime.monitoring_stack import MonitoringStack
from tradingdesk.v1 import market_data_pb2, market_data_pb2_grpc

ROUTING_KEY = "R0UT1NGKEY0F7HEDESK1NPAGERDUTY00"  # 32 characters, like a real integration key
LOSS_ACCOUNT = "ACC-EQ-2"


def paging_desk(receiver_url: str) -> Callable[[dict[str, Any]], None]:
    """The example desk, paging the local receiver; ACC-EQ-2 with a daily loss limit of one dollar."""

    def mutate(doc: dict[str, Any]) -> None:
        paging = doc["spec"]["monitoring"].setdefault("paging", {})
        paging.update({"pagerdutyUrl": receiver_url, "criticalGroupIntervalSeconds": 2})
        doc["spec"]["risk"].setdefault("scopes", []).append({"account": LOSS_ACCOUNT, "maxDailyLoss": "1"})
        doc["spec"]["risk"]["maxSubmitsPerSecond"] = 100_000

    return mutate


class PagingRig:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.receiver = PagerDutyReceiver(ROUTING_KEY, throttle_every=3)
        self.stack: MonitoringStack | None = None
        self.desk: RunningDesk | None = None
        self.extra: list[asyncio.subprocess.Process] = []

    async def start(self) -> PagingRig:
        self.receiver.__enter__()
        spec = write_desk(self.tmp, paging_desk(self.receiver.url))
        key = self.tmp / "routing-key"
        key.write_text(ROUTING_KEY)
        prom_port, am_port = free_ports(2)
        desk = RunningDesk(spec)
        self.stack = MonitoringStack(
            desk.desk,
            self.tmp / "monitoring",
            prometheus_port=prom_port,
            alertmanager_port=am_port,
            prometheus_bin=str(bin_dir("prometheus") / "prometheus"),
            alertmanager_bin=str(bin_dir("alertmanager") / "alertmanager"),
            routing_key_file=key,
        )
        # The desk first: Prometheus started before it would page DeskDown for the seconds it takes to start.
        self.desk = RunningDesk(spec, env={"TD_ALERTMANAGER_URL": self.stack.alertmanager_url})
        await self.desk.start()
        await self.stack.start()
        await wait_for(self._all_scraped, timeout=60, interval=0.5)
        return self

    def _all_scraped(self) -> bool:
        assert self.stack is not None and self.desk is not None
        up = prometheus_query(self.stack.prometheus_url, f'up{{desk="{self.desk.desk.name}"}} == 1')
        return len(up) == 5

    async def stop(self) -> None:
        for proc in self.extra:
            if proc.returncode is None:
                proc.terminate()
                await proc.wait()
        if self.desk is not None and self.desk.embedded is not None:
            await self.desk.stop()
        if self.stack is not None:
            await self.stack.stop()
        self.receiver.__exit__()

    # -- faults --------------------------------------------------------------------------------------------------
    async def set_lines(self, feed: str, enabled: bool) -> None:
        assert self.desk is not None
        async with self.desk.channel("feeds") as ch:
            stub = market_data_pb2_grpc.MarketDataServiceStub(ch)
            for line in ("A", "B"):
                request = market_data_pb2.SetLineEnabledRequest(
                    feed=feed, line=line, enabled=enabled, reason="paging drill"
                )
                await stub.SetLineEnabled(request, timeout=5)

    async def kill_service(self, name: str) -> None:
        assert self.desk is not None and self.desk.embedded is not None
        child = self.desk.embedded.children[name]
        child.process.kill()
        await child.process.wait()

    async def restart_service(self, name: str) -> None:
        """A fresh process for a killed service, as a supervisor would start it."""
        assert self.desk is not None
        log = (self.desk.spec_path.parent / "logs" / f"{name}-restarted.log").open("ab")
        cmd = [sys.executable, "-m", "tradingdesk.cli.main", "serve", name, "-f", str(self.desk.spec_path)]
        self.extra.append(await asyncio.create_subprocess_exec(*cmd, stdout=log, stderr=log))
        log.close()

    # -- pages ---------------------------------------------------------------------------------------------------
    async def page(self, action: str, alertname: str, *, after: float, timeout: float = 60.0) -> Received:
        """The first ``action`` event for ``alertname`` the receiver accepted after ``after`` (time.time())."""

        def found() -> Received | None:
            return next(
                (r for r in self.receiver.accepted(action) if r.at >= after and alertname in pages_alertnames(r)),
                None,
            )

        return await wait_for(found, timeout=timeout, interval=0.02)


def pages_alertnames(event: Received) -> str:
    """The alert names an event is about (``class`` is the group's common alertname; the summary names it too)."""
    payload = event.body.get("payload", {})
    return f"{payload.get('class', '')} {payload.get('summary', '')}"


@contextlib.asynccontextmanager
async def paging_rig(tmp: Path):
    rig = PagingRig(tmp)
    try:
        yield await rig.start()
    finally:
        await rig.stop()
