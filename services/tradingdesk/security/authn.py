"""Authentication: a verified client certificate, or a bearer token (a JWT checked against the provider's
JWKS with PyJWT, or a static token read from a file or an environment variable).

Tokens are compared by their SHA-256 digest, never logged, and never echoed in an error. A verified JWT is
cached until it expires so the signature is checked once per token, not once per call.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import jwt

from tradingdesk.security.identity import Identity, resolve
from tradingdesk.spec.access import AccessSpec, JwtSpec

log = logging.getLogger(__name__)

JWT_CACHE_SIZE = 10_000


class AuthError(Exception):
    """The caller is not authenticated (UNAUTHENTICATED / HTTP 401), or authenticated as an identity the desk
    does not know (``unknown``: PERMISSION_DENIED / 403). The message says what is missing."""

    def __init__(self, message: str, *, unknown: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.unknown = unknown


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def load_static_tokens(access: AccessSpec, environ: Mapping[str, str]) -> dict[bytes, str]:
    """Digest of each configured static token -> the identity it authenticates as. A source that is missing
    or empty is logged (by name, never by content) and skipped: that identity cannot log in by token."""
    tokens: dict[bytes, str] = {}
    for entry in access.static_tokens:
        if entry.env:
            value = environ.get(entry.env, "").strip()
            source = f"environment variable {entry.env}"
        else:
            source = f"file {entry.file}"
            try:
                value = Path(entry.file).read_text().strip()
            except OSError as exc:
                log.error("static token of %s: cannot read %s: %s", entry.identity, source, exc.strerror)
                continue
        if not value:
            log.error("static token of %s: %s is empty", entry.identity, source)
            continue
        tokens[_digest(value)] = entry.identity
    return tokens


class JwtVerifier:
    """Checks signature, issuer, audience, expiry and not-before against the provider's JWKS."""

    def __init__(self, spec: JwtSpec) -> None:
        self.spec = spec
        self._client = jwt.PyJWKClient(spec.jwks_url, cache_keys=True, lifespan=300) if spec.jwks_url else None
        self._file_keys: jwt.PyJWKSet | None = None
        self._file_mtime = 0.0
        self._cache: OrderedDict[bytes, tuple[str, float]] = OrderedDict()

    def _key_from_file(self, kid: str | None):
        path = Path(self.spec.jwks_file)
        mtime = path.stat().st_mtime
        if self._file_keys is None or mtime != self._file_mtime:
            self._file_keys = jwt.PyJWKSet.from_json(path.read_text())
            self._file_mtime = mtime
        keys = self._file_keys.keys
        for key in keys:
            if kid is None or key.key_id == kid:
                return key
        raise jwt.PyJWKSetError(f"no key with kid {kid!r} in {path}")

    def _verify_blocking(self, token: str) -> tuple[str, float]:
        header = jwt.get_unverified_header(token)
        if self._client is not None:
            key = self._client.get_signing_key_from_jwt(token)
        else:
            key = self._key_from_file(header.get("kid"))
        claims = jwt.decode(
            token,
            key,
            algorithms=list(self.spec.algorithms),
            audience=self.spec.audience,
            issuer=self.spec.issuer,
            leeway=self.spec.leeway_seconds,
            options={"require": ["exp", "iss", "aud", self.spec.subject_claim]},
        )
        subject = claims[self.spec.subject_claim]
        if not isinstance(subject, str) or not subject:
            raise jwt.InvalidTokenError(f"claim {self.spec.subject_claim!r} is not a name")
        return subject, float(claims["exp"])

    async def subject(self, token: str) -> str:
        """The identity the token names; raises AuthError saying why it is refused."""
        digest = _digest(token)
        cached = self._cache.get(digest)
        now = time.time()
        if cached is not None and cached[1] + self.spec.leeway_seconds > now:
            self._cache.move_to_end(digest)
            return cached[0]
        try:
            subject, exp = await asyncio.to_thread(self._verify_blocking, token)
        except jwt.ExpiredSignatureError:
            raise AuthError("the bearer JWT has expired: get a new one from the identity provider") from None
        except (jwt.PyJWKClientError, jwt.PyJWKSetError, OSError) as exc:
            raise AuthError(f"the bearer JWT's signing key cannot be found in the JWKS: {exc}") from None
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"the bearer JWT is invalid: {exc}") from None
        self._cache[digest] = (subject, exp)
        if len(self._cache) > JWT_CACHE_SIZE:
            self._cache.popitem(last=False)
        return subject


def _looks_like_jwt(token: str) -> bool:
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        header = json.loads(jwt.utils.base64url_decode(parts[0]))
    except (ValueError, TypeError):
        return False
    return isinstance(header, dict) and "alg" in header


class Authenticator:
    """Turns what a call presents into an Identity of the desk."""

    def __init__(self, access: AccessSpec, environ: Mapping[str, str] | None = None) -> None:
        self.access = access
        self._static = load_static_tokens(access, os.environ if environ is None else environ)
        self._jwt = JwtVerifier(access.jwt) if access.jwt is not None else None
        self._by_cert: dict[str, Identity | None] = {}

    def from_certificate(self, common_name: str) -> Identity:
        identity = self._by_cert.get(common_name)
        if identity is None:
            identity = resolve(common_name, self.access, via="certificate")
            if identity is None:
                raise AuthError(
                    f"certificate identity {common_name!r} has no roles on this desk "
                    "(it is not in spec.access.identities)",
                    unknown=True,
                )
            self._by_cert[common_name] = identity
        return identity

    async def from_bearer(self, authorization: str) -> Identity:
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError("the authorization header must be 'Bearer <token>'")
        name = self._static.get(_digest(token))
        via = "token"
        if name is None:
            if self._jwt is None or not _looks_like_jwt(token):
                raise AuthError("the bearer token is not one this desk accepts")
            name, via = await self._jwt.subject(token), "jwt"
        identity = resolve(name, self.access, via=via)
        if identity is None:
            raise AuthError(f"token identity {name!r} has no roles on this desk", unknown=True)
        return identity

    async def identify(self, common_name: str | None, authorization: str | None) -> Identity:
        """The certificate's identity if the TLS handshake verified one, else the bearer token's."""
        if common_name:
            return self.from_certificate(common_name)
        if authorization:
            return await self.from_bearer(authorization)
        raise AuthError(
            "no credentials: present a client certificate signed by the desk's CA, or an "
            "'authorization: Bearer <token>' header on a token port"
        )
