"""The same checks for HTTP routes as for RPCs: who is calling (a verified client certificate, or a bearer
token: a JWT or a static token), may its roles use the route (``policy.HTTP_RULES`` for the kill switch,
``METRICS_HTTP_RULES``, ``DASHBOARD_HTTP_RULES``), and an access-log record for every refusal and every
privileged call. A route without a rule is refused.

Every door serves TLS with the service's certificate (``security.https``), asks for a client certificate of the
desk's CA without requiring one, and hands its common name to ``admit``: a certificate or a token.
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

CERTIFICATE_OR_TOKEN = (
    "no credentials: present a client certificate signed by the desk's CA, or send 'Authorization: Bearer <token>'"
)
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

    async def _identify(self, authorization: str | None, certificate: str | None, session: Identity | None) -> Identity:
        if certificate:
            return self.authenticator.from_certificate(certificate)
        if not authorization:
            if session is not None:
                return session
            raise AuthError(CERTIFICATE_OR_TOKEN)
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

    async def admit(
        self,
        method: str,
        path: str,
        authorization: str | None,
        peer: str,
        *,
        certificate: str | None = None,
        session: Identity | None = None,
    ) -> Identity:
        """The caller's identity if its roles allow the route; raises HttpDenied (401 without credentials or with
        a bad one, 403 for an identity the desk does not know or whose roles do not allow it), recorded.
        ``certificate`` is the common name of the client certificate the TLS handshake verified; ``session`` the
        identity a browser logged in as earlier (used when the request presents nothing else)."""
        route = f"{method} {path}"
        rule = (HTTP_RULES if self.rules is None else self.rules).get((method, path))
        try:
            identity = await self._identify(authorization, certificate, session)
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


def http_access(
    desk: TradingDesk,
    environ: Mapping[str, str],
    *,
    legacy_token: str | None = None,
    door: str = "risk-http",
    rules: dict[tuple[str, str], Rule] | None = None,
) -> HttpAccess | None:
    """The checks of one of a desk's HTTP doors (``door`` names its access log: ``risk-http``,
    ``<service>-metrics``, ``monitoring-dashboard``); None when its TLS is off (plaintext, unchecked, except the
    kill switch's one credential). ``rules`` default to the kill switch's."""
    if not desk.spec.access.tls:
        return None
    log = AccessLog(data_dir(desk, dict(environ)) / "access" / f"{door}.jsonl", service=door)
    return HttpAccess(Authenticator(desk.spec.access, environ), log, legacy_token=legacy_token, rules=rules)
