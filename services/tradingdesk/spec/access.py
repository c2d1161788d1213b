"""``spec.access``: who may call the desk, with which roles, for which accounts, how often.

The spec names identities and the credentials' *sources* (a file or an environment variable, e.g. a mounted
Secret), never a secret itself: tokens, keys and passwords stay out of the spec, the ConfigMap rendered from
it, the custom resource's status and every log line. docs/security.md explains each role.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tradingdesk.spec.base import Model

RoleName = Literal["trader", "risk_officer", "operations", "auditor", "service"]
HUMAN_ROLES: tuple[RoleName, ...] = ("trader", "risk_officer", "operations", "auditor")
SERVICE_PREFIX = "svc:"
"""Identity names of the desk's own services and the operator (``svc:routing``, ``svc:operator``): only a
certificate signed by the desk's CA can carry one, and it has the service role (``svc:prometheus``: only the
scraper role, which reads /metrics)."""

IDENTITY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@\-]{0,127}$"


class IdentitySpec(Model):
    """A person or program allowed to call the desk, and what it may do."""

    name: str = Field(pattern=IDENTITY_PATTERN)
    """The identity: the common name of its client certificate, the subject of its JWT, or the name a static
    token authenticates as."""
    roles: list[Literal["trader", "risk_officer", "operations", "auditor"]] = Field(min_length=1, max_length=4)
    """trader (orders and positions of its accounts), risk_officer (limits, trading states, kill switch,
    resume, latch release), operations (feed lines, health), auditor (read-only queries)."""
    accounts: list[str] = Field(default_factory=list, max_length=10_000)
    """Accounts a trader may submit, cancel and read for; ``*`` means every account of the desk."""
    strategies: list[str] = Field(default_factory=list, max_length=256)
    """Strategies a trader may submit for; empty allows any strategy of its accounts."""
    requests_per_second: int = Field(default=0, ge=0, le=10_000_000)
    """This identity's own rate limit (0: the desk's ``rateLimit.requestsPerSecond``)."""
    certificate: bool = True
    """``tradingdesk up`` issues a client certificate for it from the desk's CA (embedded runtime)."""

    @model_validator(mode="after")
    def _entitlements(self) -> IdentitySpec:
        if "trader" in self.roles and not self.accounts:
            raise ValueError(f"identity {self.name!r}: a trader needs accounts (or '*' for every account)")
        if self.accounts and "trader" not in self.roles:
            raise ValueError(f"identity {self.name!r}: accounts are entitlements of the trader role only")
        return self


