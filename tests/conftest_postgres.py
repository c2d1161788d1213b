"""pytest fixtures ``postgres_server`` and ``postgres_dsn``: one real PostgreSQL server per test session.

Wire it into tests/conftest.py with ``pytest_plugins = ["tests.conftest_postgres"]`` (or run pytest with
``-p tests.conftest_postgres``). The server starts only when a test asks for one of the fixtures, on a
free port on 127.0.0.1, as an unprivileged user; it is stopped and its directory removed at the end of the
session. Tests that need it should carry ``@pytest.mark.postgres``. See tests/postgres.py for details and
the environment variables (TD_PG_BINDIR, TD_PG_AUTO_INSTALL=0, TD_PG_TMP).

``postgres_dsn`` is the session database ``tradingdesk``, shared by every test that uses it. A test that
needs an empty database of its own calls ``postgres_server.create_database(name)``.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest


def _helper() -> ModuleType:
    """tests/postgres.py, whether or not ``tests`` is importable as a package."""
    try:
        import tests.postgres as mod

        return mod
    except ImportError:
        pass
    name = "_tradingdesk_tests_postgres"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("postgres.py"))
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[object]:
    pg = _helper()
    try:
        bindir = pg.find_postgres()
    except pg.PostgresUnavailable as exc:
        pytest.skip(f"no PostgreSQL for tests: {exc}")
    server = pg.PostgresServer(bindir)
    try:
        server.start()
    except pg.PostgresUnavailable as exc:
        server.destroy()
        pytest.fail(f"local PostgreSQL did not start: {exc}")
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def postgres_dsn(postgres_server: object) -> str:
    """SQLAlchemy DSN of the session database: ``postgresql+psycopg://desk@127.0.0.1:<port>/tradingdesk``."""
    return postgres_server.dsn  # type: ignore[attr-defined]
