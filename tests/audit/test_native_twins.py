"""The audit log's C loops (``tradingdesk.audit._native``) give byte for byte what their pure-Python twins give,
for any entries: the twins are the definition (record format, RFC 9162 hashes), the C is only the fast path."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradingdesk.audit import merkle, record, spool
from tradingdesk.audit.record import SOURCES, Entry, canonical_payload, decode_record, encode_payload

native = pytest.importorskip("tradingdesk.audit._native", reason="the C extension was not built here")

# Strings as they come (plain ids) and as they might (quotes, backslashes, control and non-ASCII characters,
# which JSON escapes: the C loop hands those batches to the twin).
any_text = st.text(max_size=40)
plain_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
payloads = st.dictionaries(plain_text, st.one_of(any_text, st.integers(-(2**70), 2**70)), max_size=6)
big_ints = st.integers(-(2**70), 2**70)


@st.composite
def entries(draw: st.DrawFn) -> Entry:
    text = draw(st.sampled_from([plain_text, any_text]))
    number = draw(st.sampled_from([st.integers(0, 2**63 - 1), big_ints]))
    return Entry(
        ts_ns=draw(number),
        source=draw(text),
        incarnation=draw(text),
        seq=draw(number),
        kind=draw(text),
        order_id=draw(text),
        payload_json=canonical_payload(encode_payload(draw(payloads))),
    )


@settings(max_examples=300, deadline=None)
@given(first=st.integers(0, 2**62), batch=st.lists(entries(), max_size=20))
def test_encoded_records_are_the_twins_bytes(first: int, batch: list[Entry]) -> None:
    assert record.encode_records(first, batch) == record.encode_records_py(first, batch)


@settings(max_examples=100, deadline=None)
@given(first=st.integers(0, 2**40), batch=st.lists(entries(), min_size=1, max_size=10))
def test_encoded_records_read_back_as_written(first: int, batch: list[Entry]) -> None:
    # what a reader takes: a known source, seqs from 0
    batch = [replace(e, source=SOURCES[i % len(SOURCES)], seq=abs(e.seq)) for i, e in enumerate(batch)]
    data, records = record.encode_records(first, batch)
    assert data == b"".join(r + b"\n" for r in records)
    for index, (raw, entry) in enumerate(zip(records, batch, strict=True), first):
        decoded = decode_record(raw)
        assert decoded.index == index
        assert decoded[2:8] == (entry.ts_ns, entry.source, entry.incarnation, entry.seq, entry.kind, entry.order_id)


def test_a_payload_the_twin_refuses_is_refused_the_same_way() -> None:
    """A payload that did not come from ``canonical_payload`` (not ASCII): the C loop does not guess, the twin
    raises its own error."""
    bad = Entry(1, "journal", "a" * 32, 1, "new", "O-1", '{"name":"Zoë"}')
    with pytest.raises(UnicodeEncodeError):
        record.encode_records_py(0, [bad])
    with pytest.raises(UnicodeEncodeError):
        record.encode_records(0, [bad])


def test_an_entry_of_the_wrong_shape_is_a_type_error_not_a_crash() -> None:
    with pytest.raises(AttributeError):
        native.encode_records(0, [object()])
    with pytest.raises(TypeError):
        native.encode_records(0, 5)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=600), max_size=40))
def test_leaf_hashes_are_rfc9162_leaf_hashes(records: list[bytes]) -> None:
    expected = [hashlib.sha256(b"\x00" + r).digest() for r in records]
    assert native.leaf_hashes(records) == merkle.leaf_hashes_py(records) == expected
    assert native.leaf_hashes(iter(records)) == expected  # any iterable, as the twin takes


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), max_size=41))
def test_parent_hashes_are_rfc9162_node_hashes(nodes: list[bytes]) -> None:
    expected = [hashlib.sha256(b"\x01" + nodes[i] + nodes[i + 1]).digest() for i in range(0, len(nodes) - 1, 2)]
    assert native.parent_hashes(nodes) == merkle.parent_hashes_py(nodes) == expected


@pytest.mark.parametrize("count", [255, 256, 257, 1_001])
def test_large_batches_hash_every_item_in_its_place(count: int) -> None:
    """Every hash of a large batch lands in its place, an odd count's last one too (the loops once split a batch
    of 256 or more between two threads)."""
    records = [hashlib.sha256(i.to_bytes(4, "big")).digest() * (1 + i % 9) for i in range(count)]
    leaves = [hashlib.sha256(b"\x00" + r).digest() for r in records]
    assert native.leaf_hashes(records) == leaves
    nodes = leaves * 2 + leaves[:1]  # 2 * count + 1 nodes: count parents, the odd node waits for its sibling
    parents = [hashlib.sha256(b"\x01" + nodes[i] + nodes[i + 1]).digest() for i in range(0, 2 * count, 2)]
    assert native.parent_hashes_joined(b"".join(nodes)) == b"".join(parents)


def test_bad_input_to_the_hash_loops_is_a_python_error() -> None:
    with pytest.raises(TypeError, match="record 1 is str"):
        native.leaf_hashes([b"a", "b"])
    with pytest.raises(ValueError, match="node 1 is not a 32-byte hash"):
        native.parent_hashes([b"\x00" * 32, b"short"])


def test_the_spool_runs_the_c_loops() -> None:
    """Where the extension was built, the names the spool and the hash store call are the C loops."""
    assert merkle.leaf_hashes is native.leaf_hashes
    assert merkle.parent_hashes is native.parent_hashes
    assert record._native is native


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), max_size=41))
def test_joined_parent_hashes_are_the_twins(nodes: list[bytes]) -> None:
    joined = b"".join(nodes)
    assert native.parent_hashes_joined(joined) == merkle.parent_hashes_joined_py(joined)
    assert native.parent_hashes_joined(joined) == b"".join(merkle.parent_hashes_py(nodes))
    with pytest.raises(ValueError, match="not a whole number of 32-byte hashes"):
        native.parent_hashes_joined(joined + b"x")


@settings(max_examples=100, deadline=None)
@given(first=st.integers(0, 2**40), batch=st.lists(entries(), max_size=300))
def test_encode_and_hash_is_encode_then_hash(first: int, batch: list[Entry]) -> None:
    """Up to 300 records, as the spool's batches are encoded and hashed in one call."""
    data, records = record.encode_records_py(first, batch)
    assert spool.encode_and_hash(first, batch) == (data, records, b"".join(merkle.leaf_hashes_py(records)))
