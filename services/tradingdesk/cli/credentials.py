"""Where the CLI finds its credentials, first match wins:

1. flags: ``--ca``, ``--cert``/``--key``, ``--token-file`` (a token is never a flag value: it would show in
   ``ps`` and shell history);
2. environment: ``TD_TLS_CA``, ``TD_TLS_CERT``/``TD_TLS_KEY``, ``TD_TOKEN`` or ``TD_TOKEN_FILE``;
3. a config file: ``--config``, else ``TD_CLIENT_CONFIG``, else ``~/.config/tradingdesk/client.yaml`` with the
   keys ``ca``, ``cert``, ``key``, ``tokenFile``;
4. with ``-f desk.yaml``: the embedded desk's own client certificate for ``--as NAME`` (or ``TD_IDENTITY``,
   else the first of ``spec.access.identities`` that has one), issued by ``tradingdesk up``.

A desk whose ``spec.access.tls`` is false is dialled in plaintext.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path

import yaml

from tradingdesk.security.channels import ClientCredentials
from tradingdesk.security.local import client_of
from tradingdesk.security.tls import local_pki
from tradingdesk.spec.model import TradingDesk

DEFAULT_CONFIG = Path("~/.config/tradingdesk/client.yaml")


class CredentialError(ValueError):
    pass


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("credentials (docs/security.md)")
    g.add_argument("--ca", help="the desk's CA certificate (PEM), or TD_TLS_CA")
    g.add_argument("--cert", help="client certificate (PEM), or TD_TLS_CERT")
    g.add_argument("--key", help="client private key (PEM), or TD_TLS_KEY")
    g.add_argument("--token-file", help="file holding a bearer token (JWT or static), or TD_TOKEN(_FILE)")
    g.add_argument("--config", help="client config file (default $TD_CLIENT_CONFIG, ~/.config/tradingdesk/client.yaml)")
    g.add_argument("--as", dest="identity", help="with -f: use the embedded desk's certificate of this identity")


def _read_token(path: str) -> str:
    try:
        token = Path(path).expanduser().read_text().strip()
    except OSError as exc:
        raise CredentialError(f"cannot read the token file {path}: {exc.strerror}") from None
    if not token:
        raise CredentialError(f"the token file {path} is empty")
    return token


def _from(ca: str | None, cert: str | None, key: str | None, token: str | None) -> ClientCredentials:
    if bool(cert) != bool(key):
        raise CredentialError("a client certificate needs its key too (--cert with --key)")
    paths = [Path(p).expanduser() if p else None for p in (ca, cert, key)]
    for p in paths:
        if p is not None and not p.exists():
            raise CredentialError(f"{p}: no such file")
    return ClientCredentials(ca=paths[0], cert=paths[1], key=paths[2], token=token)


def _config_file(args: argparse.Namespace, env: Mapping[str, str]) -> Path | None:
    named = args.config or env.get("TD_CLIENT_CONFIG")
    if named:
        path = Path(named).expanduser()
        if not path.exists():
            raise CredentialError(f"client config {path}: no such file")
        return path
    default = DEFAULT_CONFIG.expanduser()
    return default if default.exists() else None


def credentials(
    args: argparse.Namespace, desk: TradingDesk | None, environ: Mapping[str, str] | None = None
) -> ClientCredentials | None:
    env = os.environ if environ is None else environ
    if desk is not None and not desk.spec.access.tls:
        return None
    if args.ca or args.cert or args.key or args.token_file:
        token = _read_token(args.token_file) if args.token_file else None
        return _from(args.ca, args.cert, args.key, token)
    token = env.get("TD_TOKEN", "").strip() or None
    if token is None and env.get("TD_TOKEN_FILE"):
        token = _read_token(env["TD_TOKEN_FILE"])
    if token or env.get("TD_TLS_CA") or env.get("TD_TLS_CERT"):
        return _from(env.get("TD_TLS_CA"), env.get("TD_TLS_CERT"), env.get("TD_TLS_KEY"), token)
    config = _config_file(args, env)
    if config is not None:
        doc = yaml.safe_load(config.read_text()) or {}
        if not isinstance(doc, dict):
            raise CredentialError(f"client config {config}: expected a mapping with ca, cert, key, tokenFile")
        token = _read_token(doc["tokenFile"]) if doc.get("tokenFile") else None
        return _from(doc.get("ca"), doc.get("cert"), doc.get("key"), token)
    if desk is None:
        return None
    return _embedded(desk, args.identity or env.get("TD_IDENTITY"), env)


def _embedded(desk: TradingDesk, identity: str | None, env: Mapping[str, str]) -> ClientCredentials:
    pki = local_pki(desk, env)
    if identity is None:
        names = [i.name for i in desk.spec.access.identities if i.certificate]
        if not names:
            raise CredentialError(
                "no credentials: give --cert/--key or --token-file, or add an identity to spec.access.identities"
            )
        identity = names[0]
    creds = client_of(pki, identity)
    if creds.cert is None or not creds.cert.exists():
        raise CredentialError(
            f"no certificate for {identity!r} under {pki.directory}: it is issued by `tradingdesk up` for "
            "each identity of spec.access.identities"
        )
    return creds