class JwtSpec(Model):
    """Bearer JWTs from an identity provider, checked against its published keys (JWKS)."""

    jwks_url: str = ""
    """URL of the provider's JWKS document (fetched and cached; refetched for an unknown key id)."""
    jwks_file: str = ""
    """Or a JWKS document on disk (e.g. a mounted ConfigMap): public keys only, never a secret."""
    issuer: str = Field(min_length=1, max_length=512)
    """The ``iss`` every token must carry."""
    audience: str = Field(min_length=1, max_length=512)
    """The ``aud`` every token must carry."""
    subject_claim: str = Field(default="sub", min_length=1, max_length=64)
    """Claim holding the identity's name (matched against ``identities[].name``)."""
    algorithms: list[Literal["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]] = Field(
        default_factory=lambda: ["RS256", "ES256", "EdDSA"], min_length=1
    )
    """Signature algorithms accepted (never ``none`` nor a symmetric one)."""
    leeway_seconds: int = Field(default=30, ge=0, le=600)
    """Clock skew tolerated on ``exp`` and ``nbf``."""

    @model_validator(mode="after")
    def _one_source(self) -> JwtSpec:
        if bool(self.jwks_url) == bool(self.jwks_file):
            raise ValueError("jwt: set exactly one of jwksUrl and jwksFile")
        return self


class StaticTokenSpec(Model):
    """A long-lived bearer token for a program (a Kubernetes Secret mounted as a file, or an environment
    variable). The token itself never appears in the spec."""

    identity: str = Field(pattern=IDENTITY_PATTERN)
    """The identity the token authenticates as (one of ``identities[].name``)."""
    file: str = ""
    """File holding the token (surrounding whitespace ignored)."""
    env: str = Field(default="", pattern=r"^([A-Z_][A-Z0-9_]{0,127})?$")
    """Or the environment variable holding it."""

    @model_validator(mode="after")
    def _one_source(self) -> StaticTokenSpec:
        if bool(self.file) == bool(self.env):
            raise ValueError(f"staticTokens[{self.identity}]: set exactly one of file and env")
        return self


class RateLimitSpec(Model):
    """Limits per identity and per service process: one abusive caller cannot starve the others."""

    requests_per_second: int = Field(default=5_000, ge=1, le=10_000_000)
    """Calls plus streamed request messages per second (a token bucket)."""
    burst: int = Field(default=10_000, ge=1, le=10_000_000)
    """Calls allowed at once above the steady rate."""
    max_streams: int = Field(default=64, ge=1, le=100_000)
    """Concurrent streaming calls one identity may hold open on one service."""


class AccessSpec(Model):
    tls: bool = True
    """Mutual TLS under the desk's CA on every gRPC and HTTP port, and authorization of every call. false
    serves plaintext to anyone: for benchmarks of the difference only."""
    identities: list[IdentitySpec] = Field(default_factory=list, max_length=10_000)
    """Who may call the desk, with which roles and entitlements."""
    jwt: JwtSpec | None = None
    """Accept bearer JWTs from this provider."""
    static_tokens: list[StaticTokenSpec] = Field(default_factory=list, max_length=1_000)
    """Accept these long-lived bearer tokens."""
    token_ports: dict[Literal["feeds", "routing", "risk", "compliance", "monitoring"], int] = Field(
        default_factory=dict
    )
    """Where a service also listens with TLS but without asking for a client certificate, for clients that
    authenticate with a bearer token (gRPC over Python cannot ask for a certificate optionally)."""
    rate_limit: RateLimitSpec = Field(default_factory=RateLimitSpec)
    """Rate and stream limits per identity."""
    max_message_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024, le=256 * 1024 * 1024)
    """Largest message a service accepts or sends."""
    certificate_days: int = Field(default=30, ge=1, le=825)
    """Lifetime of service and client certificates; the operator renews them after two thirds of it."""

    @model_validator(mode="after")
    def _consistent(self) -> AccessSpec:
        problems: list[str] = []
        names = [i.name for i in self.identities]
        if dups := sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"identities[].name: must be unique, repeated: {', '.join(dups)}")
        for i, token in enumerate(self.static_tokens):
            if token.identity not in names:
                problems.append(f"staticTokens[{i}].identity: {token.identity!r} is not one of identities[].name")
        for service, port in self.token_ports.items():
            if not 1 <= port <= 65_535:
                problems.append(f"tokenPorts.{service}: {port} is not a port")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def identity(self, name: str) -> IdentitySpec | None:
        return next((i for i in self.identities if i.name == name), None)

    def cross_check(self, accounts: set[str], ports: set[int]) -> list[str]:
        """Problems against the rest of the desk, as ``spec.access.<field>: ...``."""
        out: list[str] = []
        for i, ident in enumerate(self.identities):
            for j, account in enumerate(ident.accounts):
                if account != "*" and account not in accounts:
                    out.append(f"spec.access.identities[{i}].accounts[{j}]: {account!r} is not an account of the desk")
        for service, port in self.token_ports.items():
            if port in ports:
                out.append(f"spec.access.tokenPorts.{service}: {port} collides with a service's gRPC port")
        if len(set(self.token_ports.values())) != len(self.token_ports):
            out.append("spec.access.tokenPorts: must be distinct")
        return out
