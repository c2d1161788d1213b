"""Where a desk keeps its state on Kubernetes, as rendered: the Secret mount, the refusal of an emptyDir, the
migration Job per desk version. Pure rendering; the cluster tests run what it renders."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deskoperator import migrations, storage
from deskoperator.render import Owner, render
from tests.operator.helpers import example_document
from tradingdesk.spec.load import SpecError, parse_desk
from tradingdesk.spec.model import TradingDesk

NS = "trading"
IMAGE = "ghcr.io/tradingdesk/tradingdesk:1.0"
POSTGRES = {"secretRef": {"name": "us-equities-db", "key": "url"}, "port": 6432}


def desk(storage_spec: dict[str, Any], **spec: Any) -> TradingDesk:
    doc = example_document()
    doc["spec"]["storage"] = storage_spec
    doc["spec"].update(spec)
    return parse_desk(doc)


def objects(d: TradingDesk, image: str = IMAGE) -> list[dict[str, Any]]:
    return render(d, NS, Owner(d.name, "uid-1"), image)


def pod(objs: list[dict[str, Any]], service: str) -> dict[str, Any]:
    dep = next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == f"us-equities-{service}")
    return dep["spec"]["template"]["spec"]


def jobs(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == "Job"]


def test_state_on_an_emptydir_is_refused_naming_the_field() -> None:
    message = storage.refusal(desk({}))
    assert message is not None and message.startswith("spec.storage.postgres: not set")
    assert "spec.storage.ephemeral: true" in message
    assert storage.refusal(desk({"ephemeral": True})) is None
    assert storage.refusal(desk({"postgres": POSTGRES})) is None
    two = desk({"ephemeral": True}, services={"routing": {"replicas": 2}})
    assert (storage.refusal(two) or "").startswith("spec.services.routing.replicas: 2 replicas need spec.storage")
    assert storage.refusal(desk({"postgres": POSTGRES}, services={"routing": {"replicas": 2}})) is None  # standbys


def test_a_dsn_in_the_spec_is_refused() -> None:
    with pytest.raises(SpecError) as err:
        desk({"dsn": "postgresql://desk:secret@db:5432/trading"})
    assert "spec.storage.dsn: Extra inputs are not permitted" in err.value.problems


def test_pods_that_keep_state_read_the_url_from_the_mounted_secret() -> None:
    objs = objects(desk({"postgres": POSTGRES}))
    for service in ("routing", "risk", "compliance"):
        spec = pod(objs, service)
        (container,) = spec["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["TD_DSN_FILE"] == "/etc/tradingdesk/db/dsn"
        assert env["TD_MIGRATIONS"] == "wait"  # the Job migrates; the pods only wait for the schema
        assert {"name": "db", "mountPath": "/etc/tradingdesk/db", "readOnly": True} in container["volumeMounts"]
        (volume,) = [v for v in spec["volumes"] if v["name"] == "db"]
        assert volume["secret"] == {
            "secretName": "us-equities-db",
            "items": [{"key": "url", "path": "dsn"}],
            "defaultMode": 0o440,
        }
    for service in ("feeds", "monitoring"):
        spec = pod(objs, service)
        assert all(v["name"] != "db" for v in spec["volumes"])
        assert "TD_DSN_FILE" not in {e["name"] for e in spec["containers"][0]["env"]}
    config = next(o for o in objs if o["kind"] == "ConfigMap")["data"]["desk.yaml"]
    assert "us-equities-db" in config and "postgresql://" not in json.dumps(objs)


def test_services_with_standbys_roll_old_pods_first_and_need_one_ready_pod() -> None:
    objs = objects(desk({"postgres": POSTGRES}, services={"routing": {"replicas": 3}}))

    def named(kind: str, service: str) -> dict[str, Any]:
        return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == f"us-equities-{service}")

    assert named("Deployment", "risk")["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    # three routing replicas, one of them ready (the active one): the rollout needs only that one available
    assert named("Deployment", "routing")["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 2}
    # a node drain may evict the active pod (a standby takes over); a smaller budget would never allow it
    assert named("PodDisruptionBudget", "routing")["spec"]["maxUnavailable"] == 3
    assert named("PodDisruptionBudget", "feeds")["spec"]["maxUnavailable"] == 1
    assert named("Deployment", "feeds")["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    (routing,) = named("Deployment", "routing")["spec"]["template"]["spec"]["containers"]
    health = ["python", "-m", "tradingdesk.runtime.healthcheck"]  # the kubelet's gRPC probe, over the desk's TLS
    assert routing["readinessProbe"]["exec"]["command"] == [*health, "--service", "tradingdesk.v1.OrderService"]
    assert routing["livenessProbe"]["exec"]["command"] == health  # a standby is alive
    assert storage.ready_wanted(desk({"postgres": POSTGRES}, services={"routing": {"replicas": 3}})) == {
        "routing": 1,
        "risk": 1,
    }


def test_ephemeral_desks_keep_sqlite_on_the_emptydir_and_migrate_in_the_pods() -> None:
    objs = objects(desk({"ephemeral": True}))
    assert jobs(objs) == []
    env = {e["name"]: e.get("value") for e in pod(objs, "routing")["containers"][0]["env"]}
    assert env["TD_DATA_DIR"] == "/var/lib/tradingdesk" and "TD_MIGRATIONS" not in env


def test_one_migration_job_per_desk_version() -> None:
    d = desk({"postgres": POSTGRES})
    (job,) = jobs(objects(d))
    version = migrations.version(d, IMAGE)
    assert job["metadata"]["name"] == f"us-equities-db-{version}" and len(version) == 7
    assert len(f"{'x' * 52}-db-{version}") == 63  # the longest desk name still makes a valid Job name
    template = job["spec"]["template"]["spec"]
    assert template["restartPolicy"] == "Never"
    (container,) = template["containers"]
    assert container["image"] == IMAGE
    assert container["args"] == [
        "migrate", "-f", "/etc/tradingdesk/desk.yaml", "--service", "routing", "--service", "risk",
        "--service", "compliance",
    ]  # fmt: skip
    assert container["env"] == [{"name": "TD_DSN_FILE", "value": "/etc/tradingdesk/db/dsn"}]
    assert template["securityContext"] == pod(objects(d), "routing")["securityContext"]

    # an unchanged desk never migrates again; a spec change that no migration depends on neither
    assert jobs(objects(desk({"postgres": POSTGRES}, tradingState="Halted"))) == [job]
    # a new image is a new desk version: a new Job (the old one is pruned as no longer rendered)
    (upgraded,) = jobs(objects(d, image="ghcr.io/tradingdesk/tradingdesk:1.1"))
    assert upgraded["metadata"]["name"] != job["metadata"]["name"]
    # services on different images: each image migrates the schemas of the services that run it
    mixed = desk({"postgres": POSTGRES}, services={"risk": {"image": "ghcr.io/tradingdesk/tradingdesk:1.1"}})
    (mixed_job,) = jobs(objects(mixed))
    args = {c["image"]: c["args"][3:] for c in mixed_job["spec"]["template"]["spec"]["containers"]}
    assert args == {
        IMAGE: ["--service", "routing", "--service", "compliance"],
        "ghcr.io/tradingdesk/tradingdesk:1.1": ["--service", "risk"],
    }
