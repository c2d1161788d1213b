"""The audit record's batch encoder: the canonical form of docs/audit.md, record by record, whatever the mix of
sources and incarnations in one batch."""

from __future__ import annotations

import json

import pytest

from tradingdesk.audit.record import (
    SOURCE_COMPLIANCE,
    SOURCE_JOURNAL,
    SOURCE_RISK,
    Entry,
    RecordError,
    decode_record,
    encode_payload,
    encode_records,
)

TS0 = 1_767_225_600_000_000_000


def test_a_mixed_batch_is_encoded_record_by_record_in_the_canonical_form() -> None:
    entries = [
        Entry(TS0, SOURCE_JOURNAL, "a" * 32, 1, "new", "O-1", encode_payload({"qty": "100"})),
        Entry(TS0 + 1, SOURCE_RISK, "r" * 32, 1, "trading_state", "", encode_payload({"state": "HALTED"})),
        Entry(TS0 + 2, SOURCE_JOURNAL, "b" * 32, 1, "new", 'O-"2"', encode_payload({"note": "caf\u00e9\n"})),
        Entry(TS0 + 3, SOURCE_COMPLIANCE, "", 0, "seal", "", encode_payload({})),
        Entry(TS0 + 4, SOURCE_JOURNAL, "a" * 32, 2, "trade", "O-1", encode_payload({"qty": "40"})),
    ]
    data, records = encode_records(41, entries)
    assert data == b"".join(r + b"\n" for r in records) and len(records) == len(entries)
    assert records[1] == (
        b'{"v":2,"index":42,"ts_ns":1767225600000000001,"source":"risk","incarnation":"' + b"r" * 32 + b'",'
        b'"seq":1,"kind":"trading_state","order_id":"","payload":{"state":"HALTED"}}'
    )
    for n, (entry, raw) in enumerate(zip(entries, records, strict=True)):
        rec = decode_record(raw)
        assert (rec.index, rec.ts_ns, rec.source, rec.incarnation, rec.seq, rec.kind, rec.order_id) == (
            41 + n,
            entry.ts_ns,
            entry.source,
            entry.incarnation,
            entry.seq,
            entry.kind,
            entry.order_id,
        )
        assert rec.payload == json.loads(entry.payload_json) and raw.isascii() and b"\n" not in raw


HEAD = b'{"v":2,"index":7,"ts_ns":1,"source":"journal","incarnation":"a","seq":1,"kind":"new","order_id":"",'


@pytest.mark.parametrize(
    ("payload", "value"),
    [
        (b'{"qty":123456789012345678901234567890}', 123456789012345678901234567890),  # beyond 64 bits: exact
        (b'{"qty":NaN}', "nan"),  # the standard decoder's extensions are still read as they always were
        (b'{"qty":"\\ud800"}', "\ud800"),
        (b' {"qty":1}', 1),
    ],
)
def test_records_decode_as_the_standard_json_decoder_reads_them(payload: bytes, value: object) -> None:
    qty = decode_record(HEAD + b'"payload":' + payload + b"}").payload["qty"]
    assert (str(qty) if value == "nan" else qty) == value


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (HEAD + b'"payload":{"note":"caf\xc3\xa9"}}', "not ASCII JSON"),
        (HEAD + b'"payload":{"qty":1}', "not ASCII JSON"),
        (HEAD.replace(b'"seq":1', b'"seq":true') + b'"payload":{}}', "field 'seq' is not a int"),
        (HEAD.replace(b'"ts_ns":1', b'"ts_ns":"1"') + b'"payload":[]}', "field 'ts_ns' is not a int"),
        (HEAD.replace(b'"v":2', b'"v":3') + b'"payload":{}}', "format version 3 is not one this reader knows"),
    ],
)
def test_bad_records_are_refused_naming_what_is_wrong(raw: bytes, message: str) -> None:
    with pytest.raises(RecordError, match=message):
        decode_record(raw)
