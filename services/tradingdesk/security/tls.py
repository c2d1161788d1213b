"""TLS material on disk, and the gRPC credentials made from it.

A service reads its certificate, key and the desk's CA from three files: on Kubernetes a mounted Secret
(``TD_TLS_DIR`` with ``ca.crt``, ``tls.crt``, ``tls.key``, the ``kubernetes.io/tls`` layout cert-manager also
writes), in the embedded runtime the desk's local PKI. Server credentials re-read the files when they change
(checked at each new handshake), so a renewed certificate is served to new connections while established
connections, and the streams on them, carry on untouched.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc

from tradingdesk.security.pki import LocalPki
from tradingdesk.spec.domain import data_dir
from tradingdesk.spec.model import TradingDesk

log = logging.getLogger(__name__)

TLS_DIR_ENV = "TD_TLS_DIR"


@dataclass(frozen=True, slots=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path

    @classmethod
    def in_dir(cls, directory: Path) -> TlsFiles:
        """The ``kubernetes.io/tls`` Secret layout."""
        return cls(directory / "ca.crt", directory / "tls.crt", directory / "tls.key")

    @classmethod
    def for_service(cls, desk: TradingDesk, service: str, environ: Mapping[str, str] | None = None) -> TlsFiles:
        env = os.environ if environ is None else environ
        if env.get(TLS_DIR_ENV):
            return cls.in_dir(Path(env[TLS_DIR_ENV]))
        pki = local_pki(desk, env)
        cert, key = pki.service_paths(service)
        return cls(pki.ca_path, cert, key)

    def read(self) -> tuple[bytes, bytes, bytes]:
        """(ca, cert, key) as PEM; raises OSError naming the file that is missing."""
        return self.ca.read_bytes(), self.cert.read_bytes(), self.key.read_bytes()

    def stamp(self) -> tuple[int, ...]:
        return tuple(p.stat().st_mtime_ns for p in (self.ca, self.cert, self.key))


def local_pki(desk: TradingDesk, environ: Mapping[str, str] | None = None) -> LocalPki:
    return LocalPki(data_dir(desk, dict(os.environ if environ is None else environ)) / "tls")


def server_credentials(files: TlsFiles, *, client_certificates: bool) -> grpc.ServerCredentials:
    """TLS server credentials that follow the files. With ``client_certificates`` every client must present
    a certificate signed by the CA (mutual TLS); without, none is asked for (a token port)."""
    try:
        ca, cert, key = files.read()
    except OSError as exc:
        raise OSError(
            f"no TLS material at {exc.filename}: `tradingdesk up` creates the embedded desk's certificates; on "
            f"Kubernetes the operator mounts them at {TLS_DIR_ENV}"
        ) from None
    stamp = [files.stamp()]

    def config(ca: bytes, cert: bytes, key: bytes) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=ca)

    def fetch() -> grpc.ServerCertificateConfiguration | None:
        try:
            now = files.stamp()
            if now == stamp[0]:
                return None
            fresh = config(*files.read())
        except OSError as exc:  # a Secret being rewritten: keep serving the current one
            log.warning("tls: cannot reload %s: %s", files.cert.parent, exc.strerror)
            return None
        stamp[0] = now
        log.info("tls: serving the renewed certificate from %s", files.cert)
        return fresh

    return grpc.dynamic_ssl_server_credentials(
        config(ca, cert, key), fetch, require_client_authentication=client_certificates
    )
