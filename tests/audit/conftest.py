"""A real S3-compatible server (moto's, over HTTP on loopback) for the audit bucket tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.desk_runner import free_ports

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "audit-test",
    "AWS_SECRET_ACCESS_KEY": "audit-test-secret",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


GOVERIFY_BUILD = Path(__file__).resolve().parent / "goverify" / "build.sh"


@pytest.fixture(scope="session")
def goverify() -> Path:
    """The Go verifier (golang.org/x/mod/sumdb note and tlog), built once and cached by version."""
    out = subprocess.run(["bash", str(GOVERIFY_BUILD)], capture_output=True, text=True, check=True, timeout=900)
    return Path(out.stdout.strip().splitlines()[-1])


def start_moto_server(log: Path) -> tuple[subprocess.Popen, str]:
    """``moto_server`` on a free loopback port, answering; the process and its URL."""
    port = free_ports(1)[0]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            return proc, url
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"moto_server did not start:\n{log.read_text()}") from None
            time.sleep(0.1)  # the server process starting: no state of ours to wait for


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``moto_server`` on a free loopback port for the whole session; its URL. Credentials go in os.environ
    so the desk's processes (which inherit it) and boto3 in this process find them."""
    proc, url = start_moto_server(tmp_path_factory.mktemp("moto") / "moto.log")
    saved = {k: os.environ.get(k) for k in S3_ENV}
    os.environ.update(S3_ENV)
    try:
        yield url
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.terminate()
        proc.wait(10)
