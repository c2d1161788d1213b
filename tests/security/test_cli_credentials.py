"""Where the CLI takes its credentials from: flags, then the environment, then a config file, then the
embedded desk's own certificates; each mistake named."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tests.desk_runner import write_desk
from tradingdesk.cli.credentials import CredentialError, add_arguments, credentials
from tradingdesk.security.local import ensure_local
from tradingdesk.spec.load import load_desk


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(list(argv))


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name in ("ca.crt", "me.crt", "me.key", "token", "other.crt", "other.key"):
        out[name] = tmp_path / name
        out[name].write_text(f"{name}\n")
    return out


def test_flags_win_over_the_environment(files) -> None:
    env = {"TD_TLS_CA": str(files["ca.crt"]), "TD_TLS_CERT": str(files["other.crt"]), "TD_TLS_KEY": "x"}
    creds = credentials(
        parse("--ca", str(files["ca.crt"]), "--cert", str(files["me.crt"]), "--key", str(files["me.key"])), None, env
    )
    assert (creds.cert, creds.key, creds.token) == (files["me.crt"], files["me.key"], None)


def test_a_token_from_a_file_or_the_environment(files) -> None:
    creds = credentials(parse("--ca", str(files["ca.crt"]), "--token-file", str(files["token"])), None, {})
    assert creds.token == "token" and creds.cert is None
    creds = credentials(parse(), None, {"TD_TOKEN": "abc", "TD_TLS_CA": str(files["ca.crt"])})
    assert creds.token == "abc" and creds.ca == files["ca.crt"]
    assert "abc" not in repr(creds)


def test_a_config_file(files, tmp_path: Path) -> None:
    config = tmp_path / "client.yaml"
    config.write_text(f"ca: {files['ca.crt']}\ncert: {files['me.crt']}\nkey: {files['me.key']}\n")
    creds = credentials(parse("--config", str(config)), None, {})
    assert creds.cert == files["me.crt"]
    assert credentials(parse(), None, {"TD_CLIENT_CONFIG": str(config)}).key == files["me.key"]


def test_mistakes_are_named(files, tmp_path: Path) -> None:
    with pytest.raises(CredentialError, match="needs its key too"):
        credentials(parse("--cert", str(files["me.crt"])), None, {})
    with pytest.raises(CredentialError, match="no such file"):
        credentials(parse("--ca", str(tmp_path / "missing.crt")), None, {})
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(CredentialError, match="is empty"):
        credentials(parse("--token-file", str(empty)), None, {})


def test_the_embedded_desks_certificate_of_an_identity(tmp_path: Path) -> None:
    desk = load_desk(write_desk(tmp_path))
    env = {"TD_DATA_DIR": str(tmp_path / "data")}
    with pytest.raises(CredentialError, match="issued by `tradingdesk up`"):
        credentials(parse(), desk, env)
    ensure_local(desk, env)
    assert credentials(parse(), desk, env).cert.name == "admin.crt"  # the first identity
    assert credentials(parse("--as", "auditor"), desk, env).cert.name == "auditor.crt"
    assert credentials(parse(), desk, {**env, "TD_IDENTITY": "trader"}).cert.name == "trader.crt"
    plain = desk.model_copy(
        update={"spec": desk.spec.model_copy(update={"access": desk.spec.access.model_copy(update={"tls": False})})}
    )
    assert credentials(parse(), plain, env) is None
