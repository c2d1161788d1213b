"""Identifiers that are unique across restarts without coordination."""

from __future__ import annotations

import itertools
import os
import time


class IdGenerator:
    """Makes ids like ``O-18c2f1a3b-000001``: a per-process epoch prefix plus a counter.

    The prefix is the start time in milliseconds (hex), so ids from a restarted process never collide with
    those already in the journal, and the counter keeps the hot path free of system calls.
    """

    def __init__(self, prefix: str, epoch_ms: int | None = None) -> None:
        epoch = epoch_ms if epoch_ms is not None else time.time_ns() // 1_000_000
        self._head = f"{prefix}-{epoch:x}{os.getpid() % 4096:03x}-"
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._head}{next(self._counter):06d}"
