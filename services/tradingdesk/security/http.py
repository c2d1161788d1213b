"""The same checks for HTTP routes as for RPCs: who is calling (a bearer token: a JWT or a static token), may
its roles use the route (``policy.HTTP_RULES``), and an access-log record for every refusal and every
privileged call. A route without a rule is refused.

HTTP callers authenticate with bearer tokens only: the port serves TLS with the service's certificate, but
client certificates are not read on HTTP (uvicorn does not hand them to the application).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from tradingdesk.security.accesslog import AccessLog, AccessRecord
from tradingdesk.security.authn import Authenticator, AuthError
from tradingdesk.security.identity import Identity, role_refusal
from tradingdesk.security.policy import HTTP_RULES, RISK, Rule
from tradingdesk.spec.domain import data_dir
from tradingdesk.spec.model import TradingDesk

LEGACY_IDENTITY = "risk-http-kill-switch"
"""Who the risk service's own HTTP credential (``TD_RISK_HTTP_TOKEN``/``_FILE``, the operator's
``<desk>-risk-http`` Secret) authenticates as: a risk officer on the HTTP kill switch only."""


class HttpDenied(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class HttpAccess:
    authenticator: Authenticator
    access_log: AccessLog
    legacy_token: str | None = None
    rules: dict[tuple[str, str], Rule] | None = None

    async def _identify(self, authorization: str | None) -> Identity:
        if not authorization:
            raise AuthError("no credentials: send 'Authorization: Bearer <token>'")
        scheme, _, given = authorization.partition(" ")
        if self.legacy_token and scheme.lower() == "bearer":
            given_digest = hashlib.sha256(given.strip().encode()).digest()
            if hmac.compare_digest(given_digest, hashlib.sha256(self.legacy_token.encode()).digest()):
                return Identity(LEGACY_IDENTITY, frozenset({RISK}), via="token")
        return await self.authenticator.from_bearer(authorization)

    def _record(self, identity: Identity | None, route: str, outcome: str, detail: str, **kw) -> None:
        self.access_log.record(
            AccessRecord(
                identity=identity.name if identity else "anonymous",
                via=identity.via if identity else "none",
                method=route,
                outcome=outcome,
                detail=detail,
                **kw,
            )
        )

    async def admit(self, method: str, path: str, authorization: str | None, peer: str) -> Identity:
        route = f"{method} {path}"
        rule = (HTTP_RULES if self.rules is None else self.rules).get((method, path))
        try:
            identity = await self._identify(authorization)
        except AuthError as err:
            status = 403 if err.unknown else 401
            self._record(None, route, "FORBIDDEN" if err.unknown else "UNAUTHENTICATED", err.message, peer=peer)
            raise HttpDenied(status, err.message) from None
        refusal = f"{route} has no authorization rule" if rule is None else role_refusal(identity, rule, route)
        if refusal:
            self._record(identity, route, "FORBIDDEN", refusal, peer=peer, privileged=bool(rule and rule.privileged))
            raise HttpDenied(403, refusal)
        return identity

    async def around(self, identity: Identity, method: str, path: str, peer: str, body: dict) -> AsyncIterator[None]:
        """Wraps a privileged route's handler so its outcome is recorded with the identity."""
        rule = (HTTP_RULES if self.rules is None else self.rules).get((method, path))
        if rule is None or not rule.privileged:
            yield
            return
        request = {k: body[k] for k in ("account", "strategy", "actor", "reason", "flatten") if k in body}
        route = f"{method} {path}"
        try:
            yield
        except BaseException as exc:
            detail = getattr(exc, "message", "") or str(exc)
            self._record(identity, route, type(exc).__name__, detail, peer=peer, request=request, privileged=True)
            raise
        self._record(identity, route, "OK", "", peer=peer, request=request, privileged=True)


def http_access(desk: TradingDesk, environ: Mapping[str, str], *, legacy_token: str | None) -> HttpAccess | None:
    """The checks of a desk's HTTP routes; None when its TLS is off (the route keeps its one credential)."""
    if not desk.spec.access.tls:
        return None
    log = AccessLog(data_dir(desk, dict(environ)) / "access" / "risk-http.jsonl", service="risk-http")
    return HttpAccess(Authenticator(desk.spec.access, environ), log, legacy_token=legacy_token)
