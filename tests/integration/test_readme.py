"""The commands the README shows work as shown against a running desk."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.desk_runner import REPO, DeskProcess, wait_until, write_desk

pytestmark = pytest.mark.slow


def trying_it_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Trying it", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_readme_commands(tmp_path: Path) -> None:
    desk = DeskProcess(write_desk(tmp_path))
    try:
        desk.wait_up()
        env = {**os.environ, "TD_ADDR_ROUTING": desk.address("routing"), "TD_ADDR_FEEDS": desk.address("feeds")}
        bindir = str(Path(sys.executable).parent)
        outputs = []
        for command in trying_it_commands():
            command = command.replace(".venv/bin/", f"{bindir}/")

            def ran(command: str = command) -> subprocess.CompletedProcess:
                run = subprocess.run(command, shell=True, env=env, capture_output=True, text=True, timeout=30)
                # The first order waits for the first quotes to arrive; anything else is an answer.
                return run if run.returncode == 0 or "market data has not arrived" not in run.stderr else None

            run = wait_until(ran, 10, 0.2, what=f"{command} to find market data")
            assert run.returncode == 0, f"{command}\n{run.stdout}\n{run.stderr}"
            outputs.append(run.stdout)
        submitted, listed, positions, feeds = outputs
        assert feeds.startswith("market data: SERVING") and "vendor-a (replay)" in feeds
        assert "PENDING_NEW" in submitted
        order_id = submitted.splitlines()[2].split()[0]
        assert order_id in listed and "AAPL" in listed
        assert "ACC-EQ-1" in positions and "AAPL" in positions
    finally:
        assert desk.stop() == 0
