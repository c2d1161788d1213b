"""``spec.services.routing.replicas: 2`` in the embedded desk: a hot standby of routing on PostgreSQL, refused with
the field named on SQLite (the standby's fence is PostgreSQL's writer lock), and the same in a simulation that
would run on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.desk_runner import write_desk
from tradingdesk.cli.main import main
from tradingdesk.runtime.embedded import EmbeddedDesk, standbys_of
from tradingdesk.simulate.run import SimulationConfig, SimulationError, prepare
from tradingdesk.spec.load import load_desk

POSTGRES = {"TD_DSN": "postgresql+psycopg://desk@127.0.0.1:5432/tradingdesk"}


def two_routers(doc: dict) -> None:
    doc["spec"]["services"]["routing"]["replicas"] = 2


def test_a_routing_standby_runs_on_postgresql_only(tmp_path: Path) -> None:
    desk = load_desk(write_desk(tmp_path, two_routers))
    assert standbys_of(desk, POSTGRES) == ("routing",)
    with pytest.raises(ValueError, match=r"spec\.services\.routing\.replicas: 2: .* needs PostgreSQL") as refused:
        standbys_of(desk, {})
    assert "on SQLite set it to 1" in str(refused.value)
    with pytest.raises(ValueError, match="needs PostgreSQL"):
        EmbeddedDesk(desk, tmp_path / "desk.yaml", env={"TD_DSN": ""})


def test_tradingdesk_up_refuses_a_routing_standby_on_sqlite_before_it_starts_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TD_DSN", raising=False)
    monkeypatch.delenv("TD_DSN_FILE", raising=False)
    spec = write_desk(tmp_path, two_routers)
    assert main(["up", "-f", str(spec), "--log-dir", str(tmp_path / "logs")]) == 2
    assert "error: spec.services.routing.replicas: 2: a routing standby" in capsys.readouterr().err
    assert not (tmp_path / "logs").exists()  # no process was started


def test_one_routing_process_needs_no_postgresql(tmp_path: Path) -> None:
    desk = load_desk(write_desk(tmp_path))
    assert standbys_of(desk, {}) == ()
    assert EmbeddedDesk(desk, tmp_path / "desk.yaml", env={"TD_DSN": ""}).with_standby == ()


def faults(tmp_path: Path, *, database_down: bool) -> Path:
    schedule = [{"at": "00:00:10", "kind": "sigkill", "service": "routing"}]
    if database_down:
        schedule.append({"at": "00:00:20", "kind": "database_down", "for": 5})
    path = tmp_path / "faults.yaml"
    path.write_text(yaml.safe_dump({"faults": schedule}))
    return path


@pytest.mark.parametrize("database_down", [False, True])
def test_a_simulation_runs_a_routing_standby_only_on_its_postgresql(tmp_path: Path, database_down: bool) -> None:
    spec = write_desk(tmp_path)
    config = SimulationConfig(
        spec_path=spec,
        out_dir=tmp_path / f"run-{database_down}",
        duration_s=60,
        faults_path=faults(tmp_path, database_down=database_down),
        routing_replicas=2,
    )
    if not database_down:
        with pytest.raises(SimulationError, match=r"spec\.services\.routing\.replicas: 2: .*database_down"):
            prepare(config)
        return
    plan = prepare(config)
    assert plan.desk.spec.services.routing.replicas == 2


def test_the_outage_spool_goes_with_a_routing_standby_in_the_embedded_desk(tmp_path: Path) -> None:
    """Both routing processes share the desk's data dir, so the standby takes the spool over (storage/journal.py);
    on Kubernetes the operator's CRD and webhook refuse the spool whatever the replicas."""

    def spooling_pair(doc: dict) -> None:
        two_routers(doc)
        doc["spec"]["routing"] = {**doc["spec"].get("routing", {}), "outageSpool": True}

    desk = load_desk(write_desk(tmp_path, spooling_pair))
    assert desk.spec.routing.outage_spool and desk.spec.services.routing.replicas == 2
    assert standbys_of(desk, POSTGRES) == ("routing",)
