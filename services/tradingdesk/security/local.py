"""The embedded runtime's certificates: created on the first ``tradingdesk up`` under ``<dataDir>/<desk>/tls``
and reused after (renewed when a third of their lifetime is left)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from tradingdesk.security.channels import ClientCredentials
from tradingdesk.security.identity import SCRAPER_IDENTITY
from tradingdesk.security.pki import LOCAL_HOSTS, LocalPki
from tradingdesk.security.tls import local_pki
from tradingdesk.spec.model import SERVICE_NAMES, TradingDesk

RUNTIME_IDENTITY = "svc:runtime"
"""The embedded runtime's own identity: it probes its children's health while they start."""


def service_hosts(desk: TradingDesk, service: str, environ: Mapping[str, str]) -> tuple[str, ...]:
    hosts = [*LOCAL_HOSTS, getattr(desk.spec.services, service).host]
    override = environ.get(f"TD_ADDR_{service.upper()}", "")
    if override:
        hosts.append(override.rsplit(":", 1)[0].strip("[]"))
    return tuple(dict.fromkeys(h for h in hosts if h))


def client_identities(desk: TradingDesk) -> tuple[str, ...]:
    """The runtime's, Prometheus' (``tradingdesk up --monitoring`` scrapes with it), and each identity's."""
    return (RUNTIME_IDENTITY, SCRAPER_IDENTITY, *(i.name for i in desk.spec.access.identities if i.certificate))


def ensure_local(desk: TradingDesk, environ: Mapping[str, str] | None = None) -> LocalPki:
    """The desk's CA and every certificate the embedded desk needs, issued where missing or due."""
    env = os.environ if environ is None else environ
    pki = local_pki(desk, env)
    pki.ensure(
        desk.name,
        services={s: service_hosts(desk, s, env) for s in SERVICE_NAMES},
        clients=client_identities(desk),
        days=desk.spec.access.certificate_days,
    )
    return pki


def client_of(pki: LocalPki, identity: str) -> ClientCredentials:
    cert, key = pki.client_paths(identity)
    return ClientCredentials(ca=pki.ca_path, cert=cert, key=key)
