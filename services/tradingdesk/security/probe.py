"""``python -m tradingdesk.security.probe``: a pod's liveness and readiness probe over the desk's mutual TLS.

The kubelet's own gRPC probe speaks plaintext only, so a desk with TLS is probed from inside the container:
this checks ``grpc.health.v1`` on the pod's own port (``TD_BIND``) with the service's certificate
(``TD_TLS_DIR``). Exit 0 when SERVING, 1 otherwise, with the reason on stderr.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tradingdesk.security.channels import ClientCredentials, channel
from tradingdesk.security.tls import TLS_DIR_ENV, TlsFiles


def probe(environ: dict[str, str], timeout: float = 2.0) -> str | None:
    """None when the service answers SERVING, else why not."""
    port = environ.get("TD_BIND", "").rsplit(":", 1)[-1]
    if not port.isdigit():
        return "TD_BIND does not name a port"
    creds = None
    if environ.get(TLS_DIR_ENV):
        creds = ClientCredentials.from_files(TlsFiles.in_dir(Path(environ[TLS_DIR_ENV])))
    try:
        with channel(f"127.0.0.1:{port}", credentials=creds) as ch:
            reply = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=timeout)
    except grpc.RpcError as exc:
        return f"{exc.code().name}: {exc.details()}"  # type: ignore[attr-defined]
    except OSError as exc:
        return f"cannot read the certificate: {exc}"
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    return None


def main() -> int:
    problem = probe(dict(os.environ))
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
