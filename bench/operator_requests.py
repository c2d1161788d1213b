"""How many API requests the operator makes per desk, by verb and resource: counted, not timed.

Why a count: the API server is what limits many desks (docs/operator.md, "Where the time goes"), and on a shared
two-core machine wall time varies from run to run while the requests a desk costs do not (much). The operator
runs as a process, as in ``bench.operator_bench``, started through this module, which first wraps both of its API
clients: the operator's own (``Kube.request``) and kopf's (aiohttp), and counts each request by client, verb
(``LIST`` and ``WATCH`` told apart from ``GET``) and resource (``secrets[ca]`` is a desk's CA Secret). The counts
are served as ``bench_api_requests_total`` on the operator's metrics port and read before and after.

Two windows per desk count: from ``kubectl apply`` until every desk is Ready, and the minute after (retries of
deliveries to the desks' RiskServices, which kwok pods never run, and heartbeats: what a settled desk costs).

Run alone: ``python -m bench.operator_requests [N ...]`` (default 10 and 50 desks), on the cluster of
``$TD_CLUSTER_DIR`` (started when not running, stopped again at the end).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bench.operator_bench import (
    CRDS,
    _cleanup,
    _kubectl,
    _wait_established,
    time_desks,
)
from tests.cluster.control_plane import start
from tests.operator.kubectl import free_port

METRIC = "bench_api_requests_total"
STEADY_S = 60.0
"""The window after Ready: long enough for two heartbeats and the retries at the backoff's cap (30 s)."""


def classify(method: str, url: str, params: dict[str, Any] | None = None) -> tuple[str, str]:
    """(verb, resource) of one request: ``GET`` of a collection is ``LIST``, with ``watch=true`` ``WATCH``;
    a subresource follows its resource (``tradingdesks/status``); a desk's CA Secret is ``secrets[ca]``."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | {k: str(v) for k, v in (params or {}).items()}
    segments = [s for s in parts.path.split("/") if s]
    if segments[:1] == ["api"]:
        rest = segments[2:]
    elif segments[:1] == ["apis"]:
        rest = segments[3:]
    else:
        return method.upper(), "/".join(segments[:1]) or "/"
    if not rest:
        return method.upper(), "discovery"
    if rest[0] == "namespaces" and len(rest) > 2:
        rest = rest[2:]
    resource, name, sub = rest[0], rest[1] if len(rest) > 1 else "", rest[2] if len(rest) > 2 else ""
    verb = method.upper()
    if verb == "GET" and not name:
        verb = "WATCH" if query.get("watch") in ("true", "1", "True") else "LIST"
    elif verb == "POST":
        verb = "CREATE"
    if resource == "secrets" and name.endswith("-tls-ca"):
        resource = "secrets[ca]"
    return verb, resource + (f"/{sub}" if sub else "")


def install_counters() -> None:
    """Count every request of both API clients into the operator's metrics (in the operator's process)."""
    import aiohttp

    from deskoperator import metrics
    from deskoperator.kube import Kube

    metrics.HELP[METRIC] = ("counter", "API requests made, by client, verb and resource (bench.operator_requests).")
    own = Kube.request

    def counted(self: Kube, method: str, url_path: str, **kwargs: Any) -> Any:
        verb, resource = classify(method, url_path, kwargs.get("query"))
        metrics.METRICS.inc(METRIC, client="operator", verb=verb, resource=resource)
        return own(self, method, url_path, **kwargs)

    Kube.request = counted  # type: ignore[method-assign]
    kopfs = aiohttp.ClientSession._request

    async def counted_kopf(self: aiohttp.ClientSession, method: str, str_or_url: Any, **kwargs: Any) -> Any:
        verb, resource = classify(method, str(str_or_url), kwargs.get("params"))
        metrics.METRICS.inc(METRIC, client="kopf", verb=verb, resource=resource)
        return await kopfs(self, method, str_or_url, **kwargs)

    aiohttp.ClientSession._request = counted_kopf  # type: ignore[method-assign]


def scrape(port: int) -> Counter[tuple[str, str, str]]:
    """(client, verb, resource) -> requests so far, from the operator's metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out: Counter[tuple[str, str, str]] = Counter()
    for line in text.splitlines():
        if not line.startswith(METRIC + "{"):
            continue
        labels_text, value = line[len(METRIC) + 1 :].rsplit("} ", 1)
        labels = dict(part.split("=", 1) for part in labels_text.split(","))
        key = tuple(labels[k].strip('"') for k in ("client", "verb", "resource"))
        out[key] += int(float(value))  # type: ignore[index]
    return out


