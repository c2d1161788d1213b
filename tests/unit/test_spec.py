"""The TradingDesk model: the example works, and every mistake is reported with its field and rule."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from tradingdesk.spec import SpecError, load_desk, parse_desk
from tradingdesk.spec.domain import instruments_of
from tradingdesk.spec.model import DEFAULT_PORTS, SERVICE_NAMES

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((REPO / "examples" / "desk.yaml").read_text())


def problems(mutate) -> list[str]:
    doc = copy.deepcopy(EXAMPLE)
    mutate(doc)
    with pytest.raises(SpecError) as exc:
        parse_desk(doc)
    return exc.value.problems


def test_example_desk() -> None:
    desk = load_desk(REPO / "examples" / "desk.yaml")
    spec = desk.spec
    assert desk.name == "us-equities"
    assert len(spec.instruments) >= 10 and len(spec.feeds) >= 2 and len(spec.venues) >= 3
    assert {n: spec.services.port_of(n) for n in SERVICE_NAMES} == DEFAULT_PORTS
    inst = instruments_of(desk)["AAPL"]
    assert inst.tick_size == 10_000_000 and inst.lot_size == 1_000_000_000  # exact fixed point, no floats


def test_background_services_yield_the_cpu_unless_the_spec_says_otherwise() -> None:
    doc = copy.deepcopy(EXAMPLE)
    doc["spec"].pop("services", None)
    spec = parse_desk(doc).spec
    assert {n: spec.services.nice_of(n) for n in SERVICE_NAMES} == {
        "feeds": 0,
        "routing": 0,
        "risk": 0,
        "compliance": 5,
        "monitoring": 5,
    }
    doc["spec"]["services"] = {"compliance": {"nice": 0}, "routing": {"nice": 2, "replicas": 1}}
    spec = parse_desk(doc).spec
    assert (spec.services.nice_of("compliance"), spec.services.nice_of("routing")) == (0, 2)
    assert spec.services.nice_of("monitoring") == 5


def test_round_trip_is_stable() -> None:
    desk = load_desk(REPO / "examples" / "desk.yaml")
    dumped = desk.model_dump(by_alias=True, mode="json")
    assert parse_desk(dumped) == desk
    assert dumped["spec"]["instruments"][0]["tickSize"] == "0.01"


def test_yaml_floats_are_read_exactly() -> None:
    doc = copy.deepcopy(EXAMPLE)
    doc["spec"]["instruments"][0]["tickSize"] = 0.01  # unquoted in YAML
    assert instruments_of(parse_desk(doc))["AAPL"].tick_size == 10_000_000


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["spec"]["instruments"][1].update(tickSize="0"), "spec.instruments[1]: tickSize must be > 0"),
        (lambda d: d["spec"]["instruments"][1].update(tickSize="-0.01"), "spec.instruments[1].tickSize"),
        (lambda d: d["spec"]["instruments"][1].update(tickSize="1e-2"), "spec.instruments[1].tickSize"),
        (lambda d: d["spec"]["instruments"][1].update(symbol="msft"), "spec.instruments[1].symbol"),
        (
            lambda d: d["spec"]["instruments"].append(dict(d["spec"]["instruments"][0])),
            "spec.instruments[].symbol: must be unique, repeated: AAPL",
        ),
        (
            lambda d: d["spec"]["risk"].update(restrictedSymbols=["TSLA"]),
            "spec.risk.restrictedSymbols[0]: 'TSLA' is not an instrument of the desk",
        ),
        (lambda d: d["spec"]["routing"].update(defaultVenue="arca"), "spec.routing.defaultVenue"),
        (
            lambda d: d["spec"]["routing"].update(venueAckTimeoutMs=10),
            "spec.routing.venueAckTimeoutMs: Input should be greater than or equal to 50",
        ),
        (
            lambda d: d["spec"]["routing"].update(venueAckTimeoutMs=120_000),
            "spec.routing.venueAckTimeoutMs: Input should be less than or equal to 60000",
        ),
        (lambda d: d["spec"]["routing"].update(venueAckTimeoutMs="soon"), "spec.routing.venueAckTimeoutMs"),
        (lambda d: d["spec"]["venues"][0].update(latencyUs=-1), "spec.venues[0].latencyUs"),
        (lambda d: d["spec"]["venues"][0].update(makerRebatePerUnit="0.01"), "spec.venues[0].makerRebatePerUnit"),
        (lambda d: d["spec"].update(tradingState="Paused"), "spec.tradingState"),
        (lambda d: d["spec"].update(instrumnets=[]), "spec.instrumnets: Extra inputs are not permitted"),
        (lambda d: d["spec"].update(services={"risk": {"port": 50051}}), "spec.services[].port: must be distinct"),
        (
            lambda d: d["spec"].update(services={"compliance": {"nice": 20}}),
            "spec.services.compliance.nice: Input should be less than or equal to 19",
        ),
        (
            lambda d: d["spec"].update(services={"routing": {"nice": -1}}),
            "spec.services.routing.nice: Input should be greater than or equal to 0",
        ),
        (lambda d: d["spec"]["feeds"][0]["replay"].update(speed="500"), "spec.feeds[0].replay.speed"),
        (lambda d: d["spec"].update(accounts=[]), "spec.accounts"),
        (lambda d: d["metadata"].update(name="Not_A_Name"), "metadata.name"),
    ],
)
def test_errors_name_the_field(mutate, expected: str) -> None:
    found = problems(mutate)
    assert any(expected in p for p in found), found


def test_load_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: TradingDesk\nspec: [\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_desk(bad)
    bad.write_text("kind: ConfigMap\n")
    with pytest.raises(SpecError, match="exactly one TradingDesk"):
        load_desk(bad)
    with pytest.raises(SpecError, match="cannot read"):
        load_desk(tmp_path / "missing.yaml")


@pytest.mark.parametrize("text", [" 100", "100 ", "+100", " 185.63", "100\n", "\t100"])
@pytest.mark.parametrize(
    ("path", "field"),
    [
        (("instruments", 0, "referencePrice"), "spec.instruments[0].referencePrice"),
        (("risk", "maxOrderQuantity"), "spec.risk.maxOrderQuantity"),
    ],
)
def test_decimals_are_as_strict_as_the_contract(text: str, path: tuple, field: str) -> None:
    """The spec takes the contract's decimals only: no whitespace around the digits, no '+'."""

    def put(doc: dict) -> None:
        target = doc["spec"]
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = text

    found = problems(put)
    assert any(p.startswith(field) and "decimal string" in p for p in found), found


@pytest.mark.parametrize("value", ["185.63", "185", 185, 185.63, "0185.630"])
def test_every_decimal_form_that_was_valid_stays_valid(value: object) -> None:
    doc = copy.deepcopy(EXAMPLE)
    doc["spec"]["instruments"][0]["referencePrice"] = value
    assert parse_desk(doc).spec.instruments[0].reference_price == Decimal(str(value))
