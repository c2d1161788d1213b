"""A sealed segment: the records of one tree range, its signed checkpoint and its consistency proof.

One object per segment, written once, under a key named by its range (``segments/<start>-<end>.seg``, both
zero-padded to 20 digits so keys sort in log order; ``end`` is exclusive and is the checkpoint's tree size).
A retry of the same range uploads the same bytes; the bucket refuses a second, different object under it.

The object is text: a header line of JSON, then the records, one per line, each ending in a newline::

    {"format":"tradingdesk-audit-segment/1","origin":...,"start":0,"end":4096,"checkpoint":"<signed note>",
     "consistency":["<base64 hash>",...],"public_key":"<verifier key>","sealed_ns":...,
     "retain_until":"2033-01-01T00:00:00Z","leaves":"<base64 of the records' leaf hashes, 32 bytes each>"}
    {"v":2,"index":0,...}
    ...

``consistency`` proves the previous checkpoint (tree size ``start``) is a prefix of this one (RFC 9162
section 2.1.4); empty for the first segment. ``leaves`` lets a verifier name the exact record that was
altered: it is checked against the records and against the signed root, so it cannot hide a change.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass

from tradingdesk.audit.merkle import HASH_SIZE

SEGMENT_FORMAT = "tradingdesk-audit-segment/1"
SEGMENTS_DIR = "segments"
_NAME = re.compile(r"^(\d{20})-(\d{20})\.seg$")


class SegmentError(ValueError):
    """A segment that cannot be read: ``line`` (1-based, 0 for the whole object) says where."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


def segment_name(start: int, end: int) -> str:
    return f"{start:020d}-{end:020d}.seg"


def segment_key(start: int, end: int) -> str:
    return f"{SEGMENTS_DIR}/{segment_name(start, end)}"


def parse_segment_name(name: str) -> tuple[int, int] | None:
    """``(start, end)`` of a segment object's file name, or None if the name is not one of ours."""
    m = _NAME.match(name.rsplit("/", 1)[-1])
    return (int(m.group(1)), int(m.group(2))) if m else None


@dataclass(frozen=True, slots=True)
class SegmentHeader:
    origin: str
    start: int
    end: int
    checkpoint: str
    consistency: tuple[bytes, ...]
    public_key: str
    sealed_ns: int
    retain_until: str
    leaves: bytes

    def leaf(self, i: int) -> bytes:
        return self.leaves[i * HASH_SIZE : (i + 1) * HASH_SIZE]

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": SEGMENT_FORMAT,
                "origin": self.origin,
                "start": self.start,
                "end": self.end,
                "checkpoint": self.checkpoint,
                "consistency": [base64.b64encode(h).decode() for h in self.consistency],
                "public_key": self.public_key,
                "sealed_ns": self.sealed_ns,
                "retain_until": self.retain_until,
                "leaves": base64.b64encode(self.leaves).decode(),
            },
            separators=(",", ":"),
            ensure_ascii=True,
        )


def encode_segment(header: SegmentHeader, records: list[bytes]) -> bytes:
    if len(records) != header.end - header.start or len(header.leaves) != HASH_SIZE * len(records):
        raise SegmentError(f"segment {header.start}-{header.end} would hold {len(records)} records")
    return b"\n".join([header.to_json().encode(), *records]) + b"\n"


def _b64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise SegmentError(f"header: {what} is not a base64 string", 1)
    try:
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise SegmentError(f"header: {what} is not base64", 1) from None


def parse_header(line: bytes) -> SegmentHeader:
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SegmentError(f"header is not JSON: {exc}", 1) from None
    if not isinstance(obj, dict) or obj.get("format") != SEGMENT_FORMAT:
        raise SegmentError(f"header: format is not {SEGMENT_FORMAT!r}", 1)
    for name, kind in (
        ("origin", str),
        ("start", int),
        ("end", int),
        ("checkpoint", str),
        ("consistency", list),
        ("public_key", str),
        ("sealed_ns", int),
        ("retain_until", str),
    ):
        if not isinstance(obj.get(name), kind):
            raise SegmentError(f"header: {name} is missing or not a {kind.__name__}", 1)
    if not 0 <= obj["start"] < obj["end"]:
        raise SegmentError(f"header: range {obj['start']}-{obj['end']} is empty or reversed", 1)
    proof = tuple(_b64(h, "a consistency hash") for h in obj["consistency"])
    if any(len(h) != HASH_SIZE for h in proof):
        raise SegmentError("header: a consistency hash is not 32 bytes", 1)
    leaves = _b64(obj.get("leaves"), "leaves")
    if len(leaves) != HASH_SIZE * (obj["end"] - obj["start"]):
        raise SegmentError(f"header: leaves hold {len(leaves) // HASH_SIZE} hashes for {obj['end'] - obj['start']}", 1)
    return SegmentHeader(
        obj["origin"],
        obj["start"],
        obj["end"],
        obj["checkpoint"],
        proof,
        obj["public_key"],
        obj["sealed_ns"],
        obj["retain_until"],
        leaves,
    )


def parse_segment(data: bytes) -> tuple[SegmentHeader, list[bytes]]:
    """The header and the record lines. A missing final newline means a truncated object."""
    if not data.endswith(b"\n"):
        lines = data.count(b"\n") + 1
        raise SegmentError(f"the object is truncated: line {lines} has no end", lines)
    lines = data[:-1].split(b"\n")
    return parse_header(lines[0]), lines[1:]


__all__ = [
    "SEGMENTS_DIR",
    "SEGMENT_FORMAT",
    "SegmentError",
    "SegmentHeader",
    "encode_segment",
    "parse_header",
    "parse_segment",
    "parse_segment_name",
    "segment_key",
    "segment_name",
]
