"""The audit trail of one desk, running: records in, signed segments sealed into the bucket.

``append`` writes a batch durably into the spool (one fsync) and into the query index. While the index's database
is unreachable (down, restarting, failing over) the index insert is retried until it takes the batch: the batch
is already durable in the spool, the insert skips rows already there, and the caller's position moves only once
it returns, so an outage delays the audit trail and loses nothing. A cutter turns what was
appended into a signed segment every ``everyRecords`` records or ``everySeconds`` seconds; an uploader sends
segments to the bucket in log order, retrying with exponential backoff while the bucket is unreachable (the
segments wait in the spool, across restarts too). A segment counts as sealed only once the bucket accepted
it: ``seal`` returns the checkpoint then, and ``GetCheckpoint`` shows only sealed checkpoints.

A spool lost with its disk is rebuilt from the bucket at start (the bucket is the authority for everything it
holds). A bucket that holds a different segment for a range we cut, or that cannot keep records as the rules
require, stops sealing loudly (``problem``), never silently.

Every failed attempt to seal (an upload the bucket did not accept, a cut without the signing key) is reported
to ``on_seal_failure`` with one of ``SEAL_FAILURE_REASONS``: the compliance service counts them
(``tradingdesk_audit_seal_failures_total``, which the AuditSealFailing alert watches).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.exc import OperationalError

from tradingdesk.audit.bucket import Bucket, BucketConflict, BucketError, BucketMisconfigured, BucketUnavailable
from tradingdesk.audit.checkpoint import Checkpoint, SignerKey, split_note
from tradingdesk.audit.keys import SigningKeyUnavailable
from tradingdesk.audit.record import Entry, decode_record
from tradingdesk.audit.segment import parse_header, parse_segment_name, segment_key
from tradingdesk.audit.spool import Cut, Spool
from tradingdesk.spec.model import AuditCheckpointSpec
from tradingdesk.storage.audit_store import AuditStore, IndexRow

log = logging.getLogger(__name__)
REINDEX_CHUNK = 5_000
HASH_SYNC_INTERVAL_S = 60.0  # bounds what a restart after a power loss recomputes from the segments
INDEX_RETRY_INITIAL_S = 0.05
INDEX_RETRY_MAX_S = 1.0
"""How often the index insert is retried while its database is unreachable: the trail catches up at most this long
after the database is back."""
INDEX_WATCH_S = 1.0
"""How often compliance asks the index's database when it started (one cheap query), to notice a restart."""
SEAL_FAILURE_REASONS = ("unavailable", "conflict", "misconfigured", "error", "signing_key")
"""Why a seal attempt failed: the bucket could not be reached or answered with a transient error; it holds
other bytes for the range; it cannot keep records as the rules require; another bucket or disk error; no
signing key (nothing can be cut)."""


def seal_failure_reason(exc: BaseException) -> str:
    """The ``SEAL_FAILURE_REASONS`` entry for an exception of a seal attempt."""
    if isinstance(exc, SigningKeyUnavailable):
        return "signing_key"
    if isinstance(exc, BucketUnavailable):
        return "unavailable"
    if isinstance(exc, BucketConflict):
        return "conflict"
    if isinstance(exc, BucketMisconfigured):
        return "misconfigured"
    return "error"


class SealFailed(RuntimeError):
    """The segment could not be sealed in time; the records are safe in the spool."""


@dataclass(frozen=True, slots=True)
class Indexed:
    """An entry with the fields the query index pulls out of its payload."""

    entry: Entry
    account: str = ""
    symbol: str = ""
    traceparent: str = ""
    """The order's trace context when routing sent one (for a span, never stored)."""


def checkpoint_of(note: str) -> Checkpoint:
    """The checkpoint in a signed note we wrote ourselves (its signature is not checked here)."""
    text, _ = split_note(note)
    return Checkpoint.parse(text)


