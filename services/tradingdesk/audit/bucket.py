"""Where sealed segments go: a write-once bucket with retention. Two backends, one contract.

- ``put_once(key, data, retain_until)``: store ``data`` under ``key`` for good. If the key already holds the
  same bytes (a retry after a lost answer) that is success; if it holds other bytes, ``BucketConflict``:
  nothing ever replaces a sealed segment. Transient failures raise ``BucketUnavailable`` (retry later).
- ``read(key)``: the bytes and the retention the bucket enforces on them.
- ``segments()``: the segment objects, in key order, with their version count (a verifier flags a key with
  more than one version or a delete marker).
- ``problems()``: what is wrong with the bucket itself (no versioning, no Object Lock, ...).

``open_bucket`` builds one from an auditor's ``DIR`` or ``s3://bucket/prefix``; ``bucket_for_desk`` from the
spec (the desk's name is the prefix, so one bucket can hold several desks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from tradingdesk.spec.model import TradingDesk


class BucketError(RuntimeError):
    pass


class BucketUnavailable(BucketError):
    """The bucket could not be reached or answered with a transient error: try again later."""


class BucketConflict(BucketError):
    """The key already holds different bytes: a sealed segment is never replaced."""


class BucketMisconfigured(BucketError):
    """The bucket exists but cannot keep records as the rules require (no Object Lock, no versioning)."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    """Relative to the bucket's prefix, e.g. ``segments/000...000-000...4096.seg``."""
    versions: int = 1
    delete_markers: int = 0


@dataclass(frozen=True, slots=True)
class Retention:
    mode: str
    """``COMPLIANCE`` (S3 Object Lock), ``read-only`` (a file without write permission), or empty."""
    retain_until: datetime | None = None


class Bucket(Protocol):
    description: str

    def prepare(self, retention_days: int) -> None:
        """Create or check the bucket before the first upload; never weakens an existing retention."""
        ...

    def put_once(self, key: str, data: bytes, *, retain_until: datetime) -> None: ...

    def read(self, key: str) -> tuple[bytes, Retention]: ...

    def segments(self) -> list[ObjectInfo]: ...

    def problems(self) -> list[str]: ...


def open_bucket(url: str, *, endpoint_url: str | None = None) -> Bucket:
    """``s3://bucket/prefix`` or a directory (the desk's folder of a filesystem bucket)."""
    if url.startswith("s3://"):
        from tradingdesk.audit.s3_bucket import S3Bucket

        name, _, prefix = url[5:].partition("/")
        if not name:
            raise BucketError(f"{url!r}: no bucket name")
        return S3Bucket(name, prefix.strip("/"), endpoint_url=endpoint_url)
    from pathlib import Path

    from tradingdesk.audit.fs_bucket import FilesystemBucket

    return FilesystemBucket(Path(url))


def bucket_for_desk(desk: TradingDesk) -> Bucket:
    spec = desk.spec.compliance.audit_bucket
    if spec.kind == "s3":
        from tradingdesk.audit.s3_bucket import S3Bucket

        return S3Bucket(spec.bucket, desk.name, endpoint_url=spec.endpoint or None)
    from pathlib import Path

    from tradingdesk.audit.fs_bucket import FilesystemBucket

    return FilesystemBucket(Path(spec.path) / desk.name)


__all__ = [
    "Bucket",
    "BucketConflict",
    "BucketError",
    "BucketMisconfigured",
    "BucketUnavailable",
    "ObjectInfo",
    "Retention",
    "bucket_for_desk",
    "open_bucket",
]
