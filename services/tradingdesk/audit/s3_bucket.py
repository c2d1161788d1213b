"""An S3 bucket with Object Lock in COMPLIANCE mode (production): WORM storage under SEC 17a-4(f).

- ``prepare`` creates the bucket with Object Lock if it does not exist, turns versioning on, and makes the
  bucket's default retention COMPLIANCE for at least ``retentionDays``. It only ever lengthens: an existing
  longer default is kept, and nothing here ever calls ``PutObjectRetention`` (some S3-compatible servers let
  a COMPLIANCE retention be shortened; AWS does not, and we never try).
- ``put_once`` writes with ``If-None-Match: *`` (no second version under a key), ``ObjectLockMode=COMPLIANCE``
  and a retain-until date on the object itself, so each segment is protected even if the bucket default
  changes later. A key that exists is read back: the same bytes are a retried upload that had succeeded.

Credentials come from the usual AWS chain (environment, profile, pod identity); the endpoint from the spec
(``auditBucket.endpoint``) or ``--endpoint-url``.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tradingdesk.audit.bucket import (
    BucketConflict,
    BucketMisconfigured,
    BucketUnavailable,
    ObjectInfo,
    Retention,
)
from tradingdesk.audit.segment import SEGMENTS_DIR

COMPLIANCE = "COMPLIANCE"
_CLIENT_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30, tcp_keepalive=True
)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _days(rule: dict[str, Any]) -> int:
    retention = rule.get("DefaultRetention", {})
    return int(retention.get("Days", 0)) or int(retention.get("Years", 0)) * 365


class S3Bucket:
    def __init__(self, name: str, prefix: str = "", *, endpoint_url: str | None = None, client: Any = None) -> None:
        self.name = name
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.description = f"s3://{name}/{self.prefix}"
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.client = client or boto3.client("s3", endpoint_url=endpoint_url, region_name=region, config=_CLIENT_CONFIG)

    def _call(self, method: str, **kwargs: Any) -> Any:
        """One S3 call; network and server-side errors become ``BucketUnavailable``."""
        try:
            return getattr(self.client, method)(Bucket=self.name, **kwargs)
        except ClientError as exc:
            if _status(exc) >= 500 or _code(exc) in ("SlowDown", "RequestTimeout", "ServiceUnavailable"):
                raise BucketUnavailable(f"{self.description}: {method}: {exc}") from exc
            raise
        except BotoCoreError as exc:
            raise BucketUnavailable(f"{self.description}: {method}: {exc}") from exc

    # ---------------------------------------------------------------- setup

    def prepare(self, retention_days: int) -> None:
        try:
            self._call("head_bucket")
        except ClientError as exc:
            if _code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                raise BucketUnavailable(f"{self.description}: {exc}") from exc
            self._create()
        try:
            versioning = self._call("get_bucket_versioning").get("Status")
            if versioning != "Enabled":
                self._call("put_bucket_versioning", VersioningConfiguration={"Status": "Enabled"})
            self._ensure_default_retention(retention_days)
        except ClientError as exc:
            raise BucketMisconfigured(f"{self.description}: {exc}") from exc

    def _create(self) -> None:
        kwargs: dict[str, Any] = {"ObjectLockEnabledForBucket": True}
        region = self.client.meta.region_name
        if region and region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self._call("create_bucket", **kwargs)
        except ClientError as exc:
            if _code(exc) not in ("BucketAlreadyOwnedByYou",):
                raise BucketUnavailable(f"{self.description}: create_bucket: {exc}") from exc

    def _ensure_default_retention(self, retention_days: int) -> None:
        """COMPLIANCE for at least ``retention_days`` by default; a longer existing default stays."""
        try:
            config = self._call("get_object_lock_configuration").get("ObjectLockConfiguration", {})
        except ClientError as exc:
            if _code(exc) != "ObjectLockConfigurationNotFoundError":
                raise
            config = {}
        rule = config.get("Rule", {})
        current_mode = rule.get("DefaultRetention", {}).get("Mode", "")
        current_days = _days(rule)
        enabled = config.get("ObjectLockEnabled") == "Enabled"
        if enabled and current_mode == COMPLIANCE and current_days >= retention_days:
            return  # never shorten: a longer default set by someone else is kept
        days = max(retention_days, current_days if current_mode == COMPLIANCE else 0)
        self._call(
            "put_object_lock_configuration",
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": COMPLIANCE, "Days": days}},
            },
        )

    # ---------------------------------------------------------------- objects

    def put_once(self, key: str, data: bytes, *, retain_until: datetime) -> None:
        try:
            self._call(
                "put_object",
                Key=self.prefix + key,
                Body=data,
                IfNoneMatch="*",
                ObjectLockMode=COMPLIANCE,
                ObjectLockRetainUntilDate=retain_until,
                ChecksumAlgorithm="SHA256",
                ContentType="text/plain; charset=us-ascii",
            )
        except ClientError as exc:
            if _code(exc) not in ("PreconditionFailed", "ConditionalRequestConflict") and _status(exc) != 412:
                raise BucketUnavailable(f"{self.description}{key}: {exc}") from exc
            existing, _ = self.read(key)
            if existing != data:
                raise BucketConflict(f"{self.description}{key} already holds a different segment") from None

    def read(self, key: str) -> tuple[bytes, Retention]:
        try:
            obj = self._call("get_object", Key=self.prefix + key)
        except ClientError as exc:
            raise BucketUnavailable(f"{self.description}{key}: {exc}") from exc
        data = obj["Body"].read()
        return data, Retention(obj.get("ObjectLockMode", ""), obj.get("ObjectLockRetainUntilDate"))

    def segments(self) -> list[ObjectInfo]:
        versions: dict[str, int] = {}
        markers: dict[str, int] = {}
        paginator = self.client.get_paginator("list_object_versions")
        try:
            for page in paginator.paginate(Bucket=self.name, Prefix=f"{self.prefix}{SEGMENTS_DIR}/"):
                for v in page.get("Versions", []):
                    versions[v["Key"]] = versions.get(v["Key"], 0) + 1
                for m in page.get("DeleteMarkers", []):
                    markers[m["Key"]] = markers.get(m["Key"], 0) + 1
        except (ClientError, BotoCoreError) as exc:
            raise BucketUnavailable(f"{self.description}: list_object_versions: {exc}") from exc
        keys = sorted(set(versions) | set(markers))
        return [ObjectInfo(k[len(self.prefix) :], versions.get(k, 0), markers.get(k, 0)) for k in keys]

    def problems(self) -> list[str]:
        out = []
        try:
            if self._call("get_bucket_versioning").get("Status") != "Enabled":
                out.append(f"{self.description}: versioning is not enabled")
            config = self._call("get_object_lock_configuration").get("ObjectLockConfiguration", {})
            if config.get("ObjectLockEnabled") != "Enabled":
                out.append(f"{self.description}: Object Lock is not enabled")
        except ClientError as exc:
            out.append(f"{self.description}: {_code(exc) or exc}")
        return out


__all__ = ["COMPLIANCE", "S3Bucket"]