def upload_segment(spool: Spool, bucket: Bucket, start: int, end: int) -> None:
    """Put one cut segment into the bucket, with the retention its header asks for; then it is sealed."""
    data = spool.segment_path(start, end).read_bytes()
    header = parse_header(data[: data.index(b"\n")])
    retain_until = datetime.fromisoformat(header.retain_until.replace("Z", "+00:00"))
    bucket.put_once(segment_key(start, end), data, retain_until=retain_until)
    spool.mark_sealed(end, header.checkpoint)


def index_row(raw: bytes) -> IndexRow:
    rec = decode_record(raw)
    return IndexRow(
        rec.index,
        rec.incarnation,
        rec.seq,
        rec.ts_ns,
        rec.source,
        rec.kind,
        rec.order_id,
        rec.account,
        rec.symbol,
        raw.decode("ascii"),
    )


class AuditTrail:
    def __init__(
        self,
        *,
        spool_dir: Path,
        index: AuditStore,
        bucket: Bucket,
        signer: Callable[[], SignerKey],
        cadence: AuditCheckpointSpec,
        retention_days: int,
        retry_initial_s: float = 0.2,
        retry_max_s: float = 30.0,
    ) -> None:
        self.spool_dir = spool_dir
        self.index = index
        self.bucket = bucket
        self._load_signer = signer
        self.cadence = cadence
        self.retention_days = retention_days
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.spool: Spool | None = None
        self.signer: SignerKey | None = None
        self.problem = ""
        """Why sealing stopped (no signing key, a conflicting or misconfigured bucket); empty while it works."""
        self.last_upload_error = ""
        self.on_problem: Callable[[str], None] = lambda _reason: None
        self.on_seal_failure: Callable[[str], None] = lambda _reason: None
        """Called with a ``SEAL_FAILURE_REASONS`` entry each time a cut or an upload fails."""
        self._lock = asyncio.Lock()  # one spool writer at a time: append, cut
        self._cut_wanted = asyncio.Event()
        self._upload_wanted = asyncio.Event()
        self._sealed = asyncio.Condition()
        self._oldest_unsealed: float | None = None  # monotonic time of the first record since the last cut
        self._prepared = False
        self._hashes_synced_at = time.monotonic()
        self._tasks: list[asyncio.Task] = []
        self._uploading = threading.Lock()

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self.spool = await asyncio.to_thread(Spool, self.spool_dir)
        if self.spool.size == 0:
            await self._recover_from_bucket()
        with contextlib.suppress(SigningKeyUnavailable):  # recorded as the problem; records still go in
            self._try_signer()
        await asyncio.to_thread(self._reindex)
        if self.spool.size > self.spool.cut_size:
            self._oldest_unsealed = time.monotonic()
        if self.spool.pending():
            self._upload_wanted.set()
        self._tasks = [
            asyncio.create_task(self._cutter(), name="audit-cutter"),
            asyncio.create_task(self._uploader(), name="audit-uploader"),
        ]
        if (
            await asyncio.to_thread(self.index.server_started) is not None
        ):  # SQLite: a crashed process loses no commit, nothing to watch
            self._tasks.append(asyncio.create_task(self._watch_index_restarts(), name="audit-index-watch"))

    async def stop(self, upload_timeout: float = 5.0) -> None:
        """Cut what is open and give the bucket a few seconds to take it; whatever it does not take is
        uploaded at the next start. Records are durable in the spool either way."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        spool = self.spool
        if spool is None:
            return
        with contextlib.suppress(SigningKeyUnavailable):
            await self.cut()
        try:
            async with asyncio.timeout(upload_timeout):
                await self._upload_pending()
        except (TimeoutError, BucketError, OSError) as exc:
            log.warning("audit trail: %d segments stay in the spool for the next start: %s", len(spool.pending()), exc)
        await asyncio.to_thread(spool.close)

    async def _upload_pending(self) -> None:
        assert self.spool is not None
        for start, end in self.spool.pending():
            await asyncio.to_thread(self._upload, start, end)

    # ---------------------------------------------------------------- state

    @property
    def size(self) -> int:
        return self.spool.size if self.spool else 0

    @property
    def sealed_size(self) -> int:
        return self.spool.sealed_size if self.spool else 0

    @property
    def sealed_checkpoint(self) -> str:
        return self.spool.sealed_checkpoint if self.spool else ""

    def _set_problem(self, reason: str) -> None:
        if reason != self.problem:
            if reason:
                log.error("audit trail: %s", reason)
            else:
                log.warning("audit trail: sealing works again")
            self.problem = reason
            self.on_problem(reason)

    def _try_signer(self) -> SignerKey:
        """The signing key, loaded on first need (a Secret may be mounted after the pod started). It must be
        the key the log was signed with so far: one log, one key (an auditor holds one public key)."""
        if self.signer is None:
            try:
                signer = self._load_signer()
                self._check_same_key(signer)
            except SigningKeyUnavailable as exc:
                self._set_problem(f"cannot sign checkpoints: {exc}")
                raise
            self.signer = signer
            if self.problem.startswith("cannot sign"):
                self._set_problem("")
        return self.signer

    def _check_same_key(self, signer: SignerKey) -> None:
        spool = self.spool
        if spool is None or not spool.cuts:
            return
        with open(spool.segment_path(*spool.cuts[-1]), "rb") as f:
            signed_with = parse_header(f.readline().rstrip(b"\n")).public_key
        if signed_with != str(signer.verifier()):
            raise SigningKeyUnavailable(
                f"the log was signed with {signed_with}, not with this key ({signer.verifier()}): "
                "give compliance the log's key, or a new bucket and spool for a new log"
            )

    # ---------------------------------------------------------------- writing

    async def append(self, items: list[Indexed]) -> int:
        """Durably append ``items`` (one fsync) and index them; returns the log index of the first.

        Only the encoding and the write hold the lock: the fsync and the index insert run outside it, so the
        next batch is encoded while the disk takes this one."""
        spool = self.spool
        assert spool is not None
        try:
            async with self._lock:
                first = spool.size
                raws = await asyncio.to_thread(spool.write, [i.entry for i in items])
            await asyncio.to_thread(spool.sync)
        except Exception as exc:
            self._set_problem(f"the spool cannot record ({exc}): restart compliance once the disk is fixed")
            raise
        await self._index(first, items, raws)
        if self._oldest_unsealed is None:
            self._oldest_unsealed = time.monotonic()
            self._cut_wanted.set()  # the cutter starts timing this record's wait
        if spool.size - spool.cut_size >= self.cadence.every_records:
            self._cut_wanted.set()
        return first

    async def _index(self, first: int, items: list[Indexed], raws: list[bytes]) -> None:
        """Index a batch already durable in the spool, retrying while the database is unreachable."""
        rows = [
            IndexRow(index, e.incarnation, e.seq, e.ts_ns, e.source, e.kind, e.order_id, item.account, item.symbol,
                     raw.decode("ascii"))
            for index, (item, e, raw) in enumerate(zip(items, [i.entry for i in items], raws, strict=True), first)
        ]  # fmt: skip
        delay, failing = INDEX_RETRY_INITIAL_S, False
        while True:
            try:
                await asyncio.to_thread(self.index.insert_many, rows)
            except OperationalError as exc:
                if not failing:
                    log.warning("audit trail: the index cannot take records %d-%d, retrying: %s", first,
                                first + len(rows) - 1, str(exc).splitlines()[0])  # fmt: skip
                failing = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, INDEX_RETRY_MAX_S)
                continue
            if failing:
                log.warning("audit trail: the index took records %d-%d again", first, first + len(rows) - 1)
            return

    async def _watch_index_restarts(self) -> None:
        """Refill the index whenever its database server restarted (crash, failover): its last commits before
        that may be gone, and nothing else would notice the hole."""
        started = None
        while True:
            with contextlib.suppress(OperationalError):
                now = await asyncio.to_thread(self.index.server_started)
                if started is not None and now != started:
                    log.warning("audit trail: the index's database restarted (at %s); checking for lost rows", now)
                    await asyncio.to_thread(self._refill_index)
                started = now
            await asyncio.sleep(INDEX_WATCH_S)

    def _refill_index(self) -> None:
        """After the index's database was unreachable: index again what it may have lost in its crash (its commits
        do not wait for the disk), from the first log index it misses; rows already there are skipped."""
        spool = self.spool
        assert spool is not None
        end = spool.size
        start = self.index.first_missing(end)
        self._index_records(start, end)
        if start < end:
            log.warning("audit trail: indexed records %d-%d again after the database was back", start, end - 1)

    async def cut(self) -> Cut | None:
        """Turn everything appended since the last cut into a signed segment (uploaded in the background)."""
        spool = self.spool
        assert spool is not None
        async with self._lock:
            if spool.size == spool.cut_size:
                return None
            signer = self._try_signer()
            retain_until = (datetime.now(UTC) + timedelta(days=self.retention_days)).replace(microsecond=0)
            cut = await asyncio.to_thread(
                spool.cut, signer=signer, origin=signer.name, retain_until=retain_until.strftime("%Y-%m-%dT%H:%M:%SZ")
            )
            self._oldest_unsealed = None
        self._upload_wanted.set()
        return cut

    async def seal(self, *, timeout: float) -> str:
        """Cut now and wait until the bucket accepted everything cut; the newest sealed checkpoint."""
        spool = self.spool
        assert spool is not None
        try:
            await self.cut()
        except SigningKeyUnavailable as exc:
            self.on_seal_failure(seal_failure_reason(exc))
            raise SealFailed(str(exc)) from None
        target = spool.cut_size
        async with self._sealed:
            try:
                async with asyncio.timeout(timeout):
                    await self._sealed.wait_for(lambda: spool.sealed_size >= target)
            except TimeoutError:
                why = self.problem or self.last_upload_error or "the upload is still in progress"
                raise SealFailed(
                    f"segments up to {target} are in the spool but not yet in {self.bucket.description}: {why}"
                ) from None
        return spool.sealed_checkpoint

    # ---------------------------------------------------------------- background

    async def _cutter(self) -> None:
        while True:
            timeout = None
            if self._oldest_unsealed is not None:
                timeout = max(0.0, self._oldest_unsealed + self.cadence.every_seconds - time.monotonic())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):  # not wait_for: on 3.11 it can hang a cancelled task
                    await self._cut_wanted.wait()
            self._cut_wanted.clear()
            spool = self.spool
            assert spool is not None
            due = self._oldest_unsealed is not None and (
                time.monotonic() - self._oldest_unsealed >= self.cadence.every_seconds
                or spool.size - spool.cut_size >= self.cadence.every_records
            )
            if not due:
                continue
            try:
                await self.cut()
            except SigningKeyUnavailable as exc:
                self.on_seal_failure(seal_failure_reason(exc))
                await asyncio.sleep(self.retry_max_s)  # try the key again later; records stay in the spool
            except Exception as exc:
                self.on_seal_failure(seal_failure_reason(exc))
                log.exception("audit trail: cutting a segment failed; retrying")
                await asyncio.sleep(self.retry_initial_s)
                self._cut_wanted.set()

    async def _uploader(self) -> None:
        delay = self.retry_initial_s
        while True:
            await self._upload_wanted.wait()
            self._upload_wanted.clear()
            spool = self.spool
            assert spool is not None
            while pending := spool.pending():
                start, end = pending[0]
                try:
                    await asyncio.to_thread(self._upload, start, end)
                except BucketUnavailable as exc:
                    self.on_seal_failure(seal_failure_reason(exc))
                    self.last_upload_error = str(exc)
                    log.warning("audit trail: upload of %d-%d failed, retry in %.1fs: %s", start, end, delay, exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.retry_max_s)
                    continue
                except (BucketError, OSError) as exc:
                    self.on_seal_failure(seal_failure_reason(exc))
                    kind = "conflict" if isinstance(exc, BucketConflict) else "error"
                    self.last_upload_error = str(exc)
                    self._set_problem(f"bucket {kind} sealing records {start}-{end}: {exc}")
                    await asyncio.sleep(self.retry_max_s)
                    continue
                delay = self.retry_initial_s
                self.last_upload_error = ""
                if time.monotonic() - self._hashes_synced_at > HASH_SYNC_INTERVAL_S:
                    await asyncio.to_thread(spool.sync_hashes)
                    self._hashes_synced_at = time.monotonic()
                if self.problem.startswith("bucket"):
                    self._set_problem("")
                async with self._sealed:
                    self._sealed.notify_all()

    def _upload(self, start: int, end: int) -> None:
        """Seal one segment into the bucket. One upload at a time: ``stop`` cancels the uploader task, but an
        upload it started in a thread runs on, and ``stop`` then uploads what is pending itself; both writing
        the same segment through the same temporary file lost one of them (seen in a benchmark run)."""
        spool = self.spool
        assert spool is not None
        with self._uploading:
            if (start, end) not in spool.pending():
                return  # sealed meanwhile by the other caller
            self._upload_one(spool, start, end)

    def _upload_one(self, spool: Spool, start: int, end: int) -> None:
        if not self._prepared:
            self.bucket.prepare(self.retention_days)
            self._prepared = True
        upload_segment(spool, self.bucket, start, end)
        log.info("audit trail: sealed records %d to %d into %s", start, end - 1, self.bucket.description)

    # ---------------------------------------------------------------- recovery

    async def _recover_from_bucket(self) -> None:
        """An empty spool with a bucket that holds segments: the disk was lost. Take the bucket's log back."""
        try:
            objects = await asyncio.to_thread(self.bucket.segments)
        except BucketError as exc:
            log.warning("audit trail: cannot list %s at start (%s); starting from the local spool", self.bucket, exc)
            return
        ranges = sorted(r for o in objects if (r := parse_segment_name(o.key)) is not None)
        if not ranges:
            return
        spool = self.spool
        assert spool is not None
        for start, end in ranges:
            if start != spool.cut_size:
                self._set_problem(f"the bucket's segments jump from {spool.cut_size} to {start}: run audit verify")
                return
            data, _ = await asyncio.to_thread(self.bucket.read, segment_key(start, end))
            await asyncio.to_thread(spool.adopt, start, end, data)
        log.warning("audit trail: rebuilt the local spool from %s: %d records", self.bucket.description, spool.size)

    def _index_records(self, start: int, end: int) -> None:
        """Index the log's records ``[start, end)``, ``REINDEX_CHUNK`` rows to an insert, reading them in one pass
        (the open range is read back from the spool's file once, not once a chunk)."""
        assert self.spool is not None
        batch: list[IndexRow] = []
        for raw in self.spool.records(start, end):
            batch.append(index_row(raw))
            if len(batch) >= REINDEX_CHUNK:
                self.index.insert_many(batch)
                batch = []
        if batch:
            self.index.insert_many(batch)

    def _reindex(self) -> None:
        """Bring the query index level with the log (its commits are not fsync'd, so it may lag a crash)."""
        spool = self.spool
        assert spool is not None
        have = self.index.size()
        if have > spool.size:
            dropped = self.index.drop_from(spool.size)
            log.warning("audit trail: dropped %d index rows beyond the log's %d records", dropped, spool.size)
            return
        self._index_records(have, spool.size)
        if spool.size > have:
            log.info("audit trail: indexed records %d-%d", have, spool.size - 1)


__all__ = [
    "SEAL_FAILURE_REASONS",
    "AuditTrail",
    "Indexed",
    "SealFailed",
    "checkpoint_of",
    "index_row",
    "seal_failure_reason",
    "upload_segment",
]
