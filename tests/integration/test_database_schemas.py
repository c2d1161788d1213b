"""A desk's services in one PostgreSQL database: a schema each, migrated once by ``tradingdesk migrate``, waited
for by services started with ``TD_MIGRATIONS=wait``; the URL from a file, checked against the spec's port."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from sqlalchemy import inspect, text

from tests.desk_runner import EXAMPLE, wait_for
from tradingdesk.spec.domain import dsn_for, schema_for
from tradingdesk.spec.load import load_desk
from tradingdesk.storage.db import head_revision, make_engine, prepare_schema, schema_ready
from tradingdesk.storage.risk_store import RiskChangeStore

pytestmark = pytest.mark.postgres


def write_desk(tmp_path: Path, name: str) -> Path:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["metadata"]["name"] = name
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def migrate_cli(spec: Path, dsn: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TD_DSN": dsn}
    cmd = [sys.executable, "-m", "tradingdesk.cli.main", "migrate", "-f", str(spec), *extra]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def schemas(dsn: str) -> dict[str, set[str]]:
    engine = make_engine(dsn)
    try:
        insp = inspect(engine)
        return {s: set(insp.get_table_names(schema=s)) for s in insp.get_schema_names() if s.startswith("desk_")}
    finally:
        engine.dispose()


def test_each_service_of_each_desk_gets_its_own_schema(postgres_server, tmp_path: Path) -> None:
    dsn = postgres_server.create_database(f"s_{uuid.uuid4().hex[:10]}")
    first, second = write_desk(tmp_path, "desk-a"), write_desk(tmp_path, "desk-b")
    run = migrate_cli(first, dsn.replace("desk@", "desk:s3cret@"))  # the test server trusts any password
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["compliance", "routing", "risk"]
    assert f"schema desk_a_routing at revision {head_revision()}" in lines[1]
    assert "s3cret" not in run.stdout + run.stderr
    assert migrate_cli(first, dsn).returncode == 0  # idempotent
    assert migrate_cli(second, dsn, "--service", "risk").returncode == 0
    found = schemas(dsn)
    assert set(found) == {"desk_a_compliance", "desk_a_risk", "desk_a_routing", "desk_b_risk"}
    for tables in found.values():
        assert {"journal", "audit_log", "risk_changes", "alembic_version"} <= tables

    # a service's engine sees only its own schema: a change of desk-a's risk is not in desk-b's
    a_risk = make_engine(dsn, schema="desk_a_risk")
    b_risk = make_engine(dsn, schema="desk_b_risk")
    store = RiskChangeStore(a_risk)
    try:
        store.record(1, "sre", "test", "desk", {"type": "note"})
        with b_risk.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM risk_changes")).scalar() == 0
        with a_risk.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM desk_a_risk.risk_changes")).scalar() == 1
    finally:
        store.release()
        a_risk.dispose()
        b_risk.dispose()


async def test_services_wait_for_the_migration_job(postgres_server, tmp_path: Path, caplog) -> None:
    dsn = postgres_server.create_database(f"w_{uuid.uuid4().hex[:10]}")
    spec = write_desk(tmp_path, "desk-w")
    engine = make_engine(dsn, schema=schema_for(load_desk(spec), "routing"))
    caplog.set_level(logging.INFO, logger="tradingdesk.storage.db")
    try:
        assert not schema_ready(engine)
        waiter = asyncio.create_task(asyncio.to_thread(prepare_schema, engine, {"TD_MIGRATIONS": "wait"}))
        await wait_for(lambda: "waiting for the migration Job" in caplog.text, timeout=30)
        assert not waiter.done()
        assert migrate_cli(spec, dsn, "--service", "routing").returncode == 0
        assert await asyncio.wait_for(waiter, 30) == head_revision()
        # a revision this version does not know was written by a newer version: old pods keep working
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
        assert schema_ready(engine)
        with pytest.raises(ValueError, match="TD_MIGRATIONS='later': expected 'run' or 'wait'"):
            prepare_schema(engine, {"TD_MIGRATIONS": "later"})
    finally:
        engine.dispose()


def test_the_url_comes_from_a_file_and_must_dial_the_spec_port(tmp_path: Path) -> None:
    desk = load_desk(EXAMPLE)  # spec.storage.postgres.port: 5432
    url = tmp_path / "dsn"
    url.write_text("postgresql://desk:pw@db.internal:5432/trading\n")
    assert dsn_for(desk, "risk", {"TD_DSN_FILE": str(url)}) == "postgresql://desk:pw@db.internal:5432/trading"
    url.write_text("postgresql://desk:pw@db.internal:6432/trading")
    with pytest.raises(ValueError, match=r"dials port 6432 but spec.storage.postgres.port is 5432"):
        dsn_for(desk, "risk", {"TD_DSN_FILE": str(url)})
    url.write_text("")
    with pytest.raises(ValueError, match="the file is empty"):
        dsn_for(desk, "risk", {"TD_DSN_FILE": str(url)})
    with pytest.raises(ValueError, match="cannot read the database URL"):
        dsn_for(desk, "risk", {"TD_DSN_FILE": str(tmp_path / "missing")})
    # the embedded runtime without TD_DSN/TD_DSN_FILE: SQLite under the data dir, whatever the spec names
    assert dsn_for(desk, "risk", {"TD_DATA_DIR": str(tmp_path)}) == f"sqlite:///{tmp_path}/us-equities/risk.db"
