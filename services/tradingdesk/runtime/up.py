"""``tradingdesk up``: the embedded desk in the foreground, supervised, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tradingdesk.runtime.embedded import EmbeddedDesk, standbys_of
from tradingdesk.runtime.monitoring_stack import MonitoringStack
from tradingdesk.runtime.supervisor import Supervisor
from tradingdesk.spec.model import TradingDesk


async def run_embedded(
    desk: TradingDesk, spec_path: Path, log_dir: Path | None, *, monitoring: MonitoringStack | None = None
) -> int:
    """Exit 0 after a requested stop; 1 when supervision gave up on a service (the message says which). With
    ``monitoring``, Prometheus and Alertmanager run too (started first, so the desk's first metrics are scraped
    and its ListAlerts reads Alertmanager)."""
    standbys_of(desk, dict(os.environ))  # a standby asked for on SQLite: refused before anything starts
    env = {}
    if monitoring is not None:
        await monitoring.start()
        env["TD_ALERTMANAGER_URL"] = monitoring.alertmanager_url
        print(f"prometheus  {monitoring.prometheus_url}   alertmanager  {monitoring.alertmanager_url}", flush=True)
    embedded = EmbeddedDesk(desk, spec_path, log_dir=log_dir, env=env)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await embedded.start()
    except BaseException:
        if monitoring is not None:
            await monitoring.stop()
        raise
    if desk.spec.monitoring.dashboard_port:
        host = desk.spec.services.monitoring.host
        url = f"{'https' if desk.spec.access.tls else 'http'}://{host}:{desk.spec.monitoring.dashboard_port}/"
        hint = "   (a browser logs in once: login?token=<bearer token>)" if desk.spec.access.tls else ""
        print(f"dashboard   {url}{hint}", flush=True)
    print(f"desk {desk.name} is up; logs in {log_dir}; Ctrl-C or SIGTERM drains and stops it", flush=True)
    stopper = asyncio.create_task(stop.wait())
    supervised = asyncio.create_task(Supervisor(embedded).run())
    done, _ = await asyncio.wait({stopper, supervised}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if supervised in done:
        print(f"supervisor: {supervised.result()}", file=sys.stderr, flush=True)
        code = 1
    else:
        supervised.cancel()  # before the drain, so the services it stops are not restarted
        await asyncio.gather(supervised, return_exceptions=True)
    # a compliance down now (crashed, its restart pending) is brought back to seal first (EmbeddedDesk.stop)
    print("draining: routing first (its standby before it), then the rest", flush=True)
    await embedded.stop()
    if monitoring is not None:
        await monitoring.stop()
    print("desk stopped", flush=True)
    return code
