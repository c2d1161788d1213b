"""The one interface every feed line implements, whatever carries it (a replayed file, a WebSocket, ...).

The feed handler owns the lines' lifecycles: it opens a line, reads items until the line ends or fails,
and opens it again from where the feed is (``from_seq``), so each adapter only has to say how to connect
and how to decode. Adapters never raise for bad input: they yield ``Malformed`` items instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from tradingdesk.feeds.events import FeedMessage, LineItem


class LineAdapter(Protocol):
    name: str
    """The line's name in the spec (conventionally A or B)."""

    kind: str
    """``replay`` or ``websocket``."""

    def open(self, from_seq: int) -> AsyncIterator[LineItem]:
        """Connect and yield the line's items, resending from ``from_seq`` when the source can (so a line that
        comes back fills what it missed); ends or raises when the line is lost."""
        ...

    async def snapshot(self, upto_seq: int) -> list[FeedMessage] | None:
        """The last quote of each symbol as of at least ``upto_seq``, each with its sequence number, or None
        if this line cannot give one. Used to repair the state after a loss nobody could fill."""
        ...
