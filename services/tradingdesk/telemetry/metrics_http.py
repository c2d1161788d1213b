"""A service's Prometheus ``/metrics`` endpoint, served from its own threads (a scrape never runs on the service's
event loop).

With the desk's TLS on, it serves HTTPS with the service's certificate (``security.https``) and answers only a
caller whose verified client certificate or bearer token is an identity allowed ``GET /metrics``
(``policy.METRICS_HTTP_RULES``: Prometheus' ``svc:prometheus``, operations, the desk's own services); anyone
else gets 401 or 403 with the reason in the body, and a record in the access log. The TLS handshake runs in the
connection's own thread, so a slow or hostile client cannot hold up Prometheus. With TLS off: plaintext,
unchecked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import ssl
import threading
from http.server import ThreadingHTTPServer
from urllib.parse import urlparse

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import MetricsHandler

from tradingdesk.security.http import HttpAccess, HttpDenied
from tradingdesk.security.https import common_name, server_context
from tradingdesk.security.tls import TlsFiles

log = logging.getLogger(__name__)

PATH = "/metrics"
HANDSHAKE_TIMEOUT_S = 10.0
"""A client that has not finished its TLS handshake (or sent its request) by then is dropped."""


class _Handler(MetricsHandler):
    access: HttpAccess | None = None

    def do_GET(self) -> None:
        if urlparse(self.path).path != PATH:
            self._answer(404, f"not found: Prometheus metrics are at {PATH}")
            return
        if self.access is not None:
            peer = f"{self.client_address[0]}:{self.client_address[1]}"
            cert = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
            authorization = self.headers.get("Authorization")
            try:
                asyncio.run(self.access.admit("GET", PATH, authorization, peer, certificate=common_name(cert)))
            except HttpDenied as denied:
                self._answer(denied.status, denied.message, challenge=denied.status == 401)
                return
        super().do_GET()

    def _answer(self, status: int, message: str, *, challenge: bool = False) -> None:
        body = json.dumps({"detail": message}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if challenge:
            self.send_header("WWW-Authenticate", "Bearer")
        self.end_headers()
        self.wfile.write(body)


class MetricsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, context: ssl.SSLContext | None) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.context = context
        super().__init__(address, handler)

    def finish_request(self, request, client_address) -> None:  # type: ignore[override]
        if self.context is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(HANDSHAKE_TIMEOUT_S)
        try:
            connection = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:  # plaintext HTTP, another CA's certificate, a dropped connection
            log.debug("metrics: TLS handshake with %s failed: %s", client_address[0], exc)
            return
        try:
            self.RequestHandlerClass(connection, client_address, self)
        finally:
            connection.close()


def serve_metrics(
    registry: CollectorRegistry, host: str, port: int, *, tls: TlsFiles | None, access: HttpAccess | None
) -> tuple[MetricsServer, threading.Thread]:
    """Serve ``registry`` on ``host:port`` in a daemon thread; HTTPS with ``tls``, admitting callers through
    ``access``. Raises OSError when the port cannot be bound or the TLS material cannot be read."""
    handler = type("MetricsHandler", (_Handler,), {"registry": registry, "access": access})
    server = MetricsServer((host, port), handler, server_context(tls) if tls is not None else None)
    thread = threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True)
    thread.start()
    return server, thread
