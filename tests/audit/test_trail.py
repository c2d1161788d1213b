"""The audit trail between the spool and the bucket: an unreachable bucket delays sealing (retried with backoff,
never reported sealed), a restart keeps what waits, and a missing signing key stops sealing loudly."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.audit.logs import journal_entries
from tests.desk_runner import wait_for
from tradingdesk.audit.fs_bucket import FilesystemBucket
from tradingdesk.audit.keys import load_signer
from tradingdesk.audit.verify import verify_bucket
from tradingdesk.compliance.trail import AuditTrail, Indexed, SealFailed
from tradingdesk.spec.model import AuditCheckpointSpec
from tradingdesk.storage.audit_store import AuditStore
from tradingdesk.storage.db import make_engine, migrate
from tradingdesk.storage.schema import audit_log


def new_trail(tmp: Path, bucket_dir: Path, environ: dict[str, str] | None = None) -> AuditTrail:
    engine = make_engine(f"sqlite:///{tmp / 'compliance.db'}", durable=False)
    migrate(engine)
    return AuditTrail(
        spool_dir=tmp / "spool",
        index=AuditStore(engine),
        bucket=FilesystemBucket(bucket_dir),
        signer=lambda: load_signer(desk_name="test-desk", data_dir=tmp, environ=environ or {}),
        cadence=AuditCheckpointSpec(every_records=1_000_000, every_seconds=3_600),
        retention_days=1,
        retry_initial_s=0.02,
        retry_max_s=0.1,
    )


def items(incarnation: str, seqs: range) -> list[Indexed]:
    return [Indexed(e) for e in journal_entries(incarnation, seqs)]


async def test_an_unreachable_bucket_delays_the_seal_and_a_restart_keeps_the_records(tmp_path: Path) -> None:
    blocker = tmp_path / "bucket"
    blocker.write_text("a file where the bucket's folder should be")  # every upload fails
    bucket_dir = blocker / "test-desk"
    trail = new_trail(tmp_path, bucket_dir)
    await trail.start()
    await trail.append(items("a" * 32, range(1, 30)))
    with pytest.raises(SealFailed, match="segments up to 30 are in the spool but not yet in"):
        await trail.seal(timeout=0.5)
    assert trail.sealed_size == 0 and trail.sealed_checkpoint == ""  # nothing reported sealed
    assert "Not a directory" in trail.last_upload_error
    await trail.append(items("a" * 32, range(30, 40)))
    await trail.stop(upload_timeout=0.2)

    # A restart: the cut segments and the records wait in the spool; the bucket is back.
    blocker.unlink()
    again = new_trail(tmp_path, bucket_dir)
    await again.start()
    await wait_for(lambda: again.sealed_size == 40, timeout=10)
    await again.append(items("a" * 32, range(40, 45)))
    note = await again.seal(timeout=10)
    assert note.startswith("tradingdesk.io/audit/test-desk\n45\n")
    await again.stop()
    key = load_signer(desk_name="test-desk", data_dir=tmp_path, environ={}).verifier()
    report = verify_bucket(FilesystemBucket(bucket_dir), key)
    assert report.ok and report.records == 45, [str(p) for p in report.problems]


async def test_sealing_resumes_when_the_bucket_comes_back_without_a_restart(tmp_path: Path) -> None:
    blocker = tmp_path / "bucket"
    blocker.write_text("not yet")
    trail = new_trail(tmp_path, blocker / "test-desk")
    failures: list[str] = []
    trail.on_seal_failure = failures.append  # what tradingdesk_audit_seal_failures_total counts
    await trail.start()
    try:
        await trail.append(items("a" * 32, range(1, 10)))
        with pytest.raises(SealFailed):
            await trail.seal(timeout=0.3)
        assert failures and set(failures) == {"unavailable"}, failures
        blocker.unlink()  # the next retry (backoff capped at 0.1 s here) succeeds
        note = await trail.seal(timeout=10)
        assert note.startswith("tradingdesk.io/audit/test-desk\n10\n") and trail.last_upload_error == ""
        counted = len(failures)
        await trail.append(items("a" * 32, range(10, 12)))
        await trail.seal(timeout=10)
        assert len(failures) == counted  # a seal that works counts nothing
    finally:
        await trail.stop()


async def test_a_missing_signing_key_stops_sealing_loudly_until_the_secret_appears(tmp_path: Path) -> None:
    mounted = tmp_path / "secret" / "signing.key"
    problems: list[str] = []
    trail = new_trail(tmp_path, tmp_path / "bucket" / "test-desk", {"TD_AUDIT_SIGNING_KEY_FILE": str(mounted)})
    trail.on_problem = problems.append
    failures: list[str] = []
    trail.on_seal_failure = failures.append
    await trail.start()
    try:
        assert trail.problem == f"cannot sign checkpoints: no signing key at {mounted} (the Secret is not mounted yet?)"
        await trail.append(items("a" * 32, range(1, 5)))  # records still go into the spool
        assert trail.size == 5
        with pytest.raises(SealFailed, match="no signing key at"):
            await trail.seal(timeout=1)
        assert failures == ["signing_key"]
        # The platform team creates the Secret; kubelet mounts it.
        from tradingdesk.audit.checkpoint import SignerKey
        from tradingdesk.audit.keys import write_key_pair

        mounted.parent.mkdir()
        write_key_pair(mounted.parent, SignerKey.generate("tradingdesk.io/audit/trading/test-desk"))
        note = await trail.seal(timeout=10)
        assert note.startswith("tradingdesk.io/audit/trading/test-desk\n5\n")
        assert trail.problem == "" and problems[-1] == ""
    finally:
        await trail.stop()


async def test_a_different_signing_key_does_not_continue_a_log(tmp_path: Path) -> None:
    bucket_dir = tmp_path / "bucket" / "test-desk"
    trail = new_trail(tmp_path, bucket_dir)
    await trail.start()
    await trail.append(items("a" * 32, range(1, 5)))
    await trail.seal(timeout=10)
    await trail.stop()
    (tmp_path / "audit-keys" / "signing.key").unlink()  # the data dir's key is lost; a new one would be made
    again = new_trail(tmp_path, bucket_dir)
    await again.start()
    try:
        assert again.problem.startswith("cannot sign checkpoints: the log was signed with tradingdesk.io/audit/")
        await again.append(items("a" * 32, range(5, 8)))  # recording goes on into the spool
        with pytest.raises(SealFailed, match="give compliance the log's key"):
            await again.seal(timeout=1)
    finally:
        await again.stop(upload_timeout=0.2)


async def test_a_segment_uploaded_by_two_callers_at_once_is_sealed_once(tmp_path: Path) -> None:
    """``stop`` uploads what is pending while an upload the cancelled uploader started may still run in its
    thread: the second caller finds the segment sealed and leaves it (they used to write one temporary file)."""
    bucket_dir = tmp_path / "bucket" / "test-desk"
    trail = new_trail(tmp_path, bucket_dir)
    await trail.start()
    await trail.append(items("a" * 32, range(1, 20)))
    for task in trail._tasks:  # no uploader of its own: the two callers below are the only ones
        task.cancel()
    await trail.cut()
    assert trail.spool is not None
    ((start, end),) = trail.spool.pending()
    await asyncio.gather(*(asyncio.to_thread(trail._upload, start, end) for _ in range(4)))
    assert trail.spool.pending() == [] and trail.sealed_size == end
    await trail.stop()
    key = load_signer(desk_name="test-desk", data_dir=tmp_path, environ={}).verifier()
    report = verify_bucket(FilesystemBucket(bucket_dir), key)
    assert report.ok and report.records == end, [str(p) for p in report.problems]


async def test_rows_a_crashed_index_database_lost_are_indexed_again(tmp_path: Path) -> None:
    """The index commits without waiting for the disk: a database server that crashes may lose its last rows
    while later ones arrive after it is back. The hole is found and filled from the spool."""
    trail = new_trail(tmp_path, tmp_path / "bucket" / "test-desk")
    await trail.start()
    try:
        for seqs in (range(1, 10), range(10, 30), range(30, 40)):
            await trail.append(items("a" * 32, seqs))
        index = trail.index
        size = trail.spool.size
        assert index.first_missing(size) == size == 40  # nothing missing
        with index._engine.begin() as conn:  # what the crash took: records 12 to 24
            conn.execute(audit_log.delete().where(audit_log.c.log_index.between(12, 24)))
        assert index.first_missing(size) == 12 and index.first_missing(12) == 12
        await asyncio.to_thread(trail._refill_index)
        assert index.first_missing(size) == size and index.size() == size
        assert [e.seq for e in index.query(order_id=None, limit=100)][12:25] == list(range(12, 25))
    finally:
        await trail.stop()
