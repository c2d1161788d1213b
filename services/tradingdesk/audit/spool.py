"""The local, durable audit log: records in, signed segments out, until the bucket has them.

Layout of the directory (``<dataDir>/<desk>/audit`` in the embedded runtime)::

    open-<start>.records    records appended since the last cut, one per line, fsync'd per batch
    segments/<start>-<end>.seg
                            segments cut and signed, byte for byte what is uploaded; kept after upload as
                            the local copy that proofs, queries and re-indexing read
    hashes/level-NN         the tree's node hashes (``HashStore``)
    hashes-synced           how far the node hashes are durable (a cut); beyond it a restart recomputes them
                            from the segments' leaf lists, so a cut costs no fsync of the hash files
    sealed                  the size and checkpoint of the last segment the bucket accepted

Durability contract: ``append`` returns once the batch is on disk (one fsync), so a record it returned is
never lost; records are numbered without gaps. ``cut`` turns everything appended since the last cut into
one segment file (written to a temporary name, fsync'd, renamed), and only then starts a new open file, so
a crash at any point leaves either the records in the open file or the whole segment, never neither.
``mark_sealed`` is called only after the bucket accepted a segment; until then the segment is pending and
nothing reports it sealed.

One writer at a time: the compliance service calls ``append`` and ``cut`` under one lock.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tradingdesk.audit.checkpoint import Checkpoint, SignerKey
from tradingdesk.audit.hashstore import HashStore
from tradingdesk.audit.merkle import consistency_proof, leaf_hashes, root_hash
from tradingdesk.audit.record import READABLE_VERSIONS, Entry, encode_records_py
from tradingdesk.audit.segment import (
    SEGMENTS_DIR,
    SegmentHeader,
    encode_segment,
    parse_header,
    parse_segment,
    parse_segment_name,
    segment_name,
)
from tradingdesk.core.durable_files import fsync_dir

try:  # encoding and leaf hashes in one C pass (audit/_native.c), where it was built
    from tradingdesk.audit._native import encode_and_hash as _encode_and_hash
except ImportError:
    _encode_and_hash = None

_SEALED = "sealed"
_HASHES_SYNCED = "hashes-synced"
_MAX = 2**63


class SpoolError(RuntimeError):
    """The local log is inconsistent (a file edited or lost by hand): refuse rather than guess."""


@dataclass(frozen=True, slots=True)
class Cut:
    """A segment cut from the log: its range, its file and its signed checkpoint."""

    start: int
    end: int
    path: Path
    checkpoint: str


def _root_of(note: str) -> bytes:
    """The root hash in a signed checkpoint we wrote (its signature is not checked here)."""
    cut = note.rfind("\n\n")
    return Checkpoint.parse(note[: cut + 1]).root if cut > 0 else b""


def write_file_durably(path: Path, data: bytes) -> None:
    """Write ``data`` under a temporary name, fsync, rename into place, fsync the directory."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def encode_and_hash(first_index: int, entries: list[Entry]) -> tuple[bytes, list[bytes], bytes]:
    """``encode_records`` and the records' leaf hashes (joined in one buffer): one C pass where it was built (each
    record hashed while its bytes are still in the cache), the twins otherwise."""
    if _encode_and_hash is not None:
        encoded = _encode_and_hash(first_index, entries)
        if encoded is not None:
            return encoded
    data, records = encode_records_py(first_index, entries)  # the C pass declined the batch or was not built
    return data, records, b"".join(leaf_hashes(records))


