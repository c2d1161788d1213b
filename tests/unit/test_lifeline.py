"""runtime/lifeline.py in a real child process: it arms only under a supervisor, and a child whose supervisor is
already gone exits rather than run on as an orphan. (tests/integration/test_supervision.py SIGKILLs a real
``tradingdesk up`` and sees its five services go.)"""

from __future__ import annotations

import os
import subprocess
import sys

from tradingdesk.runtime.lifeline import SUPERVISOR_PID_ENV

ARM = (
    "import os, sys; from tradingdesk.runtime.lifeline import die_with_parent; print(die_with_parent(dict(os.environ)))"
)


def run(env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != SUPERVISOR_PID_ENV}
    return subprocess.run([sys.executable, "-c", ARM], env={**base, **env}, capture_output=True, text=True, timeout=60)


def test_armed_when_the_parent_is_the_supervisor() -> None:
    done = run({SUPERVISOR_PID_ENV: str(os.getpid())})
    assert (done.returncode, done.stdout.strip()) == (0, "True"), done.stderr


def test_not_armed_outside_the_embedded_runtime() -> None:
    done = run({})
    assert (done.returncode, done.stdout.strip()) == (0, "False"), done.stderr


def test_a_child_whose_supervisor_is_gone_exits() -> None:
    done = run({SUPERVISOR_PID_ENV: "1"})  # pid 1 is never this test's pid: the supervisor it names is not its parent
    assert done.returncode == 1 and done.stdout == ""
    assert f"supervisor pid 1 is gone (parent is now {os.getpid()}): exiting" in done.stderr
