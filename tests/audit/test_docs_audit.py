"""docs/audit.md: every command it shows runs as written, on a real log."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.audit.logs import build_log
from tests.desk_runner import REPO

DOC = REPO / "docs" / "audit.md"


def bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", DOC.read_text(), re.S)


def test_the_auditors_commands_run_as_written(tmp_path: Path) -> None:
    _, bucket, signer = build_log(tmp_path)
    (tmp_path / "signing.pub").write_text(f"{signer.verifier()}\n")
    tradingdesk = Path(sys.executable).parent / "tradingdesk"
    keygen, auditor = bash_blocks()
    env = {
        **os.environ,
        "BUCKET": str(bucket.root),
        "PUBLIC_KEY": str(tmp_path / "signing.pub"),
        "PATH": f"{tradingdesk.parent}{os.pathsep}{os.environ['PATH']}",
    }
    run = subprocess.run(["bash", "-ec", auditor], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("result        OK") == 2
    assert "verified: signed by tradingdesk.io/audit/test-desk" in run.stdout
    rows = (tmp_path / "records.csv").read_text().splitlines()
    assert rows[0].startswith("index,time,ts_ns,incarnation,seq,source,kind") and len(rows) == 101

    (first, _kubectl) = keygen.strip().splitlines()  # kubectl needs a cluster; keygen runs as shown
    made = subprocess.run(["bash", "-ec", first], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "keys" / "signing.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "keys" / "signing.pub").read_text().startswith("tradingdesk.io/audit/trading/us-equities+")
