"""The one fan-out of order events, and the journal writer that subscribes to it.

The engine emits every event once; each subscriber applies it (the engine's order book, the risk gate's
exposure, the positions) or stores it (the journal writer). Recovery replays decoded journal events through
the same subscribers, except those marked live-only: the journal already holds what it replays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tradingdesk.core.event_codec import encode
from tradingdesk.core.events import JournalEvent

Handler = Callable[[Any], None]
#: ``append(kind, order_id, payload, ts_ns, event) -> seq``: what the journal offers (``Journal.append``).
JournalAppend = Callable[[str, str, dict[str, Any], int, JournalEvent], int]


class EventBus:
    """Handlers run in the order they subscribed, synchronously, on the engine's thread."""

    def __init__(self) -> None:
        self._live: tuple[Handler, ...] = ()
        self._replayed: tuple[Handler, ...] = ()

    def subscribe(self, handler: Handler, *, replayed: bool = True) -> None:
        """``replayed=False``: live events only (the journal writer)."""
        self._live = (*self._live, handler)
        if replayed:
            self._replayed = (*self._replayed, handler)

    def emit(self, event: JournalEvent) -> None:
        for handler in self._live:
            handler(event)

    def replay(self, event: JournalEvent) -> None:
        for handler in self._replayed:
            handler(event)


class JournalWriter:
    """Encodes each live event with the codec and appends it; ``last_seq`` is the seq of the last one."""

    __slots__ = ("_append", "last_seq")

    def __init__(self, append: JournalAppend) -> None:
        self._append = append
        self.last_seq = 0

    def __call__(self, event: JournalEvent) -> None:
        self.last_seq = self._append(event.kind, event.order_id, encode(event), event.ts_ns, event)
