"""The S3 bucket against a real S3-compatible server (moto over HTTP): Object Lock in COMPLIANCE mode, the server
refusing deletes and overwrites, our code never shortening a retention, and verify catching what S3 lets an
attacker do (new versions, delete markers, foreign keys)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.audit.logs import build_log
from tradingdesk.audit.bucket import BucketConflict
from tradingdesk.audit.s3_bucket import S3Bucket
from tradingdesk.audit.verify import verify_bucket


@pytest.fixture
def client(s3_endpoint: str):
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")


def new_bucket(client, *, calls: list | None = None) -> S3Bucket:
    bucket = S3Bucket(f"audit-{uuid.uuid4().hex[:12]}", "desk-1", client=client)
    if calls is not None:
        client.meta.events.register("before-call.s3.*", lambda model, params, **_: calls.append((model.name, params)))
    return bucket


def default_retention(client, bucket: S3Bucket) -> tuple[str, int]:
    lock = client.get_object_lock_configuration(Bucket=bucket.name)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    rule = lock["Rule"]["DefaultRetention"]
    return rule["Mode"], rule.get("Days") or 365 * rule.get("Years", 0)


def until(days: int) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def test_prepare_makes_a_worm_bucket(client) -> None:
    bucket = new_bucket(client)
    bucket.prepare(30)
    assert default_retention(client, bucket) == ("COMPLIANCE", 30)
    assert client.get_bucket_versioning(Bucket=bucket.name)["Status"] == "Enabled"
    assert bucket.problems() == []


def test_a_sealed_object_cannot_be_deleted_or_replaced(client) -> None:
    bucket = new_bucket(client)
    bucket.prepare(30)
    key = "segments/00000000000000000000-00000000000000000010.seg"
    bucket.put_once(key, b"sealed\n", retain_until=until(30))
    bucket.put_once(key, b"sealed\n", retain_until=until(30))  # a retry of the same bytes is fine
    with pytest.raises(BucketConflict):
        bucket.put_once(key, b"different\n", retain_until=until(30))
    data, retention = bucket.read(key)
    assert data == b"sealed\n" and retention.mode == "COMPLIANCE" and retention.retain_until >= until(29)

    (version,) = client.list_object_versions(Bucket=bucket.name)["Versions"]
    with pytest.raises(ClientError) as deleted:  # the server refuses: COMPLIANCE retention
        client.delete_object(Bucket=bucket.name, Key=version["Key"], VersionId=version["VersionId"])
    assert deleted.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as overwritten:  # write-once: the server refuses a second object under the key
        client.put_object(Bucket=bucket.name, Key=version["Key"], Body=b"x", IfNoneMatch="*")
    assert overwritten.value.response["Error"]["Code"] == "PreconditionFailed"
    assert client.get_object(Bucket=bucket.name, Key=version["Key"])["Body"].read() == b"sealed\n"


def test_our_code_never_shortens_a_retention(client) -> None:
    """moto lets a COMPLIANCE retention be shortened (AWS does not): we show it does, and that we never try."""
    calls: list = []
    bucket = new_bucket(client, calls=calls)
    client.create_bucket(Bucket=bucket.name, ObjectLockEnabledForBucket=True)
    client.put_object_lock_configuration(
        Bucket=bucket.name,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 3650}},
        },
    )
    calls.clear()
    bucket.prepare(30)  # the desk asks for less than the bucket already keeps
    key = "segments/00000000000000000000-00000000000000000001.seg"
    bucket.put_once(key, b"one\n", retain_until=until(30))
    bucket.put_once(key, b"one\n", retain_until=until(1))  # a retry asking for less changes nothing
    assert default_retention(client, bucket) == ("COMPLIANCE", 3650)
    names = [name for name, _ in calls]
    assert "PutObjectRetention" not in names and "PutObjectLockConfiguration" not in names
    assert "DeleteObject" not in names and "DeleteObjects" not in names
    assert bucket.read(key)[1].retain_until >= until(29)

    # The server is laxer than AWS: it accepts a shortened COMPLIANCE retention when asked. We never ask.
    client.put_object_retention(
        Bucket=bucket.name, Key=f"desk-1/{key}", Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until(1)}
    )
    assert bucket.read(key)[1].retain_until < until(2)


def test_a_shorter_default_is_lengthened_never_the_reverse(client) -> None:
    bucket = new_bucket(client)
    client.create_bucket(Bucket=bucket.name, ObjectLockEnabledForBucket=True)
    client.put_object_lock_configuration(
        Bucket=bucket.name,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 5}},
        },
    )
    bucket.prepare(30)
    assert default_retention(client, bucket) == ("COMPLIANCE", 30)


def test_verify_on_s3_passes_then_catches_what_s3_lets_an_attacker_do(client, tmp_path: Path) -> None:
    bucket = new_bucket(client)
    _, _, signer = build_log(tmp_path, bucket=bucket)
    key = signer.verifier()
    report = verify_bucket(bucket, key)
    assert report.ok, [str(p) for p in report.problems]
    assert report.records == 100

    segments = [o.key for o in bucket.segments()]
    # A new version of a segment with one record changed: the second version and the record are both named.
    data, _ = bucket.read(segments[1])
    client.put_object(Bucket=bucket.name, Key=f"desk-1/{segments[1]}", Body=data.replace(b"189.50", b"189.51", 1))
    # A delete marker hides another segment.
    client.delete_object(Bucket=bucket.name, Key=f"desk-1/{segments[3]}")
    # A copy under a foreign key.
    client.put_object(Bucket=bucket.name, Key=f"desk-1/{segments[0]}.copy", Body=bucket.read(segments[0])[0])
    found = [str(p) for p in verify_bucket(bucket, key).problems]
    assert f"{segments[1]}: has 2 versions and 0 delete markers, not 1 and 0" in found
    assert f"{segments[1]} record 25: does not hash to its leaf: the record was altered" in found
    assert f"{segments[3]}: has 1 versions and 1 delete markers, not 1 and 0" in found
    assert any(p.startswith(f"{segments[3]}: cannot be read") for p in found)
    assert f"{segments[0]}.copy: is not a segment name: a copied or foreign object" in found
