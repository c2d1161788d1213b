"""The auditor's check of a bucket, offline: from the segments and a trusted public key, nothing else.

For every segment, in key order: its name is a tree range that starts where the previous one ended (no gap,
no overlap, no second copy); the object is protected (S3: one version, COMPLIANCE retention until at least the
date the segment asks for; filesystem: a read-only file); the checkpoint is signed by the trusted key, names
the same log, and is not smaller than the one before; its consistency proof links it to the previous
checkpoint (RFC 9162 section 2.1.4); every record parses (format version 1 or 2), sits at its own index, and
hashes to the leaf the segment lists; the listed leaves give the signed root hash; for each source journal
(routing's ``journal``, ``risk``), seqs run 1, 2, 3, ... within each incarnation, and a new incarnation starts
only with a ``journal_incarnation`` record naming its source and the incarnation before. The tree is
recomputed from the records in O(log n) memory, so a year of records needs no more memory than a day.

Each problem names the segment and, where there is one, the record (its index in the log).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tradingdesk.audit.bucket import Bucket, BucketError
from tradingdesk.audit.checkpoint import Checkpoint, CheckpointError, VerifierKey, open_checkpoint
from tradingdesk.audit.merkle import EMPTY_ROOT, HASH_SIZE, CompactRange, ProofError, leaf_hashes, verify_consistency
from tradingdesk.audit.record import (
    JOURNAL_SOURCES,
    KIND_INCARNATION,
    SOURCE_COMPLIANCE,
    SOURCE_JOURNAL,
    RecordError,
    decode_record,
)
from tradingdesk.audit.segment import SegmentError, SegmentHeader, parse_segment, parse_segment_name

MAX_PROBLEMS_PER_SEGMENT = 20


@dataclass(frozen=True, slots=True)
class Problem:
    where: str
    """The segment's key, or the bucket."""
    message: str
    record: int | None = None
    """The record's index in the log, when the problem is one record."""

    def __str__(self) -> str:
        at = f" record {self.record}" if self.record is not None else ""
        return f"{self.where}{at}: {self.message}"


@dataclass
class VerifyReport:
    bucket: str
    segments: int = 0
    records: int = 0
    tree_size: int = 0
    root: bytes = EMPTY_ROOT
    origin: str = ""
    last_checkpoint: str = ""
    sources: dict[str, list[str]] = field(default_factory=dict)
    """Each source journal's incarnations, in the order the log started them."""
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def incarnations(self) -> list[str]:
        """The order journal's incarnations."""
        return self.sources.get(SOURCE_JOURNAL, [])


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class _Thread:
    """Where one source journal stands in the log."""

    incarnation: str = ""
    last_seq: int = 0
    resync: bool = False


class _Sources:
    """Continuity of seqs and incarnations, for each source journal on its own."""

    def __init__(self, report: VerifyReport) -> None:
        self.report = report
        self.threads = {source: _Thread() for source in JOURNAL_SOURCES}

    def lost(self) -> None:
        """A record could not be read: take each source's next seq as it comes (its absence is reported)."""
        for thread in self.threads.values():
            thread.resync = True

    def check(self, rec, where: str) -> str | None:
        if rec.source == SOURCE_COMPLIANCE and rec.kind == KIND_INCARNATION:
            return self._starts(rec)
        thread = self.threads.get(rec.source)
        if thread is None:
            return None
        if thread.resync:  # after records that could not be read: pick the thread up again here
            thread.resync = False
            thread.incarnation, thread.last_seq = rec.incarnation, rec.seq
            return None
        if rec.incarnation != thread.incarnation:
            return (
                f"belongs to {rec.source} incarnation {rec.incarnation}, but the log is in "
                f"{thread.incarnation or 'none'}"
            )
        expected = thread.last_seq + 1
        thread.last_seq = rec.seq
        if rec.seq > expected:
            return f"{rec.source} seq jumps from {expected - 1} to {rec.seq}: {rec.seq - expected} events missing"
        if rec.seq < expected:
            return f"{rec.source} seq {rec.seq} comes after {expected - 1}: the source went backwards or repeats"
        return None

    def _starts(self, rec) -> str | None:
        source = rec.names_source
        thread = self.threads.get(source)
        if thread is None:
            return f"starts an incarnation of {source!r}, which is not a source journal"
        previous = str(rec.payload.get("previous", ""))
        if previous != thread.incarnation and not thread.resync:
            was = thread.incarnation or "none"
            return f"starts {source} incarnation {rec.incarnation} after {previous or 'none'}, but the log was in {was}"
        seen = self.report.sources.setdefault(source, [])
        if rec.incarnation in seen:
            return f"starts {source} incarnation {rec.incarnation} again: two histories merged"
        seen.append(rec.incarnation)
        thread.incarnation, thread.last_seq, thread.resync = rec.incarnation, 0, False
        return None


