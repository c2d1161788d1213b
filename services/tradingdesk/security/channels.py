"""Every client channel of the desk comes from here: services calling each other, the CLI, the operator, the
tests. A process has one identity; ``use`` sets it once (a service at start, the CLI from its flags), and
``aio_channel``/``channel`` then dial with it: mutual TLS with the process's certificate, or TLS with a bearer
token, or plaintext when the desk runs with ``spec.access.tls: false``. Every channel made here pings its peer
(``KEEPALIVE``), so a call or stream to a peer that went silent fails within seconds instead of hanging.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc

from tradingdesk.security.tls import TlsFiles

FAST_RECONNECT: tuple[tuple[str, object], ...] = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 250),
)
"""Channel options for a client that must see a restarted server at once: gRPC's default reconnect backoff starts
at 1 s and grows by 1.6x, so a channel that saw its server die for 2 s dials again only after 2.6 s or 4.2 s.
For the runtime's readiness probes, the monitoring service's reads of the other services and the simulation's
clients, which keep one channel across restarts."""

KEEPALIVE_TIME_MS = 10_000
"""A channel with a call open pings its peer once it has read nothing from it for this long: twice the gap the
desk's servers accept between pings on a quiet stream (``security/server.py``), so timer slack never makes one
a strike."""
PING_TIMEOUT_MS = 5_000
"""How long a ping may go unanswered, with nothing else read from the peer meanwhile, before the connection is
closed and its calls fail ``UNAVAILABLE``: ``grpc.http2.ping_timeout_ms``, which grpc core (1.85) applies to
every ping it sends, keepalive and BDP alike (60 s by default). ``grpc.keepalive_timeout_ms`` does not bound
that wait: grpc makes it the socket's ``TCP_USER_TIMEOUT``, which ends the connection only once the peer's
kernel stops acknowledging what is sent (a dead host). With only that set, a peer whose kernel still
acknowledged but which sent nothing (a hung or stopped process, a proxy in between) was noticed 60-70 s after
it went silent. The peer's grpc core answers pings on its own threads, not on its Python event loop, so a
service busy in Python answers in time (``tests/integration/test_silent_peer.py``)."""

KEEPALIVE: tuple[tuple[str, object], ...] = (
    ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
    ("grpc.http2.ping_timeout_ms", PING_TIMEOUT_MS),
    ("grpc.keepalive_timeout_ms", PING_TIMEOUT_MS),
    ("grpc.http2.max_pings_without_data", 0),
)
"""The options every channel made here starts from (``aio_channel``, ``channel``; the caller's options win): a
peer that stops answering is noticed at most ``KEEPALIVE_TIME_MS + PING_TIMEOUT_MS`` (15 s) after the last frame
read from it. ``max_pings_without_data`` 0: grpc otherwise lets a client that sends nothing (a subscription,
once its request is out) ping twice, then once a minute, and a stream quiet for minutes would notice a silent
peer a minute late."""


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """What a client presents. Files are read each time a channel is made, so a renewed certificate is used
    by the next connection."""

    ca: Path | None = None
    """The desk's CA certificate (trust anchor for the server's certificate)."""
    cert: Path | None = None
    key: Path | None = None
    token: str | None = None
    """A bearer token (static or JWT), sent as ``authorization: Bearer <token>`` on every call."""
    pem: tuple[bytes, bytes, bytes] | None = None
    """Or the CA, certificate and key in memory (the operator's, issued per desk, never written to disk)."""

    @classmethod
    def from_files(cls, files: TlsFiles) -> ClientCredentials:
        return cls(files.ca, files.cert, files.key)

    def grpc_credentials(self) -> grpc.ChannelCredentials:
        if self.pem is not None:
            return grpc.ssl_channel_credentials(self.pem[0], self.pem[2], self.pem[1])
        ca = self.ca.read_bytes() if self.ca else None
        if self.cert and self.key:
            creds = grpc.ssl_channel_credentials(ca, self.key.read_bytes(), self.cert.read_bytes())
        else:
            creds = grpc.ssl_channel_credentials(ca)
        if self.token:
            creds = grpc.composite_channel_credentials(creds, grpc.access_token_call_credentials(self.token))
        return creds

    def ssl_context(self) -> ssl.SSLContext:
        """The same credentials for an HTTPS client (the desk's /metrics, the dashboard): the desk's CA as trust
        anchor and the client certificate, if any (a token goes in the request's ``Authorization`` header)."""
        context = ssl.create_default_context(cafile=str(self.ca) if self.ca else None)
        if self.cert and self.key:
            context.load_cert_chain(self.cert, self.key)
        return context

    def __repr__(self) -> str:  # never print a token
        return f"ClientCredentials(ca={self.ca}, cert={self.cert}, token={'<set>' if self.token else None})"


_process: list[ClientCredentials | None] = [None]
_resolver: list[Callable[[str], ClientCredentials | None] | None] = [None]


def use(credentials: ClientCredentials | None) -> None:
    """Set this process's identity for every channel made afterwards (None: plaintext)."""
    _process[0] = credentials


def use_resolver(resolve: Callable[[str], ClientCredentials | None] | None) -> None:
    """For a process that calls many desks (the operator): the credentials to dial each address with."""
    _resolver[0] = resolve


def _for(address: str, given: ClientCredentials | None) -> ClientCredentials | None:
    if given is not None:
        return given
    if _resolver[0] is not None:
        return _resolver[0](address)
    return _process[0]


def with_keepalive(options: Sequence[tuple[str, object]]) -> list[tuple[str, object]]:
    """``KEEPALIVE`` overlaid with ``options``: one entry per name, the caller's value where it sets one."""
    return list((dict(KEEPALIVE) | dict(options)).items())


def aio_channel(
    address: str,
    *,
    options: Sequence[tuple[str, object]] = (),
    interceptors: Sequence[grpc.aio.ClientInterceptor] | None = None,
    credentials: ClientCredentials | None = None,
) -> grpc.aio.Channel:
    creds = _for(address, credentials)
    merged = with_keepalive(options)
    if creds is None:
        return grpc.aio.insecure_channel(address, options=merged, interceptors=interceptors)
    return grpc.aio.secure_channel(address, creds.grpc_credentials(), options=merged, interceptors=interceptors)


def channel(
    address: str, *, options: Sequence[tuple[str, object]] = (), credentials: ClientCredentials | None = None
) -> grpc.Channel:
    creds = _for(address, credentials)
    merged = with_keepalive(options)
    if creds is None:
        return grpc.insecure_channel(address, options=merged)
    return grpc.secure_channel(address, creds.grpc_credentials(), options=merged)
