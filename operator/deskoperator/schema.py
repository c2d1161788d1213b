"""Pydantic JSON Schema -> Kubernetes structural OpenAPI v3 schema.

Why a converter rather than a hand-written schema: the CRD must never disagree with the model that the
embedded runtime and the services validate against. The API server only accepts *structural* schemas: no
``$ref``, no ``anyOf`` with ``null``, no ``const``, no ``title``, no ``additionalProperties`` next to
``properties``. This module rewrites pydantic's output into that subset and nothing else; the CRD-only
additions (CEL rules, list types, bounds for CEL cost) are applied afterwards by ``crd.py``.
"""

from __future__ import annotations

import copy
from typing import Any

Schema = dict[str, Any]

# Keywords a structural schema may carry; anything else pydantic emits is dropped.
KEPT = {
    "type",
    "description",
    "default",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "pattern",
    "enum",
    "format",
    "nullable",
    "required",
    "properties",
    "items",
    "additionalProperties",
}


class SchemaError(ValueError):
    """The model uses a construct that has no structural OpenAPI equivalent."""


def _resolve(ref: str, defs: dict[str, Schema]) -> Schema:
    prefix = "#/$defs/"
    if not ref.startswith(prefix) or ref[len(prefix) :] not in defs:
        raise SchemaError(f"unresolvable $ref {ref!r}")
    return defs[ref[len(prefix) :]]


def _merge_ref(node: Schema, defs: dict[str, Schema]) -> Schema:
    """Inline ``$ref`` (or pydantic's older ``allOf: [{$ref}]``); the referring node's keys win (description)."""
    if "$ref" in node:
        target = _resolve(node["$ref"], defs)
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    all_of = node.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and "$ref" in all_of[0]:
        target = _resolve(all_of[0]["$ref"], defs)
        return {**target, **{k: v for k, v in node.items() if k != "allOf"}}
    return node


def _collapse_nullable(node: Schema) -> Schema:
    """``anyOf: [X, {type: null}]`` -> ``X`` with ``nullable: true``."""
    any_of = node.get("anyOf")
    if not isinstance(any_of, list):
        return node
    rest = [s for s in any_of if s.get("type") != "null"]
    if len(rest) != 1 or len(rest) == len(any_of):
        raise SchemaError(f"anyOf other than 'X or null' has no structural form: {any_of}")
    out = {**rest[0], **{k: v for k, v in node.items() if k != "anyOf"}, "nullable": True}
    if out.get("default", 0) is None:
        del out["default"]  # null defaults are what omitting the field means anyway
    return out


def structural(node: Schema, defs: dict[str, Schema]) -> Schema:
    """Convert one pydantic schema node (and its children) to its structural form."""
    node = _collapse_nullable(_merge_ref(node, defs))
    if "$ref" in node or "allOf" in node:
        node = structural(node, defs)
    if "const" in node:
        node = {**node, "enum": [node["const"]]}
    out: Schema = {k: copy.deepcopy(v) for k, v in node.items() if k in KEPT}
    if "properties" in out:
        out["properties"] = {name: structural(sub, defs) for name, sub in node["properties"].items()}
        out.pop("additionalProperties", None)  # extra="forbid": unknown fields are pruned/rejected anyway
        out["type"] = "object"
    elif isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = structural(node["additionalProperties"], defs)
    elif out.get("additionalProperties") is False:
        del out["additionalProperties"]
    if "items" in out:
        out["items"] = structural(node["items"], defs)
    if "type" not in out:
        raise SchemaError(f"schema node without a type: {node}")
    if not out.get("required"):
        out.pop("required", None)
    return out


def to_structural(model_schema: Schema) -> Schema:
    """The structural form of a whole ``model_json_schema()`` document ($defs inlined)."""
    defs = model_schema.get("$defs", {})
    root = {k: v for k, v in model_schema.items() if k != "$defs"}
    return structural(root, defs)


def walk(schema: Schema, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Schema]]:
    """Every node with its path (``properties`` names, ``[]`` for array items, ``{}`` for map values)."""
    nodes = [(path, schema)]
    for name, sub in schema.get("properties", {}).items():
        nodes.extend(walk(sub, (*path, name)))
    if isinstance(schema.get("items"), dict):
        nodes.extend(walk(schema["items"], (*path, "[]")))
    if isinstance(schema.get("additionalProperties"), dict):
        nodes.extend(walk(schema["additionalProperties"], (*path, "{}")))
    return nodes


def at(schema: Schema, path: str) -> Schema:
    """The node at a dotted path such as ``venues[].symbols`` (``[]`` steps into array items)."""
    node = schema
    for part in path.split("."):
        name, arrays = part.rstrip("[]"), part.count("[]")
        if name:
            try:
                node = node["properties"][name]
            except KeyError:
                raise KeyError(f"no field {name!r} in schema path {path!r}") from None
        for _ in range(arrays):
            node = node["items"]
    return node
