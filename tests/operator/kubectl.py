"""kubectl for the operator's tests: every call bounded, every failure with kubectl's own message."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def ok(self) -> bool:
        return self.code == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_http(url: str, timeout: float, process: subprocess.Popen | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited ({process.returncode}): {log.read_text() if log else ''}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not answering after {timeout}s" + (f"\n{log.read_text()[-3000:]}" if log else ""))


class Kubectl:
    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        self.binary = shutil.which("kubectl") or "kubectl"

    def run(self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 90) -> Result:
        proc = subprocess.run(
            [self.binary, "--kubeconfig", str(self.kubeconfig), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        if check and not result.ok:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return result

    def apply(self, document: dict[str, Any], namespace: str, check: bool = True) -> Result:
        return self.run("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(document), check=check)

    def json(self, *args: str) -> dict[str, Any]:
        return json.loads(self.run(*args, "-o", "json").out)

    def desk(self, namespace: str, name: str) -> dict[str, Any]:
        return self.json("get", "desk", name, "-n", namespace)

    def condition(self, namespace: str, name: str, type_: str) -> dict[str, Any]:
        conds = self.desk(namespace, name).get("status", {}).get("conditions", [])
        return next((c for c in conds if c["type"] == type_), {})

    def wait_established(self, crd: str, timeout: float = 60) -> None:
        """Wait for ``crd`` to be served.

        Not ``kubectl wait --for=condition=Established``: right after the CRD is created it has no
        ``status.conditions`` yet, and kubectl then fails at once instead of waiting (seen on a fresh cluster).
        """
        path = '{.status.conditions[?(@.type=="Established")].status}'
        established = lambda: self.run("get", "crd", crd, "-o", f"jsonpath={path}", check=False).out == "True"  # noqa: E731
        self.wait_until(f"CRD {crd} established", established, timeout=timeout)

    def wait_ready(self, namespace: str, name: str, timeout: int = 90) -> None:
        self.run("wait", f"desk/{name}", "-n", namespace, "--for=condition=Ready", f"--timeout={timeout}s",
                 timeout=timeout + 10)  # fmt: skip

    def desk_row(self, namespace: str, name: str) -> dict[str, str]:
        """``kubectl get desk`` as {column: cell}, read by the header's offsets (an empty cell stays empty)."""
        head, row = self.run("get", "desk", name, "-n", namespace).out.splitlines()[:2]
        names = head.split()
        starts = [head.index(n) for n in names] + [len(row) + 1]
        return {n: row[starts[i] : starts[i + 1]].strip() for i, n in enumerate(names)}

    def events(self, namespace: str, name: str) -> list[dict[str, Any]]:
        sel = f"involvedObject.kind=TradingDesk,involvedObject.name={name}"
        return self.json("get", "events", "-n", namespace, "--field-selector", sel)["items"]

    def event_reasons(self, namespace: str, name: str) -> list[str]:
        return [e["reason"] for e in self.events(namespace, name)]

    def namespaces_with_desks(self) -> list[str]:
        items = self.json("get", "desk", "-A").get("items", [])
        return sorted({i["metadata"]["namespace"] for i in items})

    def fresh_namespace(self, name: str, timeout: float = 180) -> None:
        """Create ``name``; a leftover of an earlier run is deleted first (its desks finalized by the operator)."""
        if self.run("get", "namespace", name, check=False).ok:
            self.run("delete", "desk", "--all", "-n", name, "--timeout=60s", check=False)
            self.run("delete", "namespace", name, "--wait=false", check=False)
            gone = lambda: not self.run("get", "namespace", name, check=False).ok  # noqa: E731
            self.wait_until(f"namespace {name} from an earlier run to go", gone, timeout=timeout, every=1)
        self.run("create", "namespace", name)

    def wait_until(self, what: str, check: Callable[[], T], timeout: float = 60, every: float = 0.25) -> T:
        return wait_until(check, timeout, every, what=what)
