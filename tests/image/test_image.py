"""The image, checked without an image builder (none runs here; `make image` uses one where there is).

What can be checked: the files the Dockerfile copies exist and the build context lets them through; the pip
install the Dockerfile runs succeeds in a fresh venv from those files alone, with runtime dependencies only;
and every command the chart and the operator put in a pod, plus the image's own HEALTHCHECK and CMD, exists
as an entry point of that installation and starts.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from deskoperator.render import Owner, render
from deskoperator.security import RUN_AS_USER
from tests.chart.helm import template
from tests.operator.helpers import test_desk_document
from tradingdesk.spec.load import parse_desk
from tradingdesk.spec.model import SERVICE_NAMES

# The first test that uses `installed` pays for a whole `pip install` of the runtime dependencies (a minute on a
# quiet 2-core machine, from pip's cache; several under load), more than the suite's default 300 s allows.
pytestmark = pytest.mark.timeout(900)

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(line for line in DOCKERFILE.read_text().splitlines()
                                         if not line.lstrip().startswith("#")))  # fmt: skip
    out = []
    for line in text.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def copied_sources() -> list[str]:
    sources = []
    for word, rest in instructions():
        if word == "COPY" and not rest.startswith("--from"):
            *srcs, _dest = shlex.split(rest)
            sources += srcs
    return sources


def exec_form(word: str) -> list[str]:
    (rest,) = [rest for w, rest in instructions() if w == word]
    return yaml.safe_load(rest.partition("CMD ")[2] if word == "HEALTHCHECK" else rest)


def test_the_image_is_multi_stage_slim_python_311_and_non_root() -> None:
    steps = instructions()
    stages = [rest for word, rest in steps if word == "FROM"]
    assert len(stages) == 2 and stages[0].endswith("AS build")
    (base,) = [rest for word, rest in steps if word == "ARG" and rest.startswith("PYTHON_IMAGE=")]
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11-slim(-\w+)?", base)
    (user,) = [rest for word, rest in steps if word == "USER"]
    assert user == f"{RUN_AS_USER}:{RUN_AS_USER}"  # what the operator's and the chart's pod specs run as
    final = steps[[i for i, (w, _) in enumerate(steps) if w == "FROM"][1] :]
    assert [rest for word, rest in final if word == "COPY"] == ["--from=build /opt/tradingdesk /opt/tradingdesk"]
    env = " ".join(rest for word, rest in final if word == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env  # nothing written under a read-only root filesystem


def test_every_file_the_dockerfile_copies_exists_and_reaches_the_build_context() -> None:
    allowed = {line[1:].rstrip("/") for line in DOCKERIGNORE.read_text().splitlines() if line.startswith("!")}
    for source in copied_sources():
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"
        assert source.rstrip("/").removeprefix("./") in allowed, f".dockerignore keeps {source} out of the context"
    assert {"pyproject.toml", "README.md", "services/", "operator/"} <= set(copied_sources())


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv with the Dockerfile's own `pip install`, run in a copy of the files the Dockerfile copies."""
    tmp = tmp_path_factory.mktemp("image")
    context = tmp / "src"
    context.mkdir()
    for source in copied_sources():
        path = ROOT / source
        if path.is_dir():
            shutil.copytree(path, context / source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.so"))
        else:
            shutil.copy2(path, context / source)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    (install,) = [rest for word, rest in instructions() if word == "RUN" and rest.startswith("pip install ")]
    args = shlex.split(install)
    assert args[:2] == ["pip", "install"], install
    # the Dockerfile sets PIP_NO_CACHE_DIR for the image; here pip's cache is reused, so the test stays quick
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_NO_CACHE", "VIRTUAL_ENV", "PYTHON"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    result = subprocess.run([str(venv / "bin" / "python"), "-m", *args], cwd=context, env=env,
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    yield venv / "bin"


def run(bin_dir: Path, command: list[str], *extra: str, env: dict[str, str] | None = None):
    """``command`` as the image would run it: its first word from the venv's bin/, like PATH=/opt/tradingdesk/bin."""
    exe = bin_dir / command[0]
    assert exe.exists(), f"{command[0]} is not an entry point of the installed package"
    clean = {"PATH": str(bin_dir), "HOME": os.environ.get("HOME", "/tmp"), "PYTHONDONTWRITEBYTECODE": "1",
             **(env or {})}  # fmt: skip
    return subprocess.run([str(exe), *command[1:], *extra], env=clean, cwd="/", capture_output=True, text=True,
                          timeout=120)  # fmt: skip


@pytest.mark.slow
def test_the_install_holds_runtime_dependencies_only(installed: Path) -> None:
    check = run(installed, ["pip", "check"])
    assert check.returncode == 0, check.stdout + check.stderr
    for dev_only in ("pytest", "ruff", "grpc_tools", "pulumi"):
        found = run(installed, ["python", "-c", f"import importlib.util as u; print(u.find_spec('{dev_only}'))"])
        assert found.stdout.strip() == "None", f"{dev_only} is installed in the image"
    migrations = run(installed, ["python", "-c", "import tradingdesk.storage, pathlib; "
                                 "print(sorted(p.name for p in (pathlib.Path(tradingdesk.storage.__file__).parent"
                                 " / 'migrations' / 'versions').glob('*.py')))"])  # fmt: skip
    assert "0001_initial.py" in migrations.stdout, migrations.stderr  # package data travels with the wheel
    # the audit log's C loop is built by the install (the build stage has gcc and OpenSSL's headers), not copied
    native = run(installed, ["python", "-c", "import tradingdesk.audit.merkle as m, tradingdesk.audit._native as n; "
                             "print(m.leaf_hashes is n.leaf_hashes)"])  # fmt: skip
    assert native.stdout.strip() == "True", native.stderr


@pytest.mark.slow
def test_the_charts_command_starts(installed: Path, tmp_path: Path) -> None:
    deployment = next(o for o in template(tmp_path) if o["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    result = run(installed, container["command"], "--help")
    assert result.returncode == 0 and "Run the TradingDesk operator" in result.stdout, result.stderr


@pytest.mark.slow
def test_every_command_the_operator_puts_in_a_desk_pod_starts(installed: Path) -> None:
    desk = parse_desk(test_desk_document())
    containers = [c for o in render(desk, "ns", Owner(desk.name, "uid"), "image:tag") if o["kind"] == "Deployment"
                  for c in o["spec"]["template"]["spec"]["containers"]]  # fmt: skip
    assert sorted(c["name"] for c in containers) == sorted(SERVICE_NAMES)
    for c in containers:
        # `tradingdesk serve <service> --help`: the entry point exists and accepts the service by name
        result = run(installed, c["command"], *c["args"][:2], "--help")
        assert result.returncode == 0 and "usage: tradingdesk serve" in result.stdout, (c["name"], result.stderr)
    refused = run(installed, ["tradingdesk"], "serve", "bogus", "--help")
    assert refused.returncode == 2 and "invalid choice: 'bogus'" in refused.stderr


@pytest.mark.slow
def test_the_images_cmd_and_healthcheck_run(installed: Path) -> None:
    cmd = run(installed, exec_form("CMD"))
    assert cmd.returncode == 0 and "serve" in cmd.stdout
    health = exec_form("HEALTHCHECK")
    down = run(installed, health, env={"TD_HEALTHCHECK_URL": "grpc://127.0.0.1:1"})
    assert down.returncode == 1 and down.stderr.startswith("unhealthy: grpc://127.0.0.1:1: UNAVAILABLE"), down.stderr
