"""What a desk service's gRPC server needs to be secure, built in one place from the spec.

``for_service`` gives the server options (message sizes, keepalive enforcement), the interceptor, the
credentials of its mutual-TLS port and of its token port, and the client credentials the service dials its
peers with. ``spec.access.tls`` is the one switch: off, the same server listens in plaintext and checks
nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from tradingdesk.security.accesslog import AccessLog
from tradingdesk.security.authn import Authenticator
from tradingdesk.security.channels import KEEPALIVE_TIME_MS, ClientCredentials
from tradingdesk.security.interceptor import AccessInterceptor
from tradingdesk.security.limits import CallerLimits
from tradingdesk.security.tls import TlsFiles, server_credentials
from tradingdesk.spec.access import AccessSpec
from tradingdesk.spec.domain import data_dir
from tradingdesk.spec.model import TradingDesk

MAX_CONCURRENT_STREAMS = 1_000

MIN_PING_INTERVAL_WITHOUT_DATA_MS = KEEPALIVE_TIME_MS // 2
"""The shortest gap the servers accept between two pings of a client while they send it nothing: half the
desk's own clients' keepalive (``security/channels.py``, 10 s), so their pings on a quiet stream never count."""
MAX_PING_STRIKES = 2
"""Pings sooner than that, without data from the server in between, that a connection may send; the next one
gets GOAWAY ``too_many_pings``."""

PING_INTERVAL_ARG = "grpc.http2.min_ping_interval_without_data_ms"
"""grpc core's name for that gap (``GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS``: the macro says
"recv", the string does not). grpc ignores a channel argument it does not know, without a word: under the
macro's spelling the servers kept grpc's default of 5 minutes: on a quiet stream of the desk (risk events, feed line
switches) each keepalive ping sooner than that after the one before was a strike, and the third cut the connection
with GOAWAY ``too_many_pings``, 2 to 3.5 minutes after it opened."""


SERVER_KEEPALIVE_TIME_MS = 20_000
"""The server pings a client it has read nothing from for this long, with or without calls open."""
SERVER_PING_TIMEOUT_MS = 10_000
"""And closes the connection when the ping goes unanswered this long (``grpc.http2.ping_timeout_ms``, the wait
grpc core applies to every ping; ``grpc.keepalive_timeout_ms`` only becomes the socket's ``TCP_USER_TIMEOUT``,
and grpc's 60 s default held before): a client gone silent loses its streams, and the stream slots they held
for its identity, at most 30 s after its last frame. Longer than the clients' 5 s (``security/channels.py``):
the order API serves clients the desk does not run, over links it does not know."""


def server_options(access: AccessSpec) -> list[tuple[str, int]]:
    """Message size caps and keepalive enforcement: a client pinging more often than every 5 s without data
    is sent GOAWAY after two strikes; the server pings idle clients every 20 s and drops silent ones."""
    return [
        ("grpc.so_reuseport", 0),
        ("grpc.max_receive_message_length", access.max_message_bytes),
        ("grpc.max_send_message_length", access.max_message_bytes),
        ("grpc.max_concurrent_streams", MAX_CONCURRENT_STREAMS),
        ("grpc.keepalive_time_ms", SERVER_KEEPALIVE_TIME_MS),
        ("grpc.http2.ping_timeout_ms", SERVER_PING_TIMEOUT_MS),
        ("grpc.keepalive_timeout_ms", SERVER_PING_TIMEOUT_MS),
        ("grpc.keepalive_permit_without_calls", 1),
        (PING_INTERVAL_ARG, MIN_PING_INTERVAL_WITHOUT_DATA_MS),
        ("grpc.http2.max_ping_strikes", MAX_PING_STRIKES),
    ]


@dataclass
class ServerSecurity:
    options: list[tuple[str, int]]
    interceptors: list[grpc.aio.ServerInterceptor] = field(default_factory=list)
    tls: TlsFiles | None = None
    """None: plaintext."""
    token_address: str | None = None
    """Where the token port listens (TLS without client certificates), if the desk has one for the service."""
    access_log: AccessLog | None = None

    @property
    def client(self) -> ClientCredentials | None:
        """How this service dials its peers: with its own certificate."""
        return ClientCredentials.from_files(self.tls) if self.tls is not None else None

    def bind(self, server: grpc.aio.Server, address: str) -> int:
        """Listen on ``address`` (and the token port); returns the bound port, 0 if it could not bind."""
        if self.tls is None:
            return server.add_insecure_port(address)
        port = server.add_secure_port(address, server_credentials(self.tls, client_certificates=True))
        token_creds = server_credentials(self.tls, client_certificates=False) if self.token_address else None
        if port and token_creds is not None and not server.add_secure_port(self.token_address, token_creds):
            raise OSError(f"cannot listen on the token port {self.token_address}")
        return port

    def close(self) -> None:
        if self.access_log is not None:
            self.access_log.close()


def plaintext() -> ServerSecurity:
    return ServerSecurity(options=server_options(AccessSpec(tls=False)))


def access_log_path(desk: TradingDesk, service: str, environ: Mapping[str, str]) -> Path:
    return data_dir(desk, dict(environ)) / "access" / f"{service}.jsonl"


def for_service(
    desk: TradingDesk, service: str, *, bind_host: str = "", environ: Mapping[str, str] | None = None
) -> ServerSecurity:
    env = os.environ if environ is None else environ
    access = desk.spec.access
    if not access.tls:
        return plaintext()
    log = AccessLog(access_log_path(desk, service, env), service=service)
    interceptor = AccessInterceptor(
        service=service,
        authenticator=Authenticator(access, env),
        limits=CallerLimits(
            rate=access.rate_limit.requests_per_second,
            burst=access.rate_limit.burst,
            max_streams=access.rate_limit.max_streams,
        ),
        access_log=log,
    )
    token_port = access.token_ports.get(service)  # type: ignore[call-overload]
    host = bind_host or getattr(desk.spec.services, service).host
    return ServerSecurity(
        options=server_options(access),
        interceptors=[interceptor],
        tls=TlsFiles.for_service(desk, service, env),
        token_address=f"{host}:{token_port}" if token_port else None,
        access_log=log,
    )
