"""Every client channel of the desk comes from here: services calling each other, the CLI, the operator, the
tests. A process has one identity; ``use`` sets it once (a service at start, the CLI from its flags), and
``aio_channel``/``channel`` then dial with it: mutual TLS with the process's certificate, or TLS with a bearer
token, or plaintext when the desk runs with ``spec.access.tls: false``.
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
For the runtime's readiness probes and the simulation's clients, which keep one channel across restarts."""


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


def aio_channel(
    address: str,
    *,
    options: Sequence[tuple[str, object]] = (),
    interceptors: Sequence[grpc.aio.ClientInterceptor] | None = None,
    credentials: ClientCredentials | None = None,
) -> grpc.aio.Channel:
    creds = _for(address, credentials)
    if creds is None:
        return grpc.aio.insecure_channel(address, options=list(options), interceptors=interceptors)
    return grpc.aio.secure_channel(address, creds.grpc_credentials(), options=list(options), interceptors=interceptors)


def channel(
    address: str, *, options: Sequence[tuple[str, object]] = (), credentials: ClientCredentials | None = None
) -> grpc.Channel:
    creds = _for(address, credentials)
    if creds is None:
        return grpc.insecure_channel(address, options=list(options))
    return grpc.secure_channel(address, creds.grpc_credentials(), options=list(options))
