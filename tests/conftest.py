"""Shared fixtures: the real PostgreSQL server and the local Kubernetes control plane live in plugins."""

pytest_plugins = ["tests.conftest_postgres", "tests.cluster.conftest_fixture"]
