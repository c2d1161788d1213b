"""SIGTERM stops ``tradingdesk simulate`` the way its own end does: the run's desk is stopped and the
PostgreSQL server it started for a ``database_down`` fault is stopped and removed. That server is a daemon of
its own (``pg_ctl``); before, SIGTERM ended the simulation at once and the server and its directory stayed.
The clients and the probe are stopped as at the end of a run, so the probe does not fail under it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.desk_runner import REPO, write_desk
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
FAULTS = 'faults:\n  - {at: "00:08:00", kind: database_down, for: 10}\n'
STARTED = "session started at "


@pytest.fixture
def pg_parent() -> Iterator[Path]:
    """Where the run's server goes (``TD_PG_TMP``): under /tmp, which the server's own user can reach."""
    path = Path(tempfile.mkdtemp(prefix="td-sigterm-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def processes_naming(text: str) -> list[str]:
    """The command lines of running processes that contain ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and str(os.getpid()) != entry.name:
            found.append(cmdline)
    return found


def test_sigterm_stops_the_desk_and_removes_the_runs_database(tmp_path: Path, pg_parent: Path) -> None:
    spec = write_desk(tmp_path)
    faults = tmp_path / "faults.yaml"
    faults.write_text(FAULTS)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "tradingdesk.cli.main", "simulate", "-f", str(spec), "--out", str(out)]
    cmd += ["--speed", "20", "--duration", "900", "--faults", str(faults)]
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        env={**os.environ, "TD_PG_TMP": str(pg_parent)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    watchdog = threading.Timer(300, proc.kill)  # a run that never starts or never stops fails, not hangs
    watchdog.start()
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith(STARTED):
                break
        assert any(line.startswith(STARTED) for line in lines), "".join(lines)
        (server_dir,) = pg_parent.glob("tdpg-*")
        assert processes_naming(str(server_dir)), "the run's PostgreSQL runs"

        proc.send_signal(signal.SIGTERM)
        rest = proc.stdout.read()
        proc.wait()
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
    output = "".join(lines) + rest
    assert proc.returncode == 128 + signal.SIGTERM, output[-3000:]
    assert "stopping the desk" in rest and "stopped by SIGTERM" in rest, output[-3000:]
    # the probe is stopped with the run, not killed under it: before, its process was killed while its task still
    # waited on it, which said "SIMULATION PROBE FAILED" and left asyncio's "Task exception was never retrieved"
    assert "PROBE FAILED" not in rest and "never retrieved" not in rest, output[-3000:]
    assert not (out / "verdict.json").exists()
    assert list(pg_parent.iterdir()) == [], "the run's server directory was removed"
    wait_until(lambda: not processes_naming(str(server_dir)), timeout=30, what="the run's PostgreSQL gone")
    assert processes_naming(str(out)) == [], "no process of the run's desk is left"
