"""pytest fixture ``k8s_cluster``: one real local control plane per test session.

Import it from tests/conftest.py::

    from tests.cluster.conftest_fixture import k8s_cluster  # noqa: F401  (pytest fixture)

Why session-scoped: starting the control plane takes seconds but the tests that use it can share it;
each test works in its own namespace. Behaviour, driven by environment variables:

- TD_CLUSTER_DIR: state dir (default ~/.cache/tradingdesk/cluster), shared with ``make cluster-up``.
  If a cluster is already running there it is reused and left running afterwards.
- Binaries not built yet: the fixture fails with a pointer to ``make cluster-build`` (a cold build
  takes ~7 minutes on 2 cores, longer than the suite's pytest-timeout of 300 s, so CI must run
  ``make cluster-build`` as a step before pytest). TD_K8S_AUTO_BUILD=1 builds from the fixture
  instead (run pytest with ``--timeout=0`` or a large timeout then).
- TD_CLUSTER_KEEP=1: leave the cluster running after the session (to poke at it with kubectl).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from tests.cluster.control_plane import Cluster, ClusterError, ensure_built, is_built, start


@pytest.fixture(scope="session")
def k8s_cluster() -> Iterator[Cluster]:
    """Build (or reuse) the binaries, start (or reuse) the cluster, stop it at the end if we started it."""
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    if not is_built():
        if os.environ.get("TD_K8S_AUTO_BUILD", "0") != "1":
            pytest.fail(
                "local Kubernetes binaries are not built: run `make cluster-build` first "
                "(or set TD_K8S_AUTO_BUILD=1 and disable pytest-timeout)"
            )
        ensure_built()
    try:
        cluster = start()
    except ClusterError as exc:
        pytest.fail(f"local Kubernetes control plane did not start: {exc}")
    try:
        yield cluster
    finally:
        if cluster.started_here and os.environ.get("TD_CLUSTER_KEEP", "0") != "1":
            cluster.stop()
