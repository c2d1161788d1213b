"""The committed CRDs are exactly what the model generates, and the generated schema is structural."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import yaml

from deskoperator import crd
from deskoperator.schema import walk
from tradingdesk.spec.model import TradingDeskSpec

CRDS = Path(__file__).resolve().parents[2] / "charts" / "tradingdesk-operator" / "crds"
REGENERATE = "regenerate with: python -m deskoperator.crd --write charts/tradingdesk-operator/crds"


def test_committed_crds_match_the_model() -> None:
    for name, text in crd.files().items():
        path = CRDS / name
        assert path.exists(), f"{path} is missing; {REGENERATE}"
        assert path.read_text() == text, f"{path} differs from the spec model; {REGENERATE}"


def spec_schema() -> dict[str, Any]:
    return crd.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]


def test_schema_is_structural() -> None:
    forbidden = {"$ref", "$defs", "anyOf", "allOf", "oneOf", "const", "title", "x-kubernetes-preserve-unknown-fields"}
    for path, node in walk(crd.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]):
        assert "type" in node, path
        assert not forbidden & node.keys(), (path, forbidden & node.keys())
        assert node.get("additionalProperties") is not False, path
        assert not ("properties" in node and "additionalProperties" in node), path


def model_fields(model: type, prefix: str = "") -> dict[str, str | None]:
    """Every wire field of the model (camelCase path) -> its docstring."""
    out: dict[str, str | None] = {}
    for name, field in model.model_fields.items():
        path = f"{prefix}{field.alias or name}"
        out[path] = field.description
        ann = field.annotation
        for candidate in (ann, *getattr(ann, "__args__", ())):
            if isinstance(candidate, type) and hasattr(candidate, "model_fields"):
                step = "[]." if typing.get_origin(ann) is list else "."  # list[X] vs X or X | None
                out.update(model_fields(candidate, f"{path}{step}"))
    return out


def test_every_model_field_is_in_the_crd_with_its_description() -> None:
    nodes = {".".join(p).replace(".[]", "[]"): n for p, n in walk(spec_schema())}
    for path, description in model_fields(TradingDeskSpec).items():
        assert path in nodes, f"spec.{path} missing from the CRD"
        if description:
            assert nodes[path].get("description") == description, path


def test_defaults_bounds_and_enums_survive() -> None:
    spec = spec_schema()
    props = spec["properties"]
    assert props["tradingState"] == {
        "type": "string",
        "description": TradingDeskSpec.model_fields["trading_state"].description,
        "default": "Active",
        "enum": ["Active", "ReduceOnly", "Halted"],
    }
    assert props["instruments"]["minItems"] == 1 and props["instruments"]["maxItems"] == 5_000  # crd-only: etcd
    assert props["placement"]["properties"]["nodeSelector"]["additionalProperties"] == {"type": "string"}
    toleration = props["placement"]["properties"]["tolerations"]["items"]["properties"]
    assert toleration["tolerationSeconds"] == {"type": "integer", "nullable": True}
    assert props["venues"]["items"]["properties"]["kind"]["enum"] == ["simulated"]
    assert spec["required"] == ["instruments", "accounts", "feeds", "venues"]


def test_list_maps_make_the_api_server_reject_duplicates() -> None:
    props = spec_schema()["properties"]
    for field, key in (("instruments", "symbol"), ("accounts", "name"), ("feeds", "name"), ("venues", "name")):
        assert props[field]["x-kubernetes-list-type"] == "map"
        assert props[field]["x-kubernetes-list-map-keys"] == [key]


def test_crd_only_bounds_are_declared_and_the_rest_are_implied() -> None:
    for path, (bounds, why) in crd.CEL_BOUNDS.items():
        assert why.startswith(("implied", "crd-only")), path
        if why.startswith("implied") and path.endswith("symbol"):
            assert bounds == {"maxLength": 16}  # SYMBOL_PATTERN: one letter then up to 15


def test_names_printer_columns_and_status() -> None:
    doc = crd.crd()
    assert doc["metadata"]["name"] == "tradingdesks.tradingdesk.io"
    assert doc["spec"]["names"]["shortNames"] == ["desk"]
    (version,) = doc["spec"]["versions"]
    assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns["Ready"] == '.status.conditions[?(@.type=="Ready")].status'
    assert columns["Trading"] == ".status.tradingState"
    assert columns["Services"] == ".status.readyServices"
    assert columns["Degraded"] == '.status.conditions[?(@.type=="Degraded")].status'
    assert columns["Reason"] == '.status.conditions[?(@.type=="Degraded")].reason'
    assert columns["Age"] == ".metadata.creationTimestamp"
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    assert set(status) == {
        "observedGeneration",
        "conditions",
        "tradingState",
        "trading",
        "riskLimits",
        "readyServices",
        "services",
        "failedNodes",
        "operator",
    }
    assert set(status["conditions"]["items"]["properties"]) == {
        "type",
        "status",
        "reason",
        "message",
        "lastTransitionTime",
        "observedGeneration",
    }


def test_cli_prints_the_crd(capsys: Any) -> None:
    assert crd.main([]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["metadata"]["name"] == "tradingdesks.tradingdesk.io"
