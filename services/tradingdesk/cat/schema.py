"""The shipped JSON schema of CAT-style records, and validation against it (``jsonschema``, draft 2020-12)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA_FILE = "cat-events.schema.json"


@cache
def schema() -> dict[str, Any]:
    return json.loads(resources.files("tradingdesk").joinpath("data", SCHEMA_FILE).read_text())


@cache
def _validator() -> Draft202012Validator:
    Draft202012Validator.check_schema(schema())
    return Draft202012Validator(schema())


def problems(record: dict[str, Any]) -> list[str]:
    """What is wrong with one record, as ``<field path>: <message>`` lines (empty when it is valid)."""
    found = sorted(_validator().iter_errors(record), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(record)'}: {e.message}" for e in found]


def validate_all(records: Iterable[dict[str, Any]]) -> None:
    """Raise ValueError naming the first invalid record (by firmROEID) and what is wrong with it."""
    for record in records:
        if found := problems(record):
            raise ValueError(f"CAT record {record.get('firmROEID', '?')}: {'; '.join(found)}")
