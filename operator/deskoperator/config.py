"""The operator's own settings: command line first, then environment (what the Helm chart sets)."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field

from deskoperator import __version__
from deskoperator.rpc import DEFAULT_TEMPLATE, Addresses

DEFAULT_IMAGE = f"ghcr.io/tradingdesk/tradingdesk:{__version__}"


@dataclass(frozen=True)
class Config:
    image: str = DEFAULT_IMAGE
    namespaces: tuple[str, ...] = ()
    """Empty: every namespace (cluster-wide)."""
    addresses: Addresses = field(default_factory=Addresses)
    rpc_timeout: float = 3.0
    liveness: str = "http://0.0.0.0:8080/healthz"
    metrics_port: int = 8081
    peering: bool = True
    peering_name: str = "tradingdesk-operator"
    priority: int | None = None
    """kopf peering priority; None picks a random one so two replicas never tie (a tie pauses both)."""
    webhook: bool = False
    webhook_addr: str = "0.0.0.0"
    webhook_host: str = ""
    webhook_port: int = 9443
    webhook_cert: str = ""
    webhook_key: str = ""
    webhook_ca: str = ""
    """CA bundle the API server should trust; default: the certificate itself (self-signed)."""
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
    ap.add_argument("--standalone", action="store_true", default=env("TD_STANDALONE") == "1", help="no peering")
    ap.add_argument("--peering-name", default=env("TD_PEERING_NAME", Config.peering_name))
    ap.add_argument("--priority", type=int, default=None, help="peering priority (default: random)")
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
        peering=not args.standalone,
        peering_name=args.peering_name,
        priority=args.priority,
        webhook=args.webhook,
        webhook_addr=args.webhook_addr,
        webhook_host=args.webhook_host,
        webhook_port=args.webhook_port,
        webhook_cert=args.webhook_cert,
        webhook_key=args.webhook_key,
        webhook_ca=args.webhook_ca,
    )
