"""Authentication: JWTs checked against a JWKS served over real HTTP (PyJWT), static tokens from files and
the environment, certificate identities; every refusal says what is missing."""

from __future__ import annotations

import http.server
import json
import threading
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tradingdesk.security.authn import Authenticator, AuthError
from tradingdesk.spec.access import AccessSpec

IDENTITIES = [
    {"name": "alice", "roles": ["trader"], "accounts": ["ACC-1"]},
    {"name": "ops-bot", "roles": ["operations"]},
]


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_server(rsa_key):
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", hits
    server.shutdown()


def access(**kw) -> AccessSpec:
    return AccessSpec.model_validate({"identities": IDENTITIES, **kw})


def token(key, *, sub="alice", aud="desk", iss="https://idp", exp_in=300, kid="k1", alg="RS256") -> str:
    now = int(time.time())
    claims = {"sub": sub, "aud": aud, "iss": iss, "iat": now, "exp": now + exp_in}
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


async def test_a_jwt_from_the_configured_provider(rsa_key, jwks_server) -> None:
    url, hits = jwks_server
    auth = Authenticator(access(jwt={"jwksUrl": url, "issuer": "https://idp", "audience": "desk"}), {})
    good = token(rsa_key)
    identity = await auth.from_bearer(f"Bearer {good}")
    assert (identity.name, identity.via, identity.roles) == ("alice", "jwt", frozenset({"trader"}))
    fetched = len(hits)
    await auth.from_bearer(f"Bearer {good}")
    assert len(hits) == fetched  # verified once, then cached until it expires

    for bad, why in [
        (token(rsa_key, aud="other"), "Audience doesn't match"),
        (token(rsa_key, iss="https://evil"), "Invalid issuer"),
        (token(rsa_key, exp_in=-3600), "has expired"),
        (token(rsa.generate_private_key(public_exponent=65537, key_size=2048)), "Signature verification failed"),
        (token(rsa_key, sub="mallory"), "'mallory' has no roles"),
        (token(rsa_key, sub="svc:routing"), "'svc:routing' has no roles"),  # only a certificate is a service
        (token("a-shared-secret-of-32-bytes-long!", alg="HS256"), "not allowed"),
    ]:
        with pytest.raises(AuthError) as err:
            await auth.from_bearer(f"Bearer {bad}")
        assert why in err.value.message, (why, err.value.message)


async def test_a_jwks_file(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "e1"}]}))
    spec = {"jwksFile": str(tmp_path / "jwks.json"), "issuer": "https://idp", "audience": "desk"}
    auth = Authenticator(access(jwt=spec), {})
    identity = await auth.from_bearer("Bearer " + token(key, kid="e1", alg="ES256", sub="ops-bot"))
    assert identity.name == "ops-bot" and identity.roles == frozenset({"operations"})


async def test_static_tokens_from_a_file_and_the_environment(tmp_path: Path, caplog) -> None:
    (tmp_path / "token").write_text("file-secret-123\n")
    spec = access(
        staticTokens=[
            {"identity": "ops-bot", "file": str(tmp_path / "token")},
            {"identity": "alice", "env": "ALICE_TOKEN"},
        ]
    )
    auth = Authenticator(spec, {"ALICE_TOKEN": "env-secret-456"})
    assert (await auth.from_bearer("Bearer file-secret-123")).name == "ops-bot"
    assert (await auth.from_bearer("bearer env-secret-456")).name == "alice"
    with pytest.raises(AuthError, match="not one this desk accepts"):
        await auth.from_bearer("Bearer env-secret-45")
    with pytest.raises(AuthError, match="must be 'Bearer <token>'"):
        await auth.from_bearer("Basic abc")
    missing = Authenticator(access(staticTokens=[{"identity": "alice", "file": str(tmp_path / "nope")}]), {})
    with pytest.raises(AuthError):
        await missing.from_bearer("Bearer anything")
    assert "file-secret-123" not in caplog.text and "env-secret-456" not in caplog.text


async def test_certificate_identities_and_no_credentials() -> None:
    auth = Authenticator(access(), {})
    assert (await auth.identify("svc:risk", None)).roles == frozenset({"service"})
    assert (await auth.identify("alice", "Bearer ignored")).via == "certificate"
    with pytest.raises(AuthError) as err:
        await auth.identify("stranger", None)
    assert err.value.unknown and "not in spec.access.identities" in err.value.message
    with pytest.raises(AuthError) as err:
        await auth.identify(None, None)
    assert "present a client certificate" in err.value.message and not err.value.unknown
