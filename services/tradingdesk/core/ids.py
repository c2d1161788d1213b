"""Identifiers that are unique across restarts without coordination."""

from __future__ import annotations

import itertools
import os
import time

from tradingdesk.core.reject import invalid


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


MAX_ID_LEN = 64


def check_id(field: str, value: str, *, required: bool = True) -> str:
    """Ids (client_order_id, account, strategy, order_id) are 1 to 64 visible ASCII characters, '!' to '~'.

    A subset of FIX's ClOrdID (any printable character): no space, because ids are compared byte for byte
    and shown in logs, tables and exports, where "c-1" and "c-1 " would be two orders that look the same.
    Returns ``value`` if it can be such an identifier, else raises a Reject naming ``field``.
    """
    if not value:
        if required:
            raise invalid(field, "is required")
        return value
    if len(value) > MAX_ID_LEN:
        raise invalid(field, f"is longer than {MAX_ID_LEN} characters")
    if not value.isascii() or not value.isprintable() or " " in value:
        raise invalid(field, "must be visible ASCII ('!' to '~'): no spaces, control or non-ASCII characters")
    return value
