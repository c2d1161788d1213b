"""The outage spool has one owner at a time (``storage/spool.py``): a second owner, in this process or another,
cannot take it while the first holds it, and can once the first lets go or its process dies (even by SIGKILL, as
a routing standby's takeover relies on), and then reads what the first appended up to that moment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tradingdesk.storage.spool import OutageSpool, SpoolOwned

ROW = (1, 5, "new", "o1", '{"id":"o1"}')

_HOLDER = """
import sys
from pathlib import Path
from tradingdesk.storage.spool import OutageSpool
spool = OutageSpool(Path(sys.argv[1]))
spool.own(within_s=0)
spool.append([(1, 5, "new", "o1", '{"id":"o1"}')])
print("owned", flush=True)
sys.stdin.read()
"""


def test_a_second_owner_waits_for_the_first_to_let_go(tmp_path: Path) -> None:
    first, second = OutageSpool(tmp_path / "spool"), OutageSpool(tmp_path / "spool")
    first.own(within_s=0)
    assert first.owned
    assert first.own(within_s=0) == 0.0  # idempotent: already the owner
    with pytest.raises(SpoolOwned, match="another process still owns it"):
        second.own(within_s=0)
    assert not second.owned
    first.append([ROW])
    first.release()
    assert not first.owned
    second.own(within_s=0)
    assert second.owned and second.read() == [ROW] and len(second) == 1
    with pytest.raises(SpoolOwned):
        first.own(within_s=0)
    second.release()
    assert second.owner_path.exists()  # kept: every owner locks the same file


def test_the_owner_lock_goes_with_a_sigkilled_process(tmp_path: Path) -> None:
    path = tmp_path / "spool"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "owned"
        successor = OutageSpool(path)
        with pytest.raises(SpoolOwned):
            successor.own(within_s=0)
        os.kill(holder.pid, signal.SIGKILL)
        assert holder.wait(timeout=30) == -signal.SIGKILL
        successor.own(within_s=0)  # the kernel dropped the flock with the process
        assert successor.read() == [ROW]  # what the dead owner appended (fsynced) before it died
        successor.release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
