"""Starting real embedded desks for tests: five processes on free loopback ports, state in a temp dir.

Tests wait for what a desk does with ``wait_for`` / ``wait_until`` (``tests/waiting.py``, re-exported here).
"""

from __future__ import annotations

import random
import socket
from collections.abc import Collection
from pathlib import Path
from typing import Any

import grpc
import yaml

from tests import access
from tests.waiting import wait_for, wait_until
from tradingdesk.runtime.embedded import EmbeddedDesk
from tradingdesk.spec.load import load_desk
from tradingdesk.spec.model import SERVICE_NAMES

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "desk.yaml"
TEST_READY_TIMEOUT_S = 60.0


def free_ports(n: int, *, avoid: Collection[int] = ()) -> list[int]:
    """``n`` free loopback ports, none in ``avoid``: ports an earlier call handed out are free again until bound,
    and the kernel may hand them out again (CI once gave a token port that was the desk's risk port)."""
    socks = []
    ports: list[int] = []
    try:
        while len(ports) < n:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)  # held until the end, so no port comes twice
            if s.getsockname()[1] not in avoid:
                ports.append(s.getsockname()[1])
    finally:
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
    doc["spec"].setdefault("access", {})["identities"] = None
    if mutate is not None:
        mutate(doc)
    if doc["spec"].get("access", {}).get("identities", []) is None:  # one identity per role, on these accounts
        doc["spec"]["access"]["identities"] = access.test_identities([a["name"] for a in doc["spec"]["accounts"]])
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

    def channel(self, service: str, role: str = "admin", **kw) -> grpc.aio.Channel:
        """A channel to ``service`` with the credentials of ``role`` (tests/access.py)."""
        return access.aio_channel(self.desk, self.address(service), role, **kw)

    aio_channel = channel  # the name DeskProcess gives its asyncio channels: helpers take either desk

    async def start(self) -> RunningDesk:
        self.embedded = EmbeddedDesk(self.desk, self.spec_path, log_dir=self.spec_path.parent / "logs", env=self.env)
        # a loaded test machine can take far longer than a person's `tradingdesk up` to start five interpreters
        await self.embedded.start(print_line=self.lines.append, ready_timeout=TEST_READY_TIMEOUT_S)
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

    def channel(self, service: str, role: str = "admin", **kw) -> grpc.Channel:
        """A blocking channel to ``service`` with the credentials of ``role`` (tests/access.py)."""
        return access.channel(self.desk, self.address(service), role, **kw)

    def aio_channel(self, service: str, role: str = "admin", **kw) -> grpc.aio.Channel:
        """An asyncio channel to ``service`` with the credentials of ``role`` (tests/access.py)."""
        return access.aio_channel(self.desk, self.address(service), role, **kw)

    def wait_up(self, timeout: float = 90.0) -> None:
        def up() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tradingdesk up exited {self.proc.returncode}:\n{self.log.read_text()}")
            return "is up" in self.log.read_text()

        wait_until(up, timeout, what=f"the desk to be up; its log:\n{self.log.read_text()[-2000:]}")

    def stop(self, timeout: float = 30.0) -> int:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._out.close()
        return code


__all__ = ["DeskProcess", "RunningDesk", "free_ports", "wait_for", "wait_until", "write_desk"]


class ServiceProcess:
    """One more process of one service of a desk (``tradingdesk serve``) on a port of its own: a standby of a
    running desk, or a service restarted by hand."""

    def __init__(self, service: str, spec_path: Path, env: dict[str, str], log: Path) -> None:
        import os
        import subprocess
        import sys

        (port,) = free_ports(1)
        self.address = f"127.0.0.1:{port}"
        self.out = log.open("wb")
        cmd = [sys.executable, "-m", "tradingdesk.cli.main", "serve", service, "-f", str(spec_path)]
        self.proc = subprocess.Popen(
            [*cmd, "--bind", self.address], env={**os.environ, **env}, stdout=self.out, stderr=self.out
        )

    def stop(self) -> None:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)
        self.out.close()
