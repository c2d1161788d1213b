"""Shared fixtures: the real PostgreSQL server, the local Kubernetes control plane and the pod harness live in
plugins."""

import os

# Before anything here imports gRPC: its fork handlers stay off in the test process, as in the desk's own
# (services/tradingdesk/__init__.py), so a fork for initdb or a service while gRPC threads run cannot crash the child.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

pytest_plugins = ["tests.conftest_postgres", "tests.cluster.conftest_fixture", "tests.podharness.fixture"]
