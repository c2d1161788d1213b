"""The commands the README and the security guide show work as shown against a running desk (with the example
desk's own identities, which the guide names)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.desk_runner import EXAMPLE, REPO, DeskProcess, wait_until, write_desk

pytestmark = pytest.mark.slow


def commands(doc: str, heading: str) -> list[str]:
    """The lines of the first bash block under ``heading`` in ``doc``."""
    section = (REPO / doc).read_text().split(heading, 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def example_identities(doc: dict) -> None:
    doc["spec"]["access"]["identities"] = yaml.safe_load(EXAMPLE.read_text())["spec"]["access"]["identities"]


def test_readme_commands(tmp_path: Path) -> None:
    spec = write_desk(tmp_path, example_identities)
    desk = DeskProcess(spec)
    try:
        desk.wait_up()
        bindir = str(Path(sys.executable).parent)
        env = {**os.environ, "PATH": bindir + os.pathsep + os.environ["PATH"]}  # the guide says `tradingdesk`
        outputs = []
        for command in commands("README.md", "## Trying it") + commands("docs/security.md", "## Adding a client"):
            command = command.replace(".venv/bin/", f"{bindir}/").replace("examples/desk.yaml", str(spec))

            def ran(command: str = command) -> subprocess.CompletedProcess:
                run = subprocess.run(command, shell=True, env=env, capture_output=True, text=True, timeout=30)
                # The first order waits for the first quotes to arrive; anything else is an answer.
                return run if run.returncode == 0 or "market data has not arrived" not in run.stderr else None

            run = wait_until(ran, 10, 0.2, what=f"{command} to find market data")
            assert run.returncode == 0, f"{command}\n{run.stdout}\n{run.stderr}"
            outputs.append(run.stdout)
        submitted, listed, positions, feeds, listed_as_trader = outputs
        assert feeds.startswith("market data: SERVING") and "vendor-a (replay)" in feeds
        assert "PENDING_NEW" in submitted
        order_id = submitted.splitlines()[2].split()[0]
        assert order_id in listed and "AAPL" in listed
        assert "ACC-EQ-1" in positions and "AAPL" in positions
        assert order_id in listed_as_trader  # trader-eq1's certificate, entitled to ACC-EQ-1
    finally:
        assert desk.stop() == 0
