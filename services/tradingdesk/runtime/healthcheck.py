"""``python -m tradingdesk.runtime.healthcheck``: the image's HEALTHCHECK, for whatever process the container runs.

Why one command for every process: the image is the same for the five services and the operator, and a
Dockerfile has one HEALTHCHECK. Kubernetes ignores it (pods have their own probes); ``docker run`` and
``podman run`` use it. What it checks, first match wins:

- ``TD_HEALTHCHECK_URL``: ``http(s)://...`` must answer 200; ``grpc://host:port`` must report SERVING;
- ``TD_BIND`` (set in every service pod, ``host:port``): the service's gRPC health on that port, via loopback;
  ``--service NAME`` asks for one gRPC service's health instead of the process's (a standby's is NOT_SERVING);
- otherwise the operator's kopf liveness endpoint at its default address.

Exit 0 when healthy, 1 with the reason on stderr when not.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tradingdesk.security import channels
from tradingdesk.security.channels import ClientCredentials
from tradingdesk.security.tls import TLS_DIR_ENV, TlsFiles

OPERATOR_LIVENESS = "http://127.0.0.1:8080/healthz"
TIMEOUT_SECONDS = 3.0


class Unhealthy(Exception):
    """What is wrong, in one line for the container runtime's health log."""


def target(env: dict[str, str]) -> str:
    """The URL to check, from the container's environment."""
    if url := env.get("TD_HEALTHCHECK_URL"):
        return url
    if bind := env.get("TD_BIND"):
        port = bind.rpartition(":")[2]
        return f"grpc://127.0.0.1:{port}"
    return OPERATOR_LIVENESS


def check_grpc(
    address: str, timeout: float = TIMEOUT_SECONDS, env: dict[str, str] | None = None, *, service: str = ""
) -> None:
    """Over the desk's mutual TLS with the pod's own certificate when ``TD_TLS_DIR`` is set (every pod of a desk
    with ``spec.access.tls``: the kubelet's own gRPC probe speaks plaintext only, so the pods are probed with
    this command), else plaintext."""
    tls_dir = (os.environ if env is None else env).get(TLS_DIR_ENV)
    creds = ClientCredentials.from_files(TlsFiles.in_dir(Path(tls_dir))) if tls_dir else None
    with channels.channel(address, credentials=creds) as channel:
        try:
            response = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout
            )
        except grpc.RpcError as exc:
            raise Unhealthy(f"grpc://{address}: {exc.code().name}: {exc.details()}") from None
    if response.status != health_pb2.HealthCheckResponse.SERVING:
        status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
        raise Unhealthy(f"grpc://{address}: {status}")


def check_http(url: str, timeout: float = TIMEOUT_SECONDS) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        raise Unhealthy(f"{url}: HTTP {exc.code}") from None
    except OSError as exc:
        raise Unhealthy(f"{url}: {exc}") from None
    if status != 200:
        raise Unhealthy(f"{url}: HTTP {status}")


def check(url: str, *, service: str = "") -> None:
    parts = urlsplit(url)
    if parts.scheme == "grpc":
        check_grpc(parts.netloc, service=service)
    elif parts.scheme in ("http", "https"):
        check_http(url)
    else:
        raise Unhealthy(f"{url}: TD_HEALTHCHECK_URL must be http(s)://... or grpc://host:port")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tradingdesk.runtime.healthcheck")
    parser.add_argument("--service", default="", help="gRPC health service name (default: the process)")
    args = parser.parse_args(argv)
    url = target(dict(os.environ))
    try:
        check(url, service=args.service)
    except Unhealthy as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
