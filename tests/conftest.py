"""Shared fixtures: the real PostgreSQL server, the local Kubernetes control plane and the pod harness live in
plugins."""

pytest_plugins = ["tests.conftest_postgres", "tests.cluster.conftest_fixture", "tests.podharness.fixture"]
