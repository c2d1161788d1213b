"""An HTTP app (FastAPI) served by uvicorn in the background of a desk service, on the service's event loop.

uvicorn's own signal handlers are left out: the service's lifecycle owns SIGTERM, and stops this server
from its ``stop``. A port that cannot be bound is reported (logged, ``start`` returns False) rather than
raised: the service's gRPC side keeps working.

With ``tls`` it serves HTTPS with those certificate files (``security.https``: a client certificate of the
desk's CA is asked for, not required) and hands the application the verified client certificate's common name
as ``scope["extensions"][CLIENT_CERTIFICATE]`` (uvicorn itself does not pass the peer certificate on).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from tradingdesk.security.https import common_name, server_context
from tradingdesk.security.tls import TlsFiles

log = logging.getLogger(__name__)

CLIENT_CERTIFICATE = "tradingdesk.client_certificate"
"""Key in ``scope["extensions"]``: the common name of the client certificate the handshake verified, or None."""


class _ClientCertificateH11(H11Protocol):
    """uvicorn's h11 protocol, with each request's scope carrying the connection's verified client certificate."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        name = common_name(ssl_object.getpeercert()) if ssl_object is not None else None
        app = self.app

        async def with_certificate(scope, receive, send) -> None:
            scope.setdefault("extensions", {})[CLIENT_CERTIFICATE] = name
            await app(scope, receive, send)

        self.app = with_certificate


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def https_options(tls: TlsFiles) -> dict[str, Any]:
    """``uvicorn.Config`` options for HTTPS with ``tls`` (followed as it is renewed) that hand the application the
    client certificate. The context is made when the server starts: missing files fail its start, logged."""
    return {"ssl_context_factory": lambda _config, _default: server_context(tls), "http": _ClientCertificateH11}


def client_certificate(scope: dict) -> str | None:
    """The common name of the client certificate verified for this request's connection (``https_options``)."""
    return scope.get("extensions", {}).get(CLIENT_CERTIFICATE)


class BackgroundHttpServer:
    def __init__(self, app: Any, host: str, port: int, *, name: str, tls: TlsFiles | None = None) -> None:
        https = https_options(tls) if tls is not None else {}
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, lifespan="off", **https
        )
        self.server = _Server(config)
        self.address = f"{host}:{port}"
        self.name = name
        self.scheme = "https" if tls is not None else "http"
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
            log.info("%s on %s://%s", self.name, self.scheme, self.address)
        return self.server.started

    async def _serve(self, sock: socket.socket) -> None:
        try:
            await self.server.serve(sockets=[sock])
        except SystemExit:
            log.error("%s: the server on %s stopped", self.name, self.address)
        except OSError as exc:  # its TLS material cannot be read
            log.error("%s: cannot serve on %s: %s", self.name, self.address, exc)

    async def stop(self) -> None:
        if self._task is None:
            return
        self.server.should_exit = True
        self.server.force_exit = True  # open event streams would otherwise hold the shutdown
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await self._task
