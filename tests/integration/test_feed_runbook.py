"""Walks docs/runbooks/feed-failover.md: its bash blocks run, in order, against a running embedded desk."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from tests.desk_runner import DeskProcess, write_desk

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "runbooks" / "feed-failover.md"


def runbook_steps(path: Path = RUNBOOK) -> dict[str, str]:
    """``# step: <name>`` first line of each ```bash block -> the block's script."""
    steps = {}
    for block in re.findall(r"```bash\n(.*?)```", path.read_text(), flags=re.S):
        first, _, rest = block.partition("\n")
        match = re.fullmatch(r"# step: (\S+)", first.strip())
        assert match, f"bash block without a '# step:' line: {block[:80]!r}"
        steps[match.group(1)] = rest
    return steps


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeskProcess]:
    proc = DeskProcess(write_desk(tmp_path_factory.mktemp("feed-runbook")))
    try:
        proc.wait_up()
        yield proc
    finally:
        assert proc.stop() == 0


def run_step(desk: DeskProcess, script: str, *, ok: tuple[int, ...] = (0,)) -> str:
    env = {
        **os.environ,
        "DESK_SPEC": str(desk.spec_path),
        "LOG_DIR": str(desk.spec_path.parent / "logs"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert proc.returncode in ok, f"runbook step failed ({proc.returncode}):\n{script}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_runbook_blocks_are_all_tagged() -> None:
    assert list(runbook_steps()) == ["status", "health", "python", "disable", "enable", "log"]


def test_feed_failover_runbook(desk: DeskProcess) -> None:
    steps = runbook_steps()
    out = run_step(desk, steps["status"])
    assert "market data: SERVING" in out and "vendor-a (replay): LIVE, active line A" in out
    assert "* line A: LIVE" in out and "  line B: LIVE" in out
    assert "tradingdesk.v1.MarketDataService: SERVING" in run_step(desk, steps["health"])
    out = run_step(desk, steps["python"])
    assert "serving: True" in out and "vendor-a FEED_HEALTH_LIVE active A" in out

    out = run_step(desk, steps["disable"])
    assert "line A: DISABLED" in out and "flapping, ticket MD-123" in out
    assert "* line B: LIVE" in out and "failovers 1" in out

    out = run_step(desk, steps["enable"])
    assert "* line A: LIVE" in out and "B -> A: failback" in out and "lost 0" in out
    out = run_step(desk, steps["log"])
    assert "active line A -> B" in out and "active line B -> A (failback)" in out and "disabled" in out


def test_the_grpcurl_call_is_served_by_reflection(desk: DeskProcess) -> None:
    """grpcurl is not installed here; what it needs, reflection describing GetFeedStatus, is checked instead."""
    with desk.channel("feeds") as channel:
        db = ProtoReflectionDescriptorDatabase(channel)
        assert "tradingdesk.v1.MarketDataService" in db.get_services()
        proto = db.FindFileContainingSymbol("tradingdesk.v1.MarketDataService")
        methods = {m.name for s in proto.service for m in s.method}
        assert {"GetFeedStatus", "SetLineEnabled", "Subscribe"} <= methods
