"""A bucket on the local filesystem (the embedded default): each object is a file made read-only.

Write-once by construction: a segment is written to a temporary file, fsync'd, made read-only, then
hard-linked to its key, which fails if the key exists, so two writers can never both win. Read-only files
are the retention a filesystem offers; the verifier reports any segment file that is writable again.
"""

from __future__ import annotations

import os
import stat
import uuid
from datetime import datetime
from pathlib import Path

from tradingdesk.audit.bucket import BucketConflict, BucketUnavailable, ObjectInfo, Retention
from tradingdesk.audit.segment import SEGMENTS_DIR

_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


class FilesystemBucket:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = str(root)

    def prepare(self, retention_days: int) -> None:
        try:
            (self.root / SEGMENTS_DIR).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BucketUnavailable(f"{self.root}: {exc}") from exc

    def put_once(self, key: str, data: bytes, *, retain_until: datetime) -> None:
        path = self.root / key
        try:
            if path.exists():
                self._same_or_conflict(path, data)
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
            try:
                with open(tmp, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.chmod(tmp, 0o444)
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    self._same_or_conflict(path, data)
            finally:
                tmp.unlink(missing_ok=True)
            fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise BucketUnavailable(f"{path}: {exc}") from exc

    @staticmethod
    def _same_or_conflict(path: Path, data: bytes) -> None:
        if path.read_bytes() != data:
            raise BucketConflict(f"{path} already holds a different segment")

    def read(self, key: str) -> tuple[bytes, Retention]:
        path = self.root / key
        mode = path.stat().st_mode
        return path.read_bytes(), Retention("" if mode & _WRITE_BITS else "read-only")

    def segments(self) -> list[ObjectInfo]:
        folder = self.root / SEGMENTS_DIR
        if not folder.is_dir():
            return []
        # Every file but our own in-flight temporaries: a stray copy is something a verifier must see.
        return [
            ObjectInfo(f"{SEGMENTS_DIR}/{p.name}")
            for p in sorted(folder.iterdir())
            if p.is_file() and not (p.name.startswith(".") and p.name.endswith(".tmp"))
        ]

    def problems(self) -> list[str]:
        if not (self.root / SEGMENTS_DIR).is_dir():
            return [f"{self.root} holds no {SEGMENTS_DIR}/ folder: not an audit bucket"]
        return []


__all__ = ["FilesystemBucket"]