def verify_bucket(
    bucket: Bucket,
    key: VerifierKey,
    *,
    expect: Checkpoint | None = None,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Check everything in ``bucket`` against ``key``; ``expect`` is a checkpoint the auditor already holds
    (from an earlier run or from GetCheckpoint): the bucket must reach it with the same root."""
    report = VerifyReport(bucket.description)
    try:
        report.problems += [Problem("bucket", p) for p in bucket.problems()]
        objects = bucket.segments()
    except BucketError as exc:
        report.problems.append(Problem("bucket", str(exc)))
        return report
    tree = CompactRange()
    intact = True  # false once the tree cannot be recomputed (a gap, an unreadable segment)
    previous: Checkpoint | None = None
    sources = _Sources(report)
    seen: dict[tuple[int, int], str] = {}
    covered = 0  # records up to here are in a segment seen so far
    for obj in objects:
        rng = parse_segment_name(obj.key)
        if rng is None:
            report.problems.append(Problem(obj.key, "is not a segment name: a copied or foreign object"))
            continue
        start, end = rng
        if rng in seen:
            report.problems.append(Problem(obj.key, f"duplicates {seen[rng]}"))
            continue
        seen[rng] = obj.key
        if obj.versions != 1 or obj.delete_markers:
            report.problems.append(
                Problem(obj.key, f"has {obj.versions} versions and {obj.delete_markers} delete markers, not 1 and 0")
            )
        if start < covered:
            report.problems.append(Problem(obj.key, f"overlaps the previous segments: records {start}-{covered}"))
            continue
        if start > covered:
            report.problems.append(
                Problem(obj.key, f"records {covered} to {start - 1} are missing: no segment covers them")
            )
            intact = False
            sources.lost()
        covered = end
        report.segments += 1
        try:
            data, retention = bucket.read(obj.key)
        except (BucketError, OSError) as exc:
            report.problems.append(Problem(obj.key, f"cannot be read: {exc}"))
            intact = False
            sources.lost()
            continue
        problems: list[Problem] = []
        checked = _check_segment(
            obj.key, start, end, data, key=key, previous=previous, report=report, sources=sources, problems=problems
        )
        report.problems += problems[:MAX_PROBLEMS_PER_SEGMENT]
        if len(problems) > MAX_PROBLEMS_PER_SEGMENT:
            report.problems.append(Problem(obj.key, f"and {len(problems) - MAX_PROBLEMS_PER_SEGMENT} more problems"))
        if checked is None:
            intact = False
            sources.lost()
            continue
        header, checkpoint = checked
        _check_retention(obj.key, header, retention, report)
        report.records += end - start
        if progress is not None:
            progress(end - start)
        if not intact:
            previous = checkpoint
            continue
        # Fold the listed leaves: the records were compared with them one by one, and here the list is
        # compared with the signed root, so one altered record is named and the rest stays checkable.
        leaves = header.leaves
        if expect is not None and start < expect.size <= end:  # the auditor's checkpoint falls in this segment
            tree.extend_hashes(leaves[: (expect.size - start) * HASH_SIZE])
            leaves = leaves[(expect.size - start) * HASH_SIZE :]
            if tree.root() != expect.root:
                report.problems.append(
                    Problem(obj.key, f"the log at {expect.size} records differs from the expected checkpoint")
                )
        tree.extend_hashes(leaves)
        if tree.root() != checkpoint.root:
            report.problems.append(Problem(obj.key, "the records do not give the root hash its checkpoint signs"))
            intact = False
        previous = checkpoint
    if previous is not None:
        report.tree_size, report.root, report.origin = previous.size, previous.root, previous.origin
    if expect is not None and report.tree_size < expect.size:
        report.problems.append(
            Problem("bucket", f"ends at {report.tree_size} records, before the expected checkpoint's {expect.size}")
        )
    return report


def _check_segment(
    where: str,
    start: int,
    end: int,
    data: bytes,
    *,
    key: VerifierKey,
    previous: Checkpoint | None,
    report: VerifyReport,
    sources: _Sources,
    problems: list[Problem],
) -> tuple[SegmentHeader, Checkpoint] | None:
    """Every check of one segment that needs only it and the previous checkpoint; None when its tree
    cannot be trusted at all (the caller then stops recomputing the tree)."""
    try:
        header, lines = parse_segment(data)
    except SegmentError as exc:
        record = start + exc.line - 2 if exc.line >= 2 else None
        problems.append(Problem(where, str(exc), record))
        return None
    if (header.start, header.end) != (start, end):
        problems.append(Problem(where, f"its header says records {header.start}-{header.end}"))
        return None
    try:
        checkpoint = open_checkpoint(header.checkpoint, key)
    except CheckpointError as exc:
        problems.append(Problem(where, f"checkpoint: {exc}"))
        return None
    if header.public_key != str(key):
        problems.append(Problem(where, f"publishes public key {header.public_key}, not the trusted one"))
    if report.origin and checkpoint.origin != report.origin:
        problems.append(Problem(where, f"checkpoint is for log {checkpoint.origin!r}, not {report.origin!r}"))
    report.origin = report.origin or checkpoint.origin
    if previous is not None and checkpoint.size < previous.size:
        problems.append(
            Problem(where, f"checkpoint tree size {checkpoint.size} is smaller than the previous {previous.size}")
        )
        return None
    if checkpoint.size != end:
        problems.append(Problem(where, f"checkpoint covers {checkpoint.size} records, the segment ends at {end}"))
        return None
    if previous is not None and previous.size == start:
        try:
            verify_consistency(
                old_size=start,
                new_size=end,
                old_root=previous.root,
                new_root=checkpoint.root,
                proof=header.consistency,
            )
        except ProofError as exc:
            problems.append(Problem(where, f"not consistent with the previous checkpoint: {exc}"))
    report.last_checkpoint = header.checkpoint
    if len(lines) != end - start:
        first_missing = start + len(lines)
        what = f"records {first_missing} to {end - 1} are missing" if len(lines) < end - start else "extra lines"
        problems.append(Problem(where, f"holds {len(lines)} records, its range needs {end - start}: {what}"))
    records = lines[: end - start]
    hashes = leaf_hashes(records)
    all_listed = b"".join(hashes) == header.leaves  # else find the records that differ, one by one
    for i, raw in enumerate(records):
        at = start + i
        try:
            rec = decode_record(raw)
        except RecordError as exc:
            problems.append(Problem(where, f"unreadable: {exc}", at))
            sources.lost()
            continue
        if rec.index != at:
            problems.append(Problem(where, f"holds record {rec.index}: records were moved or removed", at))
            sources.lost()
            continue
        if not all_listed and hashes[i] != header.leaf(i):
            problems.append(Problem(where, "does not hash to its leaf: the record was altered", at))
            sources.lost()
            continue
        if (wrong := sources.check(rec, where)) is not None:
            problems.append(Problem(where, wrong, at))
    return header, checkpoint


def _check_retention(where: str, header: SegmentHeader, retention, report: VerifyReport) -> None:
    if retention.mode == "read-only":
        return
    if retention.mode != "COMPLIANCE":
        what = retention.mode or "none"
        report.problems.append(Problem(where, f"is not protected (retention {what}): it can be changed or deleted"))
        return
    try:
        wanted = parse_time(header.retain_until)
    except ValueError:
        report.problems.append(Problem(where, f"asks for retention until {header.retain_until!r}, not a date"))
        return
    until = retention.retain_until
    if until is None or until.astimezone(UTC) < wanted:
        report.problems.append(Problem(where, f"is retained until {until}, before {header.retain_until}"))


__all__ = ["Problem", "VerifyReport", "parse_time", "verify_bucket"]
