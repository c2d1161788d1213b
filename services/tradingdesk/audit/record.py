"""The audit record: one line of JSON, format version 2 (version 1 records still read). docs/audit.md is the
reference for auditors.

A record's bytes are what the Merkle tree hashes (leaf hash = SHA-256(0x00 || bytes)), so a verifier hashes
each line exactly as stored and never re-encodes it. The writer produces one canonical form: compact JSON,
ASCII only (other characters as \\u escapes, so a line never holds a raw newline), keys in this order::

    {"v":2,"index":41,"ts_ns":1767225600000000000,"source":"journal","incarnation":"0f9c...",
     "seq":40,"kind":"new","order_id":"O-...","payload":{...}}

- ``v``: the format version (2). A reader refuses versions it does not know.
- ``index``: the record's position in the log, from 0, with no gaps: the RFC 9162 leaf index.
- ``ts_ns``: when it happened (the source's timestamp), nanoseconds since the Unix epoch, UTC.
- ``source``: where it was recorded first. Each source is a journal with its own gap-free seqs and its own
  incarnations: ``journal`` (routing's order journal: order events, refused order requests, feed line
  switches, routing's access decisions) and ``risk`` (the risk service's change journal: limits, trading states,
  kills, latch releases, breach halts, refused change requests, risk's access decisions). ``compliance`` is the
  audit service's own records (a source's incarnation starting, a refused source, seals, the operator's
  actions; and for services without a journal, feeds above all: access decisions, feed lines taken out of
  service or put back, refused requests; compliance's own refused requests).
- ``incarnation``: the source journal's incarnation. A new journal (a fresh database) gets a new one; seqs
  restart at 1 in each.
- ``seq``: the source's seq within the incarnation (0 for compliance's own records).
- ``kind``: what happened (``new``, ``trade``, ``refused``, ``trading_state``, ``journal_incarnation``, ...).
- ``order_id``: the order concerned, or empty.
- ``payload``: the event's fields, as the source wrote them (decimal amounts as strings).

Version 1 (the first logs) is the same line with ``"v":1``; it knew only the sources ``journal`` and
``compliance``, and its ``journal_incarnation`` records name no source (they are the order journal's).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _quote
from typing import Any, NamedTuple

import msgspec

try:
    from tradingdesk.audit import _native
except ImportError:  # not built here: the pure-Python twins run
    _native = None

FORMAT_VERSION = 2
READABLE_VERSIONS = frozenset({1, 2})
SOURCE_JOURNAL = "journal"
SOURCE_RISK = "risk"
SOURCE_COMPLIANCE = "compliance"
SOURCES = (SOURCE_JOURNAL, SOURCE_RISK, SOURCE_COMPLIANCE)
JOURNAL_SOURCES = (SOURCE_JOURNAL, SOURCE_RISK)
"""Sources whose records carry a seq that runs 1, 2, 3, ... within each incarnation."""
_SOURCES_OF_VERSION = {1: frozenset({SOURCE_JOURNAL, SOURCE_COMPLIANCE}), 2: frozenset(SOURCES)}

#: Compliance's own kinds. A source journal's incarnation starts (payload: its source, the previous incarnation
#: and its last seq); compliance refuses a source (payload: source, incarnation, reason); someone asked for a
#: seal (payload: actor and reason); the operator acted on the desk; an access decision of a service without a
#: journal of its own; a feed line taken out of service or put back (``SetLineEnabled``); a request feeds or
#: compliance refused (``compliance/service_events.py``).
KIND_INCARNATION = "journal_incarnation"
KIND_SOURCE_REFUSED = "source_refused"
KIND_SEAL = "seal"
KIND_OPERATOR_ACTION = "operator_action"
KIND_ACCESS = "access"
KIND_LINE_ENABLED = "line_enabled"
KIND_REFUSED = "refused"

_PAYLOAD_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=False)


class RecordError(ValueError):
    """Bytes that are not a version-1 audit record."""


class Record(NamedTuple):
    """A decoded record (immutable; a named tuple, built for every record ``verify`` reads)."""

    version: int
    index: int
    ts_ns: int
    source: str
    incarnation: str
    seq: int
    kind: str
    order_id: str
    payload: dict[str, Any]
    raw: bytes

    @property
    def account(self) -> str:
        return str(self.payload.get("account", ""))

    @property
    def symbol(self) -> str:
        return str(self.payload.get("symbol", ""))

    @property
    def names_source(self) -> str:
        """The source journal a ``journal_incarnation`` or ``source_refused`` record is about (version 1
        incarnation records name none: they are the order journal's)."""
        return str(self.payload.get("source", SOURCE_JOURNAL))


def canonical_payload(payload_json: str) -> str:
    """``payload_json`` as it goes into a record: kept byte for byte when it is already a one-line ASCII JSON
    object (what the journal writes), re-encoded otherwise, so a record is always one line."""
    if payload_json.startswith("{") and payload_json.isascii() and "\n" not in payload_json:
        return payload_json
    value = json.loads(payload_json) if payload_json else {}
    if not isinstance(value, dict):
        raise RecordError("a payload is a JSON object")
    return _PAYLOAD_ENCODER.encode(value)


@dataclass(frozen=True, slots=True)
class Entry:
    """A record before it has a place in the log (the log assigns ``index``). ``payload_json`` must come from
    ``canonical_payload`` or ``encode_payload``."""

    ts_ns: int
    source: str
    incarnation: str
    seq: int
    kind: str
    order_id: str
    payload_json: str


def encode_record(index: int, e: Entry) -> bytes:
    """The canonical bytes of ``e`` at ``index``."""
    return encode_records(index, [e])[1][0]


def encode_records(first_index: int, entries: Sequence[Entry]) -> tuple[bytes, list[bytes]]:
    """The canonical bytes of ``entries`` at ``first_index`` on: one bytes object per record (as ``encode_record``
    gives) and the buffer the spool appends (each record followed by a newline). The C loop of ``_native`` where
    it was built and handles the batch, ``encode_records_py`` (the definition) otherwise: same bytes."""
    if _native is not None:
        encoded = _native.encode_records(first_index, entries)
        if encoded is not None:
            return encoded
    return encode_records_py(first_index, entries)


def encode_records_py(first_index: int, entries: Sequence[Entry]) -> tuple[bytes, list[bytes]]:
    """The canonical bytes of ``entries`` at ``first_index`` on: one bytes object per record (as ``encode_record``
    gives) and the buffer the spool appends (each record followed by a newline). For the audit log's batches: the
    quoted source and incarnation (the same for a whole run of records) are formatted once per pair, not per
    record."""
    middles: dict[tuple[str, str], str] = {}
    known = middles.get  # a middle is never empty: ``known(key) or middle(e)`` formats each pair once

    def middle(e: Entry) -> str:
        text = middles[e.source, e.incarnation] = f',"source":{_quote(e.source)},"incarnation":{_quote(e.incarnation)}'
        return text

    records = [
        f'{{"v":2,"index":{index},"ts_ns":{e.ts_ns}{known((e.source, e.incarnation)) or middle(e)},"seq":{e.seq},'
        f'"kind":{_quote(e.kind)},"order_id":{_quote(e.order_id)},"payload":{e.payload_json}}}'.encode("ascii")
        for index, e in enumerate(entries, first_index)
    ]
    records.append(b"")  # the last record's newline
    data = b"\n".join(records)
    records.pop()
    return data, records


def encode_payload(payload: dict[str, Any]) -> str:
    return _PAYLOAD_ENCODER.encode(payload)


_FIELDS = {
    "v": int,
    "index": int,
    "ts_ns": int,
    "source": str,
    "incarnation": str,
    "seq": int,
    "kind": str,
    "order_id": str,
    "payload": dict,
}


_FIELD_NAMES = frozenset(_FIELDS)
_decode_json = json.JSONDecoder().decode
_decode_fast = msgspec.json.decode


def _parse_json(raw: bytes) -> Any:
    """``json.loads`` of an ASCII record, about three times quicker (msgspec's decoder, on the verifier's path
    for every record of a year). What msgspec decodes, the standard decoder decodes to the same value (integers
    of any size included); what it refuses (``NaN``, a lone surrogate escape, bad JSON, non-ASCII bytes) goes
    to the standard decoder, which accepts or refuses it as it always did: what ``verify`` accepts is
    unchanged."""
    if raw.isascii():
        try:
            return _decode_fast(raw)
        except msgspec.DecodeError:
            pass
    return _decode_json(raw.decode("ascii"))


def decode_record(raw: bytes) -> Record:
    """Parse and check one record; ``RecordError`` names what is wrong. (On the verifier's path for every
    record of a year: exact types are checked with ``type() is``, which also refuses a bool for an int.)"""
    try:
        obj = _parse_json(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RecordError(f"not ASCII JSON: {exc}") from None
    if type(obj) is not dict:
        raise RecordError("not a JSON object")
    if obj.keys() != _FIELD_NAMES:
        missing, unknown = _FIELD_NAMES - obj.keys(), obj.keys() - _FIELD_NAMES
        raise RecordError(f"missing fields {sorted(missing)}, unknown fields {sorted(unknown)}")
    version = obj["v"]
    if type(version) is not int or version not in READABLE_VERSIONS:
        raise RecordError(f"format version {version!r} is not one this reader knows ({sorted(READABLE_VERSIONS)})")
    index, ts_ns, source, seq, payload = obj["index"], obj["ts_ns"], obj["source"], obj["seq"], obj["payload"]
    incarnation, kind, order_id = obj["incarnation"], obj["kind"], obj["order_id"]
    if not (
        type(index) is int
        and type(ts_ns) is int
        and type(source) is str
        and type(incarnation) is str
        and type(seq) is int
        and type(kind) is str
        and type(order_id) is str
        and type(payload) is dict
    ):
        for name, expected in _FIELDS.items():  # name the first field in the documented order
            if type(obj[name]) is not expected:
                raise RecordError(f"field {name!r} is not a {expected.__name__}")
    if source not in _SOURCES_OF_VERSION[version]:
        raise RecordError(f"unknown source {source!r} for format version {version}")
    if index < 0 or seq < 0:
        raise RecordError("index and seq are >= 0")
    return Record(version, index, ts_ns, source, incarnation, seq, kind, order_id, payload, raw)


__all__ = [
    "FORMAT_VERSION",
    "JOURNAL_SOURCES",
    "KIND_ACCESS",
    "KIND_INCARNATION",
    "KIND_LINE_ENABLED",
    "KIND_OPERATOR_ACTION",
    "KIND_REFUSED",
    "KIND_SEAL",
    "KIND_SOURCE_REFUSED",
    "READABLE_VERSIONS",
    "SOURCES",
    "SOURCE_COMPLIANCE",
    "SOURCE_JOURNAL",
    "SOURCE_RISK",
    "Entry",
    "Record",
    "RecordError",
    "canonical_payload",
    "decode_record",
    "encode_payload",
    "encode_record",
    "encode_records",
    "encode_records_py",
]
