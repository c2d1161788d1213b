"""Field types shared by the spec model: exact decimals that render as strings in the CRD schema."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from tradingdesk.core.fixed import DecimalFormatError, parse_fixed

DECIMAL_PATTERN = r"^[0-9]{1,15}(\.[0-9]{1,9})?$"
_DECIMAL_RE = re.compile(DECIMAL_PATTERN)


def _to_decimal(value: Any) -> Decimal:
    # YAML turns `0.01` into a float; its shortest repr is the digits the person typed, so go through str.
    if isinstance(value, bool):
        raise ValueError('must be a decimal string such as "0.01", not a boolean')
    if isinstance(value, int | float):
        value = repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, Decimal):
        value = format(value, "f")
    # fullmatch: "$" alone would let a trailing newline through, and no whitespace or sign is part of the form.
    if not isinstance(value, str) or not _DECIMAL_RE.fullmatch(value):
        raise ValueError(f'must be a non-negative decimal string such as "0.01" (got {value!r})')
    try:
        parse_fixed(value)
        return Decimal(value)
    except (DecimalFormatError, InvalidOperation) as exc:
        raise ValueError(str(exc)) from exc


def _render(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


DecimalStr = Annotated[
    Decimal,
    BeforeValidator(_to_decimal),
    PlainSerializer(_render, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DECIMAL_PATTERN}),
]
"""A non-negative exact decimal, written as a string ("0.01") in YAML and in the CRD."""


def units(value: Decimal) -> int:
    """The fixed-point units of a spec decimal."""
    return parse_fixed(_render(value))
