"""glibc's malloc, set up for a long-running service process: at most two arenas.

glibc gives each thread that allocates under contention an arena of its own, up to eight per core; grpcio's
threads and the journal's writer make a service use several, and memory freed in one arena cannot serve another,
so a service's resident set grows with every arena it touched. Measured on the embedded desk with 100,000 open
orders (bench/memory_bench.py): the five processes held 1,099-1,162 MB with glibc's default and 1,067 MB with
two arenas, the compliance service most of the difference (282-291 against 234 MB). Python allocates under the
GIL, so the arenas' locks are rarely contended.

An operator's own ``MALLOC_ARENA_MAX`` (read by glibc when the process starts) wins: this changes nothing then.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h
SERVICE_ARENAS = 2


def limit_arenas(count: int = SERVICE_ARENAS) -> bool:
    """Cap glibc's arenas at ``count`` for the rest of this process (call before threads start). False where
    the C library is not glibc, or the environment already set ``MALLOC_ARENA_MAX``."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    return mallopt(M_ARENA_MAX, count) == 1
