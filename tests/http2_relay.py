"""A TCP relay in front of a gRPC server, for tests that need to see or break the wire.

It reads each HTTP/2 frame passing through and forwards it unchanged, counting what the tests look at: the
pings a client sends, the acknowledgements the server returns, the GOAWAYs it sends. ``go_silent`` makes the
connections open at that moment forward nothing more, either way, while their sockets stay open: what a dead
node or a network partition looks like to a gRPC peer when no reset comes. Connections made afterwards are
relayed again, to ``upstream_port`` (which a test may point at another server: the replacement pod).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
FRAME_HEADER = 9
PING, GOAWAY = 0x6, 0x7
ACK = 0x1
ENHANCE_YOUR_CALM = 0xB


@dataclass
class Wire:
    """What the relay saw: pings from clients (not acks), their acks from the server, GOAWAYs from the server
    (error code, debug data)."""

    client_pings: int = 0
    server_ping_acks: int = 0
    goaways: list[tuple[int, bytes]] = field(default_factory=list)


class Http2Relay:
    """Relays every connection to ``127.0.0.1:upstream_port``, frame by frame."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.wire = Wire()
        self.connections = 0
        """Connections accepted so far."""
        self._silenced = 0
        """Connections numbered below this forward nothing."""
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> int:
        """Listen on a free port of 127.0.0.1; returns it."""
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def go_silent(self) -> None:
        """Every connection open now stops forwarding, both ways, and stays open: bytes are read and dropped (the
        relay's kernel still acknowledges them, so only gRPC's own pings can tell)."""
        self._silenced = self.connections

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        number = self.connections
        self.connections += 1
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        for pipe in (
            self._pipe(client_r, server_w, number=number, from_client=True),
            self._pipe(server_r, client_w, number=number, from_client=False),
        ):
            task = asyncio.create_task(pipe)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, number: int, from_client: bool
    ) -> None:
        try:
            if from_client:
                preface = await src.readexactly(len(PREFACE))
                if number >= self._silenced:
                    dst.write(preface)
            while True:
                header = await src.readexactly(FRAME_HEADER)
                payload = await src.readexactly(int.from_bytes(header[:3], "big"))
                if number < self._silenced:
                    continue
                dst.write(header + payload)
                await dst.drain()
                kind, flags = header[3], header[4]
                if kind == PING and from_client and not flags & ACK:
                    self.wire.client_pings += 1
                elif kind == PING and not from_client and flags & ACK:
                    self.wire.server_ping_acks += 1
                elif kind == GOAWAY and not from_client:
                    self.wire.goaways.append((int.from_bytes(payload[4:8], "big"), payload[8:]))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            dst.close()
