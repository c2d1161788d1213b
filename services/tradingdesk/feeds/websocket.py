"""The WebSocket line adapter: one connection per line to a vendor speaking the JSON wire format.

On connect the adapter asks to resume from the feed's next sequence number (``{"op": "subscribe",
"fromSeq": N}``), so a line that comes back after an outage first receives what it missed. Frames are
decoded by ``wire.decode_frame``; anything bad comes out as ``Malformed`` items. Oversized frames and
protocol errors close the connection (the feed handler reconnects); the library's pings detect a peer
that vanished without closing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from websockets.asyncio.client import connect

from tradingdesk.feeds import wire
from tradingdesk.feeds.events import FeedMessage, LineItem

MAX_FRAME_BYTES = 1 << 20
OPEN_TIMEOUT_S = 2.0
SNAPSHOT_TIMEOUT_S = 2.0


class WebSocketLine:
    """A line of a ``websocket`` feed."""

    kind = "websocket"

    def __init__(self, name: str, url: str, *, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self.name = name
        self.url = url
        self.max_frame_bytes = max_frame_bytes

    async def open(self, from_seq: int) -> AsyncIterator[LineItem]:
        async with connect(
            self.url,
            open_timeout=OPEN_TIMEOUT_S,
            max_size=self.max_frame_bytes,
            ping_interval=5,
            ping_timeout=5,
            close_timeout=1,
            compression=None,
        ) as ws:
            await ws.send(json.dumps({"op": "subscribe", "fromSeq": from_seq}))
            name = self.name
            async for frame in ws:
                for item in wire.decode_frame(frame, name):
                    yield item

    async def snapshot(self, upto_seq: int) -> list[FeedMessage] | None:
        """Ask the vendor for its current quotes on a connection of their own."""
        try:
            async with asyncio.timeout(SNAPSHOT_TIMEOUT_S):
                async with connect(
                    self.url, open_timeout=OPEN_TIMEOUT_S, max_size=16 * self.max_frame_bytes, compression=None
                ) as ws:
                    await ws.send(json.dumps({"op": "snapshot"}))
                    seq, quotes = wire.decode_snapshot(await ws.recv(), self.name)
        except Exception:  # unreachable, slow or nonsense: this line has no snapshot to give
            return None
        return quotes if seq >= upto_seq else None
