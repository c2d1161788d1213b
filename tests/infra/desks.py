"""Desk spec files for the infra tests, written from examples/desk.yaml with a few fields changed."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from tests.operator.helpers import example_document


def desk_file(directory: Path, name: str, **spec: Any) -> str:
    """Write the example desk renamed to ``name`` with top-level spec sections replaced; returns the path."""
    doc = copy.deepcopy(example_document())
    doc["metadata"]["name"] = name
    for key, value in spec.items():
        doc["spec"][key] = value
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def placement(colocation: str, *tolerations: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"colocation": colocation, "tolerations": list(tolerations), **extra}


DESK_TOLERATION = {"key": "tradingdesk.io/desk", "operator": "Exists", "effect": "NoSchedule"}
KWOK_TOLERATION = {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}
