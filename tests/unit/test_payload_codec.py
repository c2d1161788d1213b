"""The payload codec writes the standard library's text byte for byte (the audit trail keeps the journal's
text as it is), whichever encoder produced it, and refuses what the standard encoder refuses."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradingdesk.storage.codec import decode_payload, encode_payload

STANDARD = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode

scalars = st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.text()
payloads = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(payloads)
def test_the_text_is_the_standard_encoders(payload) -> None:
    text = encode_payload(payload)
    assert text == STANDARD(payload)
    assert text.isascii()
    assert decode_payload(text) == payload


@pytest.mark.parametrize(
    "text",
    ["\x7f", "caf\u00e9", "\udc80", "\x00\x1f", '"\\/', "\u2028", "\U0001f600"],
    ids=["DEL", "latin", "lone surrogate", "controls", "quotes", "line separator", "astral"],
)
def test_each_character_msgspec_writes_otherwise_is_escaped_as_the_standard_encoder_does(text: str) -> None:
    payload = {"text": text, "key " + text: [text]}
    assert encode_payload(payload) == STANDARD(payload)


def test_int_keys_are_written_as_strings_like_the_standard_encoder() -> None:
    assert encode_payload({1: 2}) == STANDARD({1: 2}) == '{"1":2}'


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_refused_not_written_as_null(value: float) -> None:
    with pytest.raises(ValueError):
        encode_payload({"price": value})


def test_an_unsupported_value_is_refused() -> None:
    with pytest.raises(TypeError):
        encode_payload({"when": object()})


@settings(max_examples=400, deadline=None)
@given(payloads)
def test_decoding_gives_the_standard_decoders_value(payload) -> None:
    for text in (STANDARD(payload), json.dumps(payload, ensure_ascii=False, indent=1)):
        assert decode_payload(text) == json.loads(text)


@pytest.mark.parametrize("text", ['{"p":NaN}', '{"p":1e400}', '{"s":"\\udc80"}', '{"a":1,"a":2}'])
def test_what_msgspec_refuses_is_decoded_as_the_standard_decoder_does(text: str) -> None:
    assert repr(decode_payload(text)) == repr(json.loads(text))


@pytest.mark.parametrize("text", ["{", '{"a":1}x', '"\x01"', ""])
def test_bad_json_is_refused_with_the_standard_decoders_error(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        decode_payload(text)