def table(counts: Counter[tuple[str, str, str]], desks: int) -> str:
    """Requests per desk, one line per (client, verb, resource), dearest first, and the total."""
    lines = [f"  {'client':8} {'verb':7} {'resource':34} {'total':>6} {'per desk':>9}"]
    for (client, verb, resource), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if n:
            lines.append(f"  {client:8} {verb:7} {resource:34} {n:6d} {n / desks:9.2f}")
    total = sum(counts.values())
    lines.append(f"  {'all':8} {'':7} {'':34} {total:6d} {total / desks:9.2f}")
    return "\n".join(lines)


def _operator(kubeconfig: Path, port: int, log: Path) -> Any:
    import subprocess

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    env["PYTHONPATH"] = os.pathsep.join([str(root / "services"), str(root / "operator"), str(root)])
    args = ["--metrics-port", str(port), "--liveness", "", "--preempt"]
    out = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "bench.operator_requests", "--operator", *args], env=env, stdout=out, stderr=out
    )


def measure(counts: tuple[int, ...] = (10, 50)) -> dict[int, dict[str, Counter]]:
    cluster = start()
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="operator-requests-")) / "operator.log"
    prefixes = (*(f"bench-req{n}-" for n in counts), "bench-reqwarm-")
    operator = None
    results: dict[int, dict[str, Counter]] = {}
    try:
        _kubectl(cluster, "apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
        _wait_established(cluster, "tradingdesks.tradingdesk.io")
        _cleanup(cluster, prefixes, namespaces_gone=True)
        operator = _operator(cluster.kubeconfig, port, log)
        time_desks(cluster, 1, "bench-reqwarm-")  # leadership, CRD scan and watch streams are not counted
        for n in counts:
            prefix = f"bench-req{n}-"
            before = scrape(port)
            took = time_desks(cluster, n, prefix)
            ready = scrape(port)
            time.sleep(STEADY_S)  # a fixed window by design: what a settled desk costs per minute
            after = scrape(port)
            results[n] = {"ready": ready - before, "steady": after - ready}
            print(f"\n{n} desks: apply -> all Ready in {took:.1f}s; requests per desk until Ready:")
            print(table(results[n]["ready"], n))
            print(f"{n} desks: requests per desk in the {STEADY_S:.0f} s after Ready:")
            print(table(results[n]["steady"], n))
            _cleanup(cluster, (prefix,), namespaces_gone=True)
        return results
    except Exception as exc:
        print(f"operator request count failed: {exc}; operator log: {log}", file=sys.stderr)
        raise
    finally:
        try:
            _cleanup(cluster, prefixes)
        finally:
            if operator is not None:
                operator.terminate()
                operator.wait(timeout=30)
            if cluster.started_here and os.environ.get("TD_CLUSTER_KEEP", "0") != "1":
                cluster.stop()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--operator"]:
        install_counters()
        from deskoperator.__main__ import main

        sys.exit(main(sys.argv[2:]))
    sizes = tuple(int(a) for a in sys.argv[1:]) or (10, 50)
    out = measure(sizes)
    dump = {str(n): {w: {"/".join(k): v for k, v in c.items()} for w, c in r.items()} for n, r in out.items()}
    print(json.dumps(dump, sort_keys=True))
