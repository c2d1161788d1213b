"""A service process that dies with the ``tradingdesk up`` that started it, however that one ends.

``tradingdesk up`` drains its children when it is stopped, but a SIGKILL (or the OOM killer) gives it no
chance to: without this its five service processes would live on as orphans, still holding their ports and
still trading. So each child asks the kernel to send it SIGTERM when its parent dies (Linux
``prctl(PR_SET_PDEATHSIG)``), and drains as if a person had stopped it.

Why the child sets it rather than a ``preexec_fn`` in the parent: the parent runs gRPC's threads, and code
between ``fork`` and ``exec`` in a threaded process can deadlock (Python's docs warn against ``preexec_fn``
there). The child does it first thing instead, then checks that the parent it was started by is still its
parent, which closes the window where the parent died before the ``prctl``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys

SUPERVISOR_PID_ENV = "TD_SUPERVISOR_PID"
"""Set by the embedded runtime in each child's environment: the pid of the process the child must die with."""

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
log = logging.getLogger(__name__)


def die_with_parent(env: dict[str, str], parent_pid: int | None = None) -> bool:
    """If ``env`` names a supervisor, arrange SIGTERM on its death; exits now if it is already gone.

    Returns whether the lifeline is armed (False outside the embedded runtime, or off Linux).
    """
    expected = env.get(SUPERVISOR_PID_ENV)
    if not expected:
        return False
    if not sys.platform.startswith("linux"):
        log.warning("%s is set but this is not Linux: this process will outlive its supervisor", SUPERVISOR_PID_ENV)
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_PDEATHSIG): {os.strerror(err)}")
    actual = os.getppid() if parent_pid is None else parent_pid
    if actual != int(expected):  # the supervisor died before the prctl: nobody will signal us
        log.error("supervisor pid %s is gone (parent is now %d): exiting", expected, actual)
        raise SystemExit(1)
    return True
