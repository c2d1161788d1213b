"""The real helm binary for the chart's tests, built by charts/build-helm.sh and cached by version.

Why real helm: template rendering, values.schema.json validation, `lint --strict` and `install` are helm's own
behaviour (sprig functions, schema draft, CRD handling); a reimplementation would test our assumptions.
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.operator.kubectl import Result

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "tradingdesk-operator"
BUILD_SH = ROOT / "charts" / "build-helm.sh"


@cache
def helm_binary() -> str:
    """The cached helm; the tests never build it (a cold build takes minutes): `make helm-build` does."""
    check = subprocess.run(["bash", str(BUILD_SH), "--check"], capture_output=True, text=True)
    if check.returncode != 0:
        pytest.fail("helm is not built: run `make helm-build` (charts/build-helm.sh) first; `make test` does")
    return check.stdout.strip().splitlines()[-1]


def helm(*args: str, timeout: float = 120, check: bool = True) -> Result:
    proc = subprocess.run([helm_binary(), *args], capture_output=True, text=True, timeout=timeout)
    result = Result(proc.returncode, proc.stdout, proc.stderr)
    if check and not result.ok:
        raise AssertionError(f"helm {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr.strip()}")
    return result


def values_args(values: dict[str, Any] | None, tmp: Path) -> list[str]:
    if not values:
        return []
    path = tmp / f"values-{abs(hash(yaml.safe_dump(values, sort_keys=True)))}.yaml"
    path.write_text(yaml.safe_dump(values))
    return ["-f", str(path)]


def template(
    tmp: Path, values: dict[str, Any] | None = None, *extra: str, namespace: str = "tradingdesk-system"
) -> list[dict[str, Any]]:
    """`helm template` of the chart as parsed objects (CRDs included, as `helm install` would create them)."""
    out = helm(
        "template", "desk-operator", str(CHART), "--namespace", namespace, "--include-crds",
        *values_args(values, tmp), *extra,
    ).out  # fmt: skip
    return [doc for doc in yaml.safe_load_all(out) if doc]


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = find(objects, kind)
    assert len(found) == 1, f"expected one {kind}, found {[o['metadata']['name'] for o in found]}"
    return found[0]
