"""HTTPS for the desk's HTTP endpoints (each service's /metrics, the dashboard): the TLS context a server listens
with, and the identity of the client certificate a caller presented.

The server presents the service's certificate and asks for a client certificate without requiring one: a
caller either presents a certificate signed by the desk's CA (verified in the handshake; another CA's fails
it) or authenticates with a bearer token in the request. The context re-reads the certificate files when they
change, at the next handshake (the server-name callback swaps in a fresh context), so a renewed certificate is
served without a restart, like the gRPC ports do.
"""

from __future__ import annotations

import logging
import ssl
import threading

from tradingdesk.security.tls import TLS_DIR_ENV, TlsFiles

log = logging.getLogger(__name__)


def _context(files: TlsFiles) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.cert, files.key)
    context.load_verify_locations(cafile=str(files.ca))
    context.verify_mode = ssl.CERT_OPTIONAL
    return context


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """A server context with the service's certificate, asking (not requiring) a client certificate of the
    desk's CA, that follows the files as they are renewed. Raises OSError naming what is missing."""
    try:
        root = _context(files)
    except (OSError, ssl.SSLError) as exc:
        raise OSError(
            f"no usable TLS material at {files.cert.parent} ({exc}): `tradingdesk up` creates the embedded desk's "
            f"certificates; on Kubernetes the operator mounts them at {TLS_DIR_ENV}"
        ) from None
    lock = threading.Lock()
    current = {"stamp": files.stamp(), "context": root}

    def follow(connection: ssl.SSLObject | ssl.SSLSocket, _server_name: str | None, _ctx: ssl.SSLContext) -> None:
        with lock:
            try:
                stamp = files.stamp()
                if stamp != current["stamp"]:
                    current["context"] = _context(files)
                    current["stamp"] = stamp
                    log.info("tls: serving the renewed certificate from %s over HTTPS", files.cert)
            except (OSError, ssl.SSLError) as exc:  # a Secret being rewritten: keep serving the current one
                log.warning("tls: cannot reload %s: %s", files.cert.parent, exc)
            fresh = current["context"]
        if fresh is not root:
            connection.context = fresh

    root.sni_callback = follow
    return root


def common_name(peer_certificate: dict | None) -> str | None:
    """The common name of a verified client certificate (``SSLSocket.getpeercert()``), None without one."""
    for rdn in (peer_certificate or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return None
