"""The tests' throwaway PostgreSQL server: it lives in ``tradingdesk.runtime.local_postgres`` (the simulation starts
one of its own too); this module keeps the name the tests and benchmarks import."""

from tradingdesk.runtime.local_postgres import (
    DEFAULT_DB,
    SUPERUSER,
    PostgresServer,
    PostgresUnavailable,
    find_bindir,
    find_postgres,
    free_port,
)

__all__ = [
    "DEFAULT_DB",
    "SUPERUSER",
    "PostgresServer",
    "PostgresUnavailable",
    "find_bindir",
    "find_postgres",
    "free_port",
]
