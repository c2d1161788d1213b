"""Building real audit logs for tests: a spool, signed segments, a filesystem bucket, and ways to damage it."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tradingdesk.audit.bucket import Bucket
from tradingdesk.audit.checkpoint import SignerKey
from tradingdesk.audit.fs_bucket import FilesystemBucket
from tradingdesk.audit.record import KIND_INCARNATION, SOURCE_COMPLIANCE, SOURCE_JOURNAL, Entry, encode_payload
from tradingdesk.audit.spool import Spool
from tradingdesk.compliance.trail import upload_segment

ORIGIN = "tradingdesk.io/audit/test-desk"
TS0 = 1_767_225_600_000_000_000


def journal_entries(incarnation: str, seqs: range, *, previous: tuple[str, int] | None = None) -> list[Entry]:
    out = []
    if seqs.start == 1:
        prev_inc, prev_seq = previous or ("", 0)
        payload = encode_payload({"previous": prev_inc, "previous_last_seq": prev_seq})
        out.append(Entry(TS0, SOURCE_COMPLIANCE, incarnation, 0, KIND_INCARNATION, "", payload))
    for s in seqs:
        payload = {"account": "ACC-1", "symbol": "AAPL", "qty": str(s), "price": "189.50", "status": "NEW"}
        out.append(Entry(TS0 + s * 1000, SOURCE_JOURNAL, incarnation, s, "new", f"O-{s}", encode_payload(payload)))
    return out


def retain_until(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def seal_all(spool: Spool, bucket: Bucket, signer: SignerKey) -> None:
    """Cut what is open and upload every pending segment, as the compliance service does."""
    spool.cut(signer=signer, origin=signer.name, retain_until=retain_until())
    for start, end in spool.pending():
        upload_segment(spool, bucket, start, end)


def build_log(tmp: Path, *, segments: int = 4, per_segment: int = 25, bucket: Bucket | None = None):
    """A log of ``segments`` sealed segments, the second incarnation starting in the third segment."""
    signer = SignerKey.generate(ORIGIN)
    spool = Spool(tmp / "spool")
    bucket = bucket or FilesystemBucket(tmp / "bucket" / "test-desk")
    bucket.prepare(30)
    seq = 1
    incarnation = "a" * 32
    for n in range(segments):
        if n == 2:
            entries = journal_entries("b" * 32, range(1, per_segment), previous=(incarnation, seq - 1))
            incarnation, seq = "b" * 32, per_segment
        else:
            entries = journal_entries(incarnation, range(seq, seq + per_segment - (1 if seq == 1 else 0)))
            seq += per_segment - (1 if seq == 1 else 0)
        spool.append(entries)
        seal_all(spool, bucket, signer)
    return spool, bucket, signer


# -------------------------------------------------------------------------------- damage, as an attacker would


def writable(path: Path) -> None:
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)


def rewrite(path: Path, data: bytes) -> None:
    """Replace a sealed file's bytes and make it read-only again (so only the content tells)."""
    writable(path)
    path.write_bytes(data)
    os.chmod(path, 0o444)


def segment_files(bucket_dir: Path) -> list[Path]:
    return sorted((bucket_dir / "segments").iterdir())


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes()[:-1].split(b"\n")


def with_lines(path: Path, lines: list[bytes]) -> None:
    rewrite(path, b"\n".join(lines) + b"\n")


def record_json(line: bytes) -> dict:
    return json.loads(line)
