"""An HTTP app (FastAPI) served by uvicorn in the background of a desk service, on the service's event loop.

uvicorn's own signal handlers are left out: the service's lifecycle owns SIGTERM, and stops this server
from its ``stop``. A port that cannot be bound is reported (logged, ``start`` returns False) rather than
raised: the service's gRPC side keeps working.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class BackgroundHttpServer:
    def __init__(self, app: Any, host: str, port: int, *, name: str) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off")
        self.server = _Server(config)
        self.address = f"{host}:{port}"
        self.name = name
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> bool:
        host, port = self.address.rsplit(":", 1)
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host.strip("[]"), int(port)))
            sock.listen(128)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            log.error("%s: cannot listen on %s: %s", self.name, self.address, exc.strerror)
            return False
        self._task = asyncio.create_task(self._serve(sock), name=self.name)
        for _ in range(500):
            if self.server.started or self._task.done():
                break
            await asyncio.sleep(0.01)
        if self.server.started:
            log.info("%s on http://%s", self.name, self.address)
        return self.server.started

    async def _serve(self, sock: socket.socket) -> None:
        try:
            await self.server.serve(sockets=[sock])
        except SystemExit:
            log.error("%s: the server on %s stopped", self.name, self.address)

    async def stop(self) -> None:
        if self._task is None:
            return
        self.server.should_exit = True
        self.server.force_exit = True  # open event streams would otherwise hold the shutdown
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._task, 5)
