"""Who a caller is, and the decision whether it may make a call: pure, no transport.

An identity comes from a verified client certificate or a bearer token (``authn``); what it may do comes
from ``spec.access`` and the rule of the method (``policy``). ``decide`` returns the reason for a refusal in
words a person can act on, or None.
"""

from __future__ import annotations

from dataclasses import dataclass

from tradingdesk.security.policy import SCRAPER, SERVICE, TRADER, Rule
from tradingdesk.spec.access import SERVICE_PREFIX, AccessSpec

ALL_ACCOUNTS = "*"
SCRAPER_IDENTITY = SERVICE_PREFIX + "prometheus"
"""Prometheus' certificate: the scraper role only (read /metrics), never the service role."""


@dataclass(frozen=True, slots=True)
class Identity:
    name: str
    roles: frozenset[str]
    accounts: frozenset[str] = frozenset()
    strategies: frozenset[str] = frozenset()
    via: str = "certificate"
    """certificate, jwt or token: how it authenticated."""
    requests_per_second: int = 0
    """Its own rate limit, 0 for the desk's."""

    def entitled(self, account: str) -> bool:
        return ALL_ACCOUNTS in self.accounts or account in self.accounts

    def entitled_strategy(self, strategy: str) -> bool:
        return not self.strategies or not strategy or strategy in self.strategies


def resolve(name: str, access: AccessSpec, *, via: str) -> Identity | None:
    """The identity ``name`` authenticated as, with its roles; None when the desk does not know it."""
    if name.startswith(SERVICE_PREFIX):
        # Only the desk's CA can sign such a name; tokens cannot claim it.
        if via != "certificate":
            return None
        return Identity(name, frozenset({SCRAPER if name == SCRAPER_IDENTITY else SERVICE}), via=via)
    spec = access.identity(name)
    if spec is None:
        return None
    return Identity(
        name,
        frozenset(spec.roles),
        frozenset(spec.accounts),
        frozenset(spec.strategies),
        via=via,
        requests_per_second=spec.requests_per_second,
    )


def _field(message, path: str) -> str:
    value = message
    for part in path.split("."):
        value = getattr(value, part)
    return value


def first_value(message, paths: tuple[str, ...]) -> str:
    for path in paths:
        value = _field(message, path)
        if value:
            return value
    return ""


def role_refusal(identity: Identity, rule: Rule, method: str) -> str | None:
    if identity.roles & rule.roles:
        return None
    held = ", ".join(sorted(identity.roles)) or "none"
    return f"{identity.name} (roles: {held}) may not call {method}: it needs one of the roles {rule.describe_roles()}"


def entitlement_refusal(identity: Identity, rule: Rule, message) -> str | None:
    """Traders act only for their accounts and strategies; other roles the rule allows act for the desk."""
    if not rule.account or (identity.roles & rule.roles) - {TRADER}:
        return None
    account = first_value(message, rule.account)
    if not account:
        if rule.empty_account == "all" and ALL_ACCOUNTS not in identity.accounts:
            mine = ", ".join(sorted(identity.accounts))
            return f"{identity.name} may read its own accounts only ({mine}): name one in the account field"
        return None
    if not identity.entitled(account):
        return f"{identity.name} is not entitled to account {account!r}"
    strategy = first_value(message, rule.strategy) if rule.strategy else ""
    if not identity.entitled_strategy(strategy):
        allowed = ", ".join(sorted(identity.strategies))
        return f"{identity.name} is not entitled to strategy {strategy!r} (only {allowed})"
    return None
