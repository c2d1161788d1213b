"""Prometheus and Alertmanager next to an embedded desk (``tradingdesk up --monitoring``), configured from its spec.

The rule file, the Alertmanager configuration and the scrape job are the ones ``tradingdesk.spec.alerting``
generates (the operator renders the same ones on Kubernetes). With the desk's TLS on, Prometheus scrapes over
HTTPS with the ``svc:prometheus`` client certificate of the desk's local CA (issued here if missing). The
binaries are found on PATH or given explicitly; ``make monitoring-build`` builds them from the Go module proxy
(tests/monitoring/build.sh).
Alertmanager runs without clustering (one instance, no gossip port).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from tradingdesk.security.identity import SCRAPER_IDENTITY
from tradingdesk.security.local import client_of, ensure_local
from tradingdesk.spec.alerting import alertmanager_config, prometheus_config, rule_groups, scrape_tls
from tradingdesk.spec.model import TradingDesk

log = logging.getLogger(__name__)
READY_TIMEOUT_S = 30.0


class MonitoringStackError(RuntimeError):
    pass


def find_binary(name: str, explicit: str | None = None) -> str:
    path = explicit or shutil.which(name)
    if not path or not Path(path).exists():
        raise MonitoringStackError(
            f"{name} not found: put it on PATH or pass its path (`make monitoring-build` builds it into "
            f"~/.cache/tradingdesk/)"
        )
    return path


def write_configs(
    desk: TradingDesk,
    directory: Path,
    *,
    alertmanager_address: str,
    routing_key_file: Path | None = None,
    metrics_host: str = "127.0.0.1",
) -> dict[str, Path]:
    """The three files, written into ``directory``; returns their paths by name."""
    directory.mkdir(parents=True, exist_ok=True)
    rules = directory / "rules.yml"
    rules.write_text(yaml.safe_dump(rule_groups(desk), sort_keys=False, width=1000))
    tls = None
    if desk.spec.access.tls:
        scraper = client_of(ensure_local(desk), SCRAPER_IDENTITY)
        tls = scrape_tls(ca_file=str(scraper.ca), cert_file=str(scraper.cert), key_file=str(scraper.key))
    prom = directory / "prometheus.yml"
    config = prometheus_config(
        desk, rule_files=[str(rules)], alertmanager=alertmanager_address, host=metrics_host, tls=tls
    )
    prom.write_text(yaml.safe_dump(config, sort_keys=False))
    am = directory / "alertmanager.yml"
    key_path = str(routing_key_file) if routing_key_file is not None else None
    am.write_text(yaml.safe_dump(alertmanager_config(desk, routing_key_file_path=key_path), sort_keys=False))
    return {"rules": rules, "prometheus": prom, "alertmanager": am}


@dataclass
class _Process:
    name: str
    process: asyncio.subprocess.Process
    url: str


async def _wait_ready(url: str, process: asyncio.subprocess.Process, name: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise MonitoringStackError(f"{name} exited with {process.returncode} (see its log)")
        try:
            ok = await asyncio.to_thread(lambda: urllib.request.urlopen(f"{url}/-/ready", timeout=1).status == 200)
            if ok:
                return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise MonitoringStackError(f"{name} not ready at {url} within {READY_TIMEOUT_S:.0f} s")


class MonitoringStack:
    """Alertmanager, then Prometheus (which sends to it), on loopback; ``stop`` ends both."""

    def __init__(
        self,
        desk: TradingDesk,
        workdir: Path,
        *,
        prometheus_port: int,
        alertmanager_port: int,
        prometheus_bin: str | None = None,
        alertmanager_bin: str | None = None,
        routing_key_file: Path | None = None,
    ) -> None:
        self.desk = desk
        self.workdir = workdir
        self.prometheus_bin = find_binary("prometheus", prometheus_bin)
        self.alertmanager_bin = find_binary("alertmanager", alertmanager_bin)
        self.prometheus_address = f"127.0.0.1:{prometheus_port}"
        self.alertmanager_address = f"127.0.0.1:{alertmanager_port}"
        self.routing_key_file = routing_key_file
        self.processes: list[_Process] = []

    @property
    def prometheus_url(self) -> str:
        return f"http://{self.prometheus_address}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://{self.alertmanager_address}"

    async def start(self) -> None:
        files = write_configs(
            self.desk,
            self.workdir / "config",
            alertmanager_address=self.alertmanager_address,
            routing_key_file=self.routing_key_file,
        )
        try:
            await self._spawn(
                "alertmanager",
                self.alertmanager_bin,
                [
                    f"--config.file={files['alertmanager']}",
                    f"--storage.path={self.workdir / 'alertmanager-data'}",
                    f"--web.listen-address={self.alertmanager_address}",
                    "--cluster.listen-address=",
                    "--log.level=info",
                ],
                self.alertmanager_url,
            )
            await self._spawn(
                "prometheus",
                self.prometheus_bin,
                [
                    f"--config.file={files['prometheus']}",
                    f"--storage.tsdb.path={self.workdir / 'prometheus-data'}",
                    f"--web.listen-address={self.prometheus_address}",
                    "--storage.tsdb.retention.time=2d",
                    "--log.level=info",
                ],
                self.prometheus_url,
            )
        except BaseException:
            await self.stop()
            raise

    async def _spawn(self, name: str, binary: str, args: list[str], url: str) -> None:
        logs = self.workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"{name}.log", "ab") as out:
            process = await asyncio.create_subprocess_exec(
                binary, *args, stdout=out, stderr=out, stdin=asyncio.subprocess.DEVNULL
            )
        self.processes.append(_Process(name, process, url))
        await _wait_ready(url, process, name)
        log.info("%s ready on %s", name, url)

    async def stop(self, timeout: float = 10.0) -> None:
        for p in reversed(self.processes):
            if p.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    p.process.terminate()
                try:
                    async with asyncio.timeout(timeout):
                        await p.process.wait()
                except TimeoutError:
                    p.process.kill()
                    await p.process.wait()
        self.processes.clear()
