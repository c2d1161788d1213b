"""Where each service of a desk listens, the same way in both runtimes.

The embedded runtime uses the spec's hosts and ports; in Kubernetes the operator sets ``TD_ADDR_<SERVICE>``
to the Service DNS name. A service never needs to know which runtime started it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from tradingdesk.spec.model import SERVICE_NAMES, TradingDesk


@dataclass(frozen=True, slots=True)
class ServiceDirectory:
    addresses: dict[str, str]

    @classmethod
    def for_desk(cls, desk: TradingDesk, environ: dict[str, str] | None = None) -> ServiceDirectory:
        env = os.environ if environ is None else environ
        services = desk.spec.services
        addresses = {}
        for name in SERVICE_NAMES:
            default = f"{getattr(services, name).host}:{services.port_of(name)}"
            addresses[name] = env.get(f"TD_ADDR_{name.upper()}", default)
        return cls(addresses)

    def address(self, service: str) -> str:
        return self.addresses[service]

    def bind_address(self, service: str, desk: TradingDesk, environ: dict[str, str] | None = None) -> str:
        """The address a service listens on: ``TD_BIND`` (e.g. ``0.0.0.0:50052`` in a pod) or its own entry."""
        env = os.environ if environ is None else environ
        return env.get("TD_BIND", f"{getattr(desk.spec.services, service).host}:{desk.spec.services.port_of(service)}")
