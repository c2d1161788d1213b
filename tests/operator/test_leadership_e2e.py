"""Leadership by Lease: a standby says whom it waits for, stays ready (webhook), and takes over a dead leader."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest

from tests.operator.kubectl import Kubectl, free_port
from tests.operator.process import start_operator, stop

pytestmark = [pytest.mark.k8s, pytest.mark.slow, pytest.mark.timeout(300)]

LEASE = "td-e2e-takeover"  # its own Lease: the session's operator keeps leading the other tests


def holder(kube: Kubectl) -> str:
    lease = kube.run("get", "lease", LEASE, "-n", "default", "-o", "jsonpath={.spec.holderIdentity}", check=False)
    return lease.out if lease.ok else ""


def test_a_standby_takes_over_a_dead_leader_within_the_lease(kube: Kubectl, tmp_path: Path) -> None:
    kube.run("delete", "lease", LEASE, "-n", "default", "--ignore-not-found")
    kube.run("create", "namespace", "td-e2e-takeover-empty", check=False)
    common = ("--lease-name", LEASE, "--lease-namespace", "default", "--lease-seconds", "5", "--metrics-port", "0",
              "--namespace", "td-e2e-takeover-empty")  # fmt: skip
    health_a, health_b = free_port(), free_port()
    a, _ = start_operator(kube, tmp_path, *common, "--liveness", f"http://127.0.0.1:{health_a}/healthz", name="a")
    b = None
    try:
        kube.wait_until("a leads", lambda: holder(kube).endswith(f"-{a.pid}"), timeout=60)
        b, log_b = start_operator(kube, tmp_path, *common, "--liveness", f"http://127.0.0.1:{health_b}/healthz",
                                  name="b")  # fmt: skip
        kube.wait_until(
            "b to say whom it waits for",
            lambda: f"waiting for leadership: Lease default/{LEASE} held by {holder(kube)}" in log_b.read_text(),
            timeout=60,
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{health_b}/readyz", timeout=5) as resp:
            assert resp.status == 200  # a standby is ready: it serves the webhook like the leader

        a.kill()  # no release: b must wait out the Lease (5 s) and take it
        killed = time.monotonic()
        kube.wait_until("b leads", lambda: holder(kube).endswith(f"-{b.pid}"), timeout=30)
        takeover = time.monotonic() - killed
        assert "leading: Lease default/td-e2e-takeover acquired" in log_b.read_text()
        print(f"operator_takeover_s {takeover:.1f}")

        stop(b)  # a clean stop releases the Lease at once
        assert holder(kube) == ""
        assert b.returncode == 0
    finally:
        a.kill()
        if b is not None and b.poll() is None:
            stop(b)
        kube.run("delete", "namespace", "td-e2e-takeover-empty", "--wait=false", check=False)
