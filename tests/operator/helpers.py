"""Desks for the operator's tests, built from examples/desk.yaml so the tests follow the sample desk."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "desk.yaml"
DESK_TOLERATION = {"key": "tradingdesk.io/desk", "operator": "Exists", "effect": "NoSchedule"}
KWOK_TOLERATION = {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}


def example_document() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE.read_text())


def test_desk_document(name: str = "us-equities", **spec_overrides: Any) -> dict[str, Any]:
    """The sample desk plus kwok's fake-node toleration (a spec toleration, as any desk would add one)."""
    doc = copy.deepcopy(example_document())
    doc["metadata"]["name"] = name
    doc["spec"]["placement"]["tolerations"].append(dict(KWOK_TOLERATION))
    for key, value in spec_overrides.items():
        doc["spec"][key] = value
    return doc


test_desk_document.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def minimal_document(name: str = "minimal") -> dict[str, Any]:
    """Only the required fields (and ``storage.ephemeral``): the CRD and the webhook must accept it and fill in
    the defaults."""
    return {
        "apiVersion": "tradingdesk.io/v1alpha1",
        "kind": "TradingDesk",
        "metadata": {"name": name},
        "spec": {
            "instruments": [{"symbol": "AAPL"}],
            "accounts": [{"name": "ACC-1"}],
            "feeds": [{"name": "replay"}],
            "venues": [{"name": "sim"}],
            # the operator refuses state on an emptyDir unless told the desk is throwaway
            "storage": {"ephemeral": True},
            "placement": {
                "colocation": "ny4",
                "tolerations": [
                    dict(KWOK_TOLERATION),
                    {"key": "tradingdesk.io/desk", "operator": "Exists", "effect": "NoSchedule"},
                ],
            },
        },
    }
