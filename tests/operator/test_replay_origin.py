"""A replay desk's pods share one clock origin, the desk's creation time: rendered into every service container,
the same on every render, absent on the wall clock."""

from __future__ import annotations

from typing import Any

from deskoperator.render import REPLAY_ORIGIN_ENV, Owner, render
from deskoperator.state import DeskState
from deskoperator.worker import desk_owner
from tests.operator.helpers import example_document
from tradingdesk.edge import clock
from tradingdesk.markets.replay_clock import ReplayClock
from tradingdesk.spec.load import parse_desk
from tradingdesk.spec.model import SERVICE_NAMES, TradingDesk

CREATED = "2026-03-02T14:30:05Z"
CREATED_NS = 1_772_461_805 * 1_000_000_000
OWNER = Owner("us-equities", "uid-1", created=CREATED)


def desk(source: str = "auto") -> TradingDesk:
    doc = example_document()  # replay feeds only: ``auto`` is a replay clock
    doc["spec"].setdefault("conduct", {}).setdefault("clock", {})["source"] = source
    return parse_desk(doc)


def envs(d: TradingDesk, owner: Owner = OWNER) -> dict[str, dict[str, Any]]:
    """Service -> its container's environment, as name -> value."""
    objs = render(d, "trading", owner, "img")
    deployments = {o["metadata"]["labels"]["app.kubernetes.io/component"]: o for o in objs if o["kind"] == "Deployment"}
    assert set(deployments) == set(SERVICE_NAMES)
    out = {}
    for service, dep in deployments.items():
        (container,) = dep["spec"]["template"]["spec"]["containers"]
        out[service] = {e["name"]: e.get("value") for e in container["env"]}
    return out


def test_every_service_of_a_replay_desk_gets_the_desks_creation_time_as_its_clock_origin() -> None:
    assert REPLAY_ORIGIN_ENV == clock.REPLAY_ORIGIN_ENV  # the name the services read
    for source in ("auto", "replay"):
        for service, env in envs(desk(source)).items():
            assert env[REPLAY_ORIGIN_ENV] == str(CREATED_NS), (source, service)


def test_the_origin_is_the_same_on_every_render_so_no_reconcile_rolls_a_pod() -> None:
    first = render(desk(), "trading", OWNER, "img")
    again = render(desk(), "trading", Owner("us-equities", "uid-1", created=CREATED), "img")
    assert first == again


def test_a_wall_clock_desk_gets_no_origin() -> None:
    for service, env in envs(desk("wall")).items():
        assert REPLAY_ORIGIN_ENV not in env, service


def test_the_services_clock_starts_at_the_rendered_origin() -> None:
    d = desk()
    env = {k: v for k, v in envs(d)["routing"].items() if v is not None}
    replay = clock.desk_clock(d, env, service="routing")
    replay = getattr(replay, "inner", replay)
    assert isinstance(replay, ReplayClock) and replay.origin_ns == CREATED_NS


def test_the_operator_renders_with_the_creation_time_of_the_desk_object() -> None:
    body = {"metadata": {"name": "us-equities", "uid": "uid-1", "creationTimestamp": CREATED}}
    assert desk_owner(DeskState("trading", "us-equities", uid="uid-1", body=body)) == OWNER