class Spool:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.segments_dir = directory / SEGMENTS_DIR
        self.segments_dir.mkdir(parents=True, exist_ok=True)
        for tmp in self.segments_dir.glob("*.tmp"):
            tmp.unlink()
        self.cuts = self._read_cuts()
        self.cut_size = self.cuts[-1][1] if self.cuts else 0
        self.hashes = HashStore(directory / "hashes")
        self._fd_lock = threading.Lock()
        # Encoded batches not yet handed to the file: ``sync`` writes them. Own lock, so ``write`` never waits
        # for a sync in progress.
        self._unwritten: list[bytes] = []
        self._unwritten_lock = threading.Lock()
        # One writer at a time, whatever the caller: a cancelled asyncio task does not stop its thread.
        self._writer_lock = threading.Lock()
        self._failed: BaseException | None = None
        self._restore_hashes()
        open_records = self._read_open_file()
        # Only a count: the records since the last cut are read back from the open file (and ``_unwritten``)
        # when a cut or a reader needs them. Holding them took fresh memory for every batch, and its page faults
        # cost the append about a third of its time.
        self._open_count = len(open_records)
        self._open_fd = self._open_file(self.cut_size)
        fsync_dir(self.dir)
        self.hashes.extend(leaf_hashes(open_records))
        self.sealed_size, self.sealed_checkpoint = self._read_sealed()

    # ---------------------------------------------------------------- state

    @property
    def size(self) -> int:
        """Records in the log (durable)."""
        return self.cut_size + self._open_count

    def pending(self) -> list[tuple[int, int]]:
        """Segments cut but not yet accepted by the bucket, in log order."""
        return [(s, e) for s, e in self.cuts if e > self.sealed_size]

    def segment_path(self, start: int, end: int) -> Path:
        return self.segments_dir / segment_name(start, end)

    # ---------------------------------------------------------------- writing

    def append(self, entries: list[Entry]) -> list[bytes]:
        """Number, encode and durably append ``entries``; returns their record bytes."""
        records = self.write(entries)
        self.sync()
        return records

    def write(self, entries: list[Entry]) -> list[bytes]:
        """Number, encode and hash ``entries`` without touching the disk: durable after the next ``sync``, which
        writes them to the open file.

        Split from ``sync`` so a caller can encode the next batch while the disk takes this one (one writer
        calls ``write``; ``sync`` may run on another thread at the same time). The file write is ``sync``'s too:
        a ``write()`` appending to the page an fdatasync is writing back waits for that fdatasync (stable pages),
        which made the two run one after the other."""
        if not entries:
            return []
        with self._writer_lock:
            self._check_not_failed()
            try:
                return self._write(entries)
            except BaseException as exc:
                self._failed = exc
                raise

    def _write(self, entries: list[Entry]) -> list[bytes]:
        data, records, leaves = encode_and_hash(self.size, entries)
        with self._unwritten_lock:
            self._unwritten.append(data)
        self._open_count += len(records)
        self.hashes.extend(leaves)
        self.hashes.flush()
        return records

    def sync(self) -> None:
        """Everything written so far is on disk when this returns."""
        with self._fd_lock:  # a cut may be swapping the open file
            self._check_not_failed()
            with self._unwritten_lock:
                data = b"".join(self._unwritten)
                self._unwritten.clear()
            try:
                written = os.write(self._open_fd, data) if data else 0
                while written < len(data):  # a short write (disk nearly full): finish or raise
                    written += os.write(self._open_fd, data[written:])
                os.fdatasync(self._open_fd)
            except BaseException as exc:
                self._failed = exc
                raise

    def _check_not_failed(self) -> None:
        """After a failed write or sync the file's state is unknown: nothing more until a restart, whose
        recovery keeps exactly the whole records on disk."""
        if self._failed is not None:
            raise SpoolError(f"the spool failed earlier ({self._failed}): restart to recover it")

    def cut(self, *, signer: SignerKey, origin: str, retain_until: str, now_ns: int | None = None) -> Cut | None:
        """Everything appended since the last cut becomes one signed segment file; None if nothing was."""
        with self._writer_lock:
            return self._cut(signer=signer, origin=origin, retain_until=retain_until, now_ns=now_ns)

    def _cut(self, *, signer: SignerKey, origin: str, retain_until: str, now_ns: int | None) -> Cut | None:
        start, end = self.cut_size, self.size
        if end == start:
            return None
        checkpoint = Checkpoint(origin, end, root_hash(self.hashes, end))
        note = signer.sign_note(checkpoint.text())
        header = SegmentHeader(
            origin=origin,
            start=start,
            end=end,
            checkpoint=note,
            consistency=tuple(consistency_proof(self.hashes, start, end)) if start else (),
            public_key=str(signer.verifier()),
            sealed_ns=now_ns if now_ns is not None else time.time_ns(),
            retain_until=retain_until,
            leaves=self.hashes.leaves(start, end),
        )
        data = encode_segment(header, self._open_file_records())
        self.hashes.flush()  # durable later (sync_hashes): the segment's leaf list can rebuild them
        path = self.segment_path(start, end)
        write_file_durably(path, data)
        old_path = self._open_path(start)
        with self._fd_lock:
            old_fd = self._open_fd
            self._open_fd = self._open_file(end)
            os.close(old_fd)
            with self._unwritten_lock:
                self._unwritten.clear()  # records the segment just made durable
        fsync_dir(self.dir)
        old_path.unlink()
        self._open_count = 0
        self.cuts.append((start, end))
        self.cut_size = end
        return Cut(start, end, path, note)

    def mark_sealed(self, end: int, checkpoint: str) -> None:
        """The bucket accepted the segment ending at ``end``: remember it durably."""
        write_file_durably(self.dir / _SEALED, f"{end}\n{checkpoint}".encode())
        self.sealed_size, self.sealed_checkpoint = end, checkpoint

    def adopt(self, start: int, end: int, data: bytes) -> None:
        """Take a segment the bucket already holds (rebuilding a lost spool from the bucket)."""
        with self._writer_lock:
            self._adopt(start, end, data)

    def _adopt(self, start: int, end: int, data: bytes) -> None:
        if start != self.cut_size or self._open_count:
            raise SpoolError(f"cannot adopt segment {start}-{end} into a log of {self.size} records")
        header, records = parse_segment(data)
        self.hashes.extend(leaf_hashes(records))
        root = _root_of(header.checkpoint)
        if self.hashes.size != end or self.hashes.leaves(start, end) != header.leaves or self.hashes.root() != root:
            self.hashes.truncate(start)
            raise SpoolError(f"segment {start}-{end} from the bucket does not hold the records it lists")
        write_file_durably(self.segment_path(start, end), data)
        with self._fd_lock:
            os.close(self._open_fd)
            self._open_path(start).unlink(missing_ok=True)
            self._open_fd = self._open_file(end)
        self.cuts.append((start, end))
        self.cut_size = end
        self.mark_sealed(end, header.checkpoint)

    def close(self) -> None:
        self.sync_hashes()
        with self._writer_lock, self._fd_lock:
            with contextlib.suppress(OSError):
                os.close(self._open_fd)
            self.hashes.close()

    # ---------------------------------------------------------------- reading

    def records(self, start: int, end: int) -> Iterator[bytes]:
        """Record bytes ``[start, end)`` from the segment files and the open file."""
        for s, e in self.cuts[max(0, bisect.bisect_right(self.cuts, (start, _MAX)) - 1) :]:
            if s >= end:
                break
            if e <= start:
                continue
            _, lines = parse_segment(self.segment_path(s, e).read_bytes())
            yield from lines[max(start, s) - s : min(end, e) - s]
        if end > self.cut_size:
            yield from self._open_file_records()[max(start, self.cut_size) - self.cut_size : end - self.cut_size]

    def _open_file_records(self) -> list[bytes]:
        """The records since the last cut: the open file's, then those ``sync`` has not yet written to it."""
        with self._fd_lock:  # a sync holds it from taking ``_unwritten`` until its write is in the file
            size = os.fstat(self._open_fd).st_size
            data = os.pread(self._open_fd, size, 0) if size else b""
            with self._unwritten_lock:
                data += b"".join(self._unwritten)
        return data.split(b"\n")[:-1]

    def checkpoint_at(self, end: int) -> str | None:
        """The signed checkpoint of the segment ending at ``end``, if one was cut there."""
        at = bisect.bisect_left(self.cuts, end, key=lambda cut: cut[1])
        if at == len(self.cuts) or self.cuts[at][1] != end:
            return None
        with open(self.segment_path(*self.cuts[at]), "rb") as f:
            return parse_header(f.readline().rstrip(b"\n")).checkpoint

    # ---------------------------------------------------------------- recovery

    def _open_path(self, start: int) -> Path:
        return self.dir / f"open-{start:020d}.records"

    def _open_file(self, start: int) -> int:
        """The open file starting at record ``start``: appended to, and read back by ``_open_file_records``."""
        return os.open(self._open_path(start), os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)

    def _read_cuts(self) -> list[tuple[int, int]]:
        cuts = sorted(r for p in self.segments_dir.iterdir() if (r := parse_segment_name(p.name)) is not None)
        expected = 0
        for start, end in cuts:
            if start != expected:
                raise SpoolError(f"local segments jump from {expected} to {start} in {self.segments_dir}")
            expected = end
        return cuts

    def _restore_hashes(self) -> None:
        """Trust the node hashes up to where they were last synced (``hashes-synced``, a cut), once they give
        that checkpoint's root; recompute the rest from the segments' leaf lists, which are durable."""
        hashes = self.hashes
        trusted = min(self._read_int(_HASHES_SYNCED), self.cut_size, hashes.size)
        hashes.truncate(trusted)
        note = self.checkpoint_at(trusted) if trusted else None
        if note is not None and _root_of(note) != hashes.root():
            hashes.truncate(0)  # damaged files: recompute everything from the segments
        for start, end in self.cuts:
            if end > hashes.size:
                with open(self.segment_path(start, end), "rb") as f:
                    header = parse_header(f.readline().rstrip(b"\n"))
                hashes.extend([header.leaf(i) for i in range(hashes.size - start, end - start)])
        if self.cuts and hashes.root() != _root_of(self.checkpoint_at(self.cut_size) or ""):
            raise SpoolError(f"the segments in {self.segments_dir} do not give their own checkpoint's root")
        if hashes.size > trusted:
            self.sync_hashes()

    def sync_hashes(self) -> None:
        """Make the node hashes durable up to the last cut, so a restart need not recompute them."""
        with self._writer_lock:
            size = self.cut_size
            self.hashes.sync()
        write_file_durably(self.dir / _HASHES_SYNCED, f"{size}\n".encode())

    def _read_int(self, name: str) -> int:
        path = self.dir / name
        return int(path.read_text().split()[0]) if path.exists() else 0

    def _read_open_file(self) -> list[bytes]:
        for path in self.dir.glob("open-*.records"):
            start = int(path.name[5:25])
            if start < self.cut_size:
                path.unlink()  # already in a segment (a crash between the cut and the removal)
            elif start > self.cut_size:
                raise SpoolError(f"{path.name} starts after the last segment ({self.cut_size})")
        path = self._open_path(self.cut_size)
        if not path.exists():
            return []
        data = path.read_bytes()
        keep = data.rfind(b"\n") + 1
        if keep < len(data):  # a torn last write: that batch was never reported durable
            with open(path, "r+b") as f:
                f.truncate(keep)
                os.fsync(f.fileno())
        records = data[:keep].split(b"\n")[:-1] if keep else []
        for i, raw in enumerate(records):
            heads = [f'{{"v":{v},"index":{self.cut_size + i},'.encode() for v in READABLE_VERSIONS]
            if not any(raw.startswith(head) for head in heads):
                raise SpoolError(f"{path.name} line {i + 1} is not record {self.cut_size + i}")
        return records

    def _read_sealed(self) -> tuple[int, str]:
        path = self.dir / _SEALED
        if not path.exists():
            return 0, ""
        size, _, note = path.read_text().partition("\n")
        return int(size), note


__all__ = ["Cut", "Spool", "SpoolError", "write_file_durably"]
