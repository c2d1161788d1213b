"""Starting real embedded desks for tests: five processes on free loopback ports, state in a temp dir."""

from __future__ import annotations

import asyncio
import random
import socket
from pathlib import Path
from typing import Any

import yaml

from tradingdesk.runtime.embedded import EmbeddedDesk
from tradingdesk.spec.load import load_desk
from tradingdesk.spec.model import SERVICE_NAMES

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "desk.yaml"


def free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def free_port_run(n: int, low: int = 20_000, high: int = 32_000) -> int:
    """The first of ``n`` consecutive free loopback ports, below the kernel's ephemeral range (where
    ``free_ports`` and outgoing connections take theirs), so nobody else is handed one of them meanwhile."""
    for _ in range(200):
        base = random.randrange(low, high - n)
        socks = []
        try:
            for port in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no {n} consecutive free ports in {low}..{high}")


def write_desk(tmp: Path, mutate: Any = None, source: Path = EXAMPLE) -> Path:
    """A copy of the example desk on free ports with its state under ``tmp``; ``mutate(doc)`` edits it."""
    doc = yaml.safe_load(source.read_text())
    ports = free_ports(len(SERVICE_NAMES) + 1)
    doc["spec"]["services"] = {name: {"port": port} for name, port in zip(SERVICE_NAMES, ports, strict=False)}
    monitoring = doc["spec"].setdefault("monitoring", {})
    monitoring["metricsPort"] = free_port_run(len(SERVICE_NAMES))  # one /metrics per embedded service
    monitoring["dashboardPort"] = ports[-1]
    doc["spec"]["storage"] = {"dataDir": str(tmp / "var")}
    doc["spec"]["compliance"] = {"auditBucket": {"kind": "filesystem", "path": str(tmp / "audit")}}
    if mutate is not None:
        mutate(doc)
    path = tmp / "desk.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


class RunningDesk:
    """A desk started in the background of a test; ``address(service)`` is where to call it."""

    def __init__(self, spec_path: Path, env: dict[str, str] | None = None) -> None:
        self.spec_path = spec_path
        self.desk = load_desk(spec_path)
        self.env = env
        self.embedded: EmbeddedDesk | None = None
        self.lines: list[str] = []

    def address(self, service: str) -> str:
        return f"127.0.0.1:{self.desk.spec.services.port_of(service)}"

    async def start(self) -> RunningDesk:
        self.embedded = EmbeddedDesk(self.desk, self.spec_path, log_dir=self.spec_path.parent / "logs", env=self.env)
        await self.embedded.start(print_line=self.lines.append)
        return self

    async def stop(self) -> list[int | None]:
        assert self.embedded is not None
        await self.embedded.stop()
        return [c.process.returncode for c in self.embedded.children.values()]

    def logs(self) -> str:
        out = []
        for f in sorted((self.spec_path.parent / "logs").glob("*.log")):
            out.append(f"== {f.name}\n{f.read_text()[-4000:]}")
        return "\n".join(out)


async def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` (sync or async) until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)


class DeskProcess:
    """``tradingdesk up`` as a person runs it, in a subprocess; for sync tests that share one desk."""

    def __init__(self, spec_path: Path) -> None:
        import subprocess
        import sys

        self.spec_path = spec_path
        self.desk = load_desk(spec_path)
        self.log = spec_path.parent / "up.log"
        self._out = self.log.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tradingdesk.cli.main",
                "up",
                "-f",
                str(spec_path),
                "--log-dir",
                str(spec_path.parent / "logs"),
            ],
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def address(self, service: str) -> str:
        return f"127.0.0.1:{self.desk.spec.services.port_of(service)}"

    def wait_up(self, timeout: float = 30.0) -> None:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "is up" in self.log.read_text():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"tradingdesk up exited {self.proc.returncode}:\n{self.log.read_text()}")
            time.sleep(0.05)
        raise TimeoutError(self.log.read_text())

    def stop(self, timeout: float = 30.0) -> int:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._out.close()
        return code
