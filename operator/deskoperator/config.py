"""The operator's own settings: command line first, then environment (what the Helm chart sets)."""

from __future__ import annotations

import argparse
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from deskoperator import __version__
from deskoperator.rpc import DEFAULT_TEMPLATE, Addresses

DEFAULT_IMAGE = f"ghcr.io/tradingdesk/tradingdesk:{__version__}"
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def _own_namespace() -> str:
    """The pod's namespace (for the leadership Lease); "default" outside a cluster."""
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or "default"
    except OSError:
        return "default"


def _identity() -> str:
    """Who holds the Lease: the pod name in a cluster, host and pid elsewhere (unique per process)."""
    return os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class Config:
    image: str = DEFAULT_IMAGE
    namespaces: tuple[str, ...] = ()
    """Empty: every namespace (cluster-wide)."""
    addresses: Addresses = field(default_factory=Addresses)
    rpc_timeout: float = 3.0
    liveness: str = "http://0.0.0.0:8080/healthz"
    """Health server: /healthz (liveness) and /readyz (readiness: the webhook is serving) on its host and port."""
    metrics_port: int = 8081
    identity: str = field(default_factory=_identity)
    lease_name: str = "tradingdesk-operator"
    lease_namespace: str = field(default_factory=_own_namespace)
    lease_seconds: int = 15
    preempt: bool = False
    """Take the leadership Lease from a live holder (which then exits)."""
    heartbeat_seconds: float = 30.0
    retry_cap: float = 30.0
    """Longest wait between two attempts at delivering a live value or applying a desk."""
    webhook: bool = False
    webhook_addr: str = "0.0.0.0"
    webhook_host: str = ""
    webhook_port: int = 9443
    webhook_cert: str = ""
    webhook_key: str = ""
    webhook_ca: str = ""
    """CA bundle the API server should trust; default: the certificate itself (self-signed)."""
    webhook_service: str = ""
    """namespace/name of the Service in front of the webhook (in a cluster); empty: dial webhook_host by URL."""
    max_workers: int = 16


def _overrides(items: list[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for item in items:
        target, sep, address = item.partition("=")
        if not sep or target.count("/") != 2:
            raise argparse.ArgumentTypeError(f"--address-override wants namespace/desk/service=host:port, got {item!r}")
        out.append((target, address))
    return tuple(out)


def parser() -> argparse.ArgumentParser:
    env = os.environ.get
    ap = argparse.ArgumentParser(prog="python -m deskoperator", description="Run the TradingDesk operator.")
    ap.add_argument("-n", "--namespace", action="append", default=[], help="watch only this namespace (repeatable)")
    ap.add_argument("--image", default=env("TD_OPERATOR_IMAGE", DEFAULT_IMAGE), help="default image of desk pods")
    ap.add_argument("--liveness", default=env("TD_LIVENESS", Config.liveness), help="kopf liveness endpoint URL")
    ap.add_argument("--metrics-port", type=int, default=int(env("TD_METRICS_PORT", "8081")), help="0 disables")
    ap.add_argument("--lease-name", default=env("TD_LEASE_NAME", Config.lease_name), help="leadership Lease")
    ap.add_argument("--lease-namespace", default=env("TD_LEASE_NAMESPACE") or _own_namespace())
    ap.add_argument("--lease-seconds", type=int, default=int(env("TD_LEASE_SECONDS", "15")),
                    help="a dead leader is replaced after at most this plus 2 s")  # fmt: skip
    ap.add_argument("--preempt", action="store_true", help="take the Lease from a live holder (it exits)")
    ap.add_argument("--heartbeat-seconds", type=float, default=float(env("TD_HEARTBEAT_SECONDS", "30")))
    ap.add_argument("--retry-cap", type=float, default=float(env("TD_RETRY_CAP", "30")),
                    help="longest backoff between delivery or apply attempts, seconds")  # fmt: skip
    ap.add_argument("--rpc-timeout", type=float, default=float(env("TD_RPC_TIMEOUT", "3")), help="seconds")
    ap.add_argument("--address-template", default=env("TD_ADDRESS_TEMPLATE", DEFAULT_TEMPLATE))
    ap.add_argument(
        "--address-override",
        action="append",
        default=[o for o in env("TD_ADDRESS_OVERRIDES", "").split(",") if o],
        help="namespace/desk/service=host:port, for an operator outside the cluster (repeatable)",
    )
    ap.add_argument("--webhook", action="store_true", default=env("TD_WEBHOOK") == "1", help="validating webhook")
    ap.add_argument("--webhook-addr", default=env("TD_WEBHOOK_ADDR", "0.0.0.0"), help="listen address")
    ap.add_argument("--webhook-host", default=env("TD_WEBHOOK_HOST", ""), help="address the API server dials")
    ap.add_argument("--webhook-port", type=int, default=int(env("TD_WEBHOOK_PORT", "9443")))
    ap.add_argument("--webhook-cert", default=env("TD_WEBHOOK_CERT", ""), help="PEM file; default self-signed")
    ap.add_argument("--webhook-key", default=env("TD_WEBHOOK_KEY", ""))
    ap.add_argument("--webhook-ca", default=env("TD_WEBHOOK_CA", ""), help="CA that signed --webhook-cert")
    ap.add_argument("--webhook-service", default=env("TD_WEBHOOK_SERVICE", ""), help="namespace/name of its Service")
    return ap


def from_args(argv: list[str] | None = None) -> Config:
    args = parser().parse_args(argv)
    return Config(
        image=args.image,
        namespaces=tuple(args.namespace),
        addresses=Addresses(args.address_template, _overrides(args.address_override)),
        rpc_timeout=args.rpc_timeout,
        liveness=args.liveness,
        metrics_port=args.metrics_port,
        lease_name=args.lease_name,
        lease_namespace=args.lease_namespace,
        lease_seconds=args.lease_seconds,
        preempt=args.preempt,
        heartbeat_seconds=args.heartbeat_seconds,
        retry_cap=args.retry_cap,
        webhook=args.webhook,
        webhook_addr=args.webhook_addr,
        webhook_host=args.webhook_host,
        webhook_port=args.webhook_port,
        webhook_cert=args.webhook_cert,
        webhook_key=args.webhook_key,
        webhook_ca=args.webhook_ca,
        webhook_service=args.webhook_service,
    )
