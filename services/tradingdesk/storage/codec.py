"""The one JSON encoding used for every payload column: stdlib json, compact separators, no NaN/Infinity.

Payload values are ints, strs, bools, lists and dicts (prices and quantities are fixed-point integers, never
floats), so the encoding is exact and round-trips. The output is pure ASCII (non-ASCII characters are
``\\uXXXX`` escapes), so any Python string, even one holding a lone surrogate, encodes to text that every
database accepts: a payload can never make a journal batch fail.
"""

from __future__ import annotations

import json
from typing import Any

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=False)
_DECODER = json.JSONDecoder()

encode_json = _ENCODER.encode
decode_json = _DECODER.decode


def encode_payload(payload: Any) -> str:
    """Encode ``payload`` as compact JSON text. Raises ``TypeError``/``ValueError`` on unsupported values."""
    return _ENCODER.encode(payload)


def decode_payload(text: str) -> Any:
    return _DECODER.decode(text)


__all__ = ["decode_json", "decode_payload", "encode_json", "encode_payload"]
