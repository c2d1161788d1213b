"""The monitoring binaries the tests run (built by tests/monitoring/build.sh, which `make test` runs first)."""

from __future__ import annotations

import json
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

BUILD = Path(__file__).resolve().parent / "build.sh"


def bin_dir(tool: str) -> Path:
    """Where ``tool`` (prometheus, alertmanager, jaeger) is built; fails the test when it is not built yet."""
    done = subprocess.run(["bash", str(BUILD), "--check", tool], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"{tool} is not built: run `make monitoring-build` (tests/monitoring/build.sh {tool})")
    return Path(done.stdout.strip().splitlines()[-1])


def run(tool: str, binary: str, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(bin_dir(tool) / binary), *args], capture_output=True, text=True, timeout=120)
    if check and done.returncode != 0:
        raise AssertionError(f"{binary} {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def get_json(url: str, **params: str) -> Any:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    with urllib.request.urlopen(url + query, timeout=5) as resp:
        return json.load(resp)


def prometheus_query(base: str, expr: str) -> list[dict[str, Any]]:
    answer = get_json(f"{base}/api/v1/query", query=expr)
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def points(reader: InMemoryMetricReader) -> dict[str, list]:
    """Every data point an in-memory OpenTelemetry reader holds, by metric name."""
    out: dict[str, list] = {}
    for rm in reader.get_metrics_data().resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                out.setdefault(metric.name, []).extend(metric.data.data_points)
    return out
