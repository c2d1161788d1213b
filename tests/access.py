"""Channels with the right credentials for a role, for every test that talks to a running desk.

``write_desk`` gives every test desk one identity per role (``TEST_IDENTITIES``, rebuilt on the desk's own
accounts); ``tradingdesk up`` issues their certificates. A test asks for a role, never for files.
"""

from __future__ import annotations

import os
import ssl
import urllib.request
from collections.abc import Sequence

import grpc

from tradingdesk.security import channels
from tradingdesk.security.channels import ClientCredentials
from tradingdesk.security.local import RUNTIME_IDENTITY, client_of
from tradingdesk.security.tls import local_pki
from tradingdesk.spec.model import TradingDesk

ROLE_IDENTITIES = {
    "admin": "admin",  # every human role, every account: what most tests need
    "trader": "trader",  # a trader entitled to the desk's first account only
    "risk_officer": "risk",
    "operations": "ops",
    "auditor": "auditor",
    "service": RUNTIME_IDENTITY,
}


def test_identities(accounts: Sequence[str]) -> list[dict]:
    return [
        {"name": "admin", "roles": ["trader", "risk_officer", "operations", "auditor"], "accounts": ["*"]},
        {"name": "trader", "roles": ["trader"], "accounts": [accounts[0]]},
        {"name": "risk", "roles": ["risk_officer"]},
        {"name": "ops", "roles": ["operations"]},
        {"name": "auditor", "roles": ["auditor"]},
    ]


def credentials(desk: TradingDesk, role: str = "admin") -> ClientCredentials | None:
    """The credentials of ``role`` on an embedded desk that has started once (None when its TLS is off)."""
    if not desk.spec.access.tls:
        return None
    return client_of(local_pki(desk), ROLE_IDENTITIES.get(role, role))


def aio_channel(desk: TradingDesk, address: str, role: str = "admin", **kw) -> grpc.aio.Channel:
    return channels.aio_channel(address, credentials=credentials(desk, role), **kw)


def channel(desk: TradingDesk, address: str, role: str = "admin", **kw) -> grpc.Channel:
    return channels.channel(address, credentials=credentials(desk, role), **kw)


def cli_env(desk: TradingDesk, role: str = "admin") -> dict[str, str]:
    """The environment a person's ``tradingdesk`` CLI runs with to reach ``desk`` as ``role``: its certificate in
    ``TD_TLS_CA``/``TD_TLS_CERT``/``TD_TLS_KEY`` (the CLI's own variables; none when the desk's TLS is off)."""
    creds = credentials(desk, role)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TD_TLS_")}
    if creds is not None:
        env.update(TD_TLS_CA=str(creds.ca), TD_TLS_CERT=str(creds.cert), TD_TLS_KEY=str(creds.key))
    return env


def https_context(desk: TradingDesk, role: str = "operations") -> ssl.SSLContext | None:
    """For the desk's HTTP endpoints (/metrics, the dashboard): its CA and ``role``'s certificate (TLS off: None)."""
    creds = credentials(desk, role)
    return creds.ssl_context() if creds is not None else None


def metrics_text(desk: TradingDesk, port: int, role: str = "operations") -> str:
    """One service's /metrics page as ``role`` reads it: over HTTPS with its certificate when the desk's TLS is on."""
    scheme = "https" if desk.spec.access.tls else "http"
    url = f"{scheme}://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=5, context=https_context(desk, role)) as response:
        return response.read().decode()
