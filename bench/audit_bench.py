"""Audit trail benchmarks: durable append, offline verification, and Seal latency, each against the floor the
disk and the hash function set in the same run.

- ``audit_append_rate``: records/s into the spool (encode, leaf hash, node hashes, write, fdatasync per batch of
  2,000, the journal stream's batch) vs a plain append of the same bytes with the same fdatasync per batch.
- ``audit_ingest_rate``: the compliance service's whole write path (spool and query index) vs the same floor.
- ``audit_ingest_headroom``: the same rate against twice the order session's journal record rate
  (``order_session_rate`` of this run x 2 records per resting order); a ratio >= 1 keeps up at twice that rate.
- ``audit_verify_rate``: records/s that ``verify`` checks from a filesystem bucket vs reading the same files and
  hashing every line once (the least any verifier must do).
- ``audit_seal_p99_ms``: ``Seal`` of 1,000 fresh records into a filesystem bucket (cut, sign, write the
  segment, upload, record it) vs writing the same bytes to a file with fsync and rename.

``python -m bench.audit_bench append [RUNS]`` runs only the append figure, RUNS times (12 by default), and prints
each ratio to its floor and their median.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import Engine

from bench.report import figure
from tradingdesk.audit.checkpoint import SignerKey
from tradingdesk.audit.fs_bucket import FilesystemBucket
from tradingdesk.audit.record import (
    KIND_INCARNATION,
    SOURCE_COMPLIANCE,
    SOURCE_JOURNAL,
    Entry,
    canonical_payload,
    encode_payload,
    encode_records,
)
from tradingdesk.audit.segment import parse_segment
from tradingdesk.audit.spool import Spool
from tradingdesk.audit.verify import verify_bucket
from tradingdesk.compliance.trail import AuditTrail, Indexed, upload_segment
from tradingdesk.spec.model import AuditCheckpointSpec
from tradingdesk.storage.audit_store import AuditStore
from tradingdesk.storage.db import make_engine, migrate

BATCH = 2_000
BATCHES = 60
SEALS = 40
SEAL_RECORDS = 1_000
RECORDS_PER_RESTING_ORDER = 2  # pending_new and new
TS0 = 1_767_225_600_000_000_000
INCARNATION = "b" * 32


def entries(n: int, start: int = 0) -> list[Indexed]:
    """``n`` records: the journal events of resting orders with seqs ``start`` on, after the incarnation record in
    place of seq 0."""
    out = []
    if start == 0:
        started = encode_payload({"previous": "", "previous_last_seq": 0})
        out.append(Indexed(Entry(TS0, SOURCE_COMPLIANCE, INCARNATION, 0, KIND_INCARNATION, "", started)))
    for i in range(max(start, 1), start + n):
        payload = {
            "client_order_id": f"s-{i}",
            "account": "ACC-EQ-1",
            "strategy": "",
            "symbol": "AAPL",
            "side": "BUY",
            "order_type": "LIMIT",
            "qty": "100",
            "price": "187.61",
            "tif": "DAY",
            "expire_ns": 0,
            "created_ns": TS0 + i,
            "status": "NEW",
            "cum_qty": "0",
            "cum_notional": "0",
            "avg_price": "0",
            "leaves_qty": "100",
            "fees": "0",
            "venue": "xnas",
        }
        entry = Entry(
            TS0 + i, SOURCE_JOURNAL, INCARNATION, i, "new", f"O-{i:012d}", canonical_payload(encode_payload(payload))
        )
        out.append(Indexed(entry, "ACC-EQ-1", "AAPL"))
    return out


def plain_append_rate(path: Path, batches: list[bytes]) -> float:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    started = time.perf_counter()
    for data in batches:
        os.write(fd, data)
        os.fdatasync(fd)
    elapsed = time.perf_counter() - started
    os.close(fd)
    return BATCH * len(batches) / elapsed


def spool_append_rate(spool: Spool, batches: list[list[Indexed]]) -> tuple[float, list[bytes]]:
    """As the compliance service appends: each batch is encoded and written while the previous one syncs, and
    the records it returns are dropped once used (the service indexes them). The bytes written come back for
    the floor's run, encoded again after the clock stops."""
    first = spool.size
    with ThreadPoolExecutor(1) as disk:
        started = time.perf_counter()
        syncing = None
        for batch in batches:
            spool.write([i.entry for i in batch])
            if syncing is not None:
                syncing.result()
            syncing = disk.submit(spool.sync)
        syncing.result()
        rate = BATCH * len(batches) / (time.perf_counter() - started)
    written, start = [], first
    for batch in batches:
        data, _ = encode_records(start, [i.entry for i in batch])
        written.append(data)
        start += len(batch)
    assert b"".join(written) == b"".join(r + b"\n" for r in spool.records(first, start)), "not what the spool wrote"
    return rate, written


def new_trail(home: Path, signer: SignerKey, cadence: AuditCheckpointSpec) -> tuple[AuditTrail, Engine]:
    """The compliance service's audit trail under ``home``: spool, SQLite index, filesystem bucket."""
    engine = make_engine(f"sqlite:///{home / 'compliance.db'}", durable=False)
    migrate(engine)
    trail = AuditTrail(
        spool_dir=home / "spool",
        index=AuditStore(engine),
        bucket=FilesystemBucket(home / "bucket" / "bench"),
        signer=lambda: signer,
        cadence=cadence,
        retention_days=1,
    )
    return trail, engine


async def ingest_rate(tmp: Path, signer: SignerKey, batches: list[list[Indexed]]) -> float:
    """The compliance service's write path: ``AuditTrail.append`` (spool, then query index), with the cutter
    and the uploader sealing every 10,000 records into a filesystem bucket in the background."""
    trail, engine = new_trail(tmp / "ingest", signer, AuditCheckpointSpec())
    await trail.start()
    try:
        started = time.perf_counter()
        for batch in batches:
            await trail.append(batch)
        return BATCH * len(batches) / (time.perf_counter() - started)
    finally:
        await trail.stop()
        engine.dispose()


def verify_rates(tmp: Path, spool: Spool, signer: SignerKey) -> tuple[float, float]:
    bucket = FilesystemBucket(tmp / "bucket" / "bench")
    bucket.prepare(1)
    for k in range(4):  # four segments out of the records appended before
        spool.append([i.entry for i in entries(BATCH, (BATCHES + k) * BATCH)])
        spool.cut(signer=signer, origin=signer.name, retain_until="2099-01-01T00:00:00Z")
    for start, end in spool.pending():
        upload_segment(spool, bucket, start, end)
    files = sorted((bucket.root / "segments").iterdir())
    started = time.perf_counter()
    n = 0
    for f in files:
        _, lines = parse_segment(f.read_bytes())
        for line in lines:
            hashlib.sha256(b"\x00" + line).digest()
            n += 1
    floor = n / (time.perf_counter() - started)
    started = time.perf_counter()
    report = verify_bucket(bucket, signer.verifier())
    rate = report.records / (time.perf_counter() - started)
    assert report.ok, report.problems[:3]
    return rate, floor


async def seal_latencies(tmp: Path, signer: SignerKey) -> tuple[list[float], list[float]]:
    trail, engine = new_trail(tmp / "seal", signer, AuditCheckpointSpec(every_records=10_000_000, every_seconds=86_400))
    await trail.start()
    ours, floor = [], []
    try:
        for n in range(SEALS):
            await trail.append(entries(SEAL_RECORDS, n * SEAL_RECORDS))
            started = time.perf_counter()
            await trail.seal(timeout=30)
            ours.append((time.perf_counter() - started) * 1000)
            data = trail.spool.segment_path(*trail.spool.cuts[-1]).read_bytes()
            started = time.perf_counter()
            target = tmp / f"floor-{n}.seg"
            with open(target.with_suffix(".tmp"), "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(target.with_suffix(".tmp"), target)
            floor.append((time.perf_counter() - started) * 1000)
    finally:
        await trail.stop()
        engine.dispose()
    return ours, floor


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def append_ratios(runs: int) -> list[float]:
    """``audit_append_rate`` against its floor, ``runs`` times over fresh spools: one run moves with the disk
    (the floor alone swung between 0.95M and 2.3M records/s from run to run here), a median of many does not."""
    ratios = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="td-audit-bench-", dir=os.environ.get("TD_BENCH_TMP")) as name:
            tmp = Path(name)
            spool = Spool(tmp / "spool")
            rate, written = spool_append_rate(spool, [entries(BATCH, b * BATCH) for b in range(BATCHES)])
            spool.close()
            ratios.append(rate / plain_append_rate(tmp / "plain.log", written))
    return ratios


def run(previous: list[dict] | None = None) -> list[dict]:
    rows = []
    signer = SignerKey.generate("tradingdesk.io/audit/bench")
    with tempfile.TemporaryDirectory(prefix="td-audit-bench-", dir=os.environ.get("TD_BENCH_TMP")) as name:
        tmp = Path(name)
        batches = [entries(BATCH, b * BATCH) for b in range(BATCHES)]
        spool = Spool(tmp / "spool")
        rate, written = spool_append_rate(spool, batches)
        floor = plain_append_rate(tmp / "plain.log", written)
        rows.append(figure("audit_append_rate", rate, "records/s", floor, lower_is_better=False))

        ingest = asyncio.run(ingest_rate(tmp, signer, batches))
        rows.append(figure("audit_ingest_rate", ingest, "records/s", floor, lower_is_better=False))
        session = next((r for r in previous or [] if r["name"] == "order_session_rate"), None)
        if session is not None:
            needed = 2 * session["value"] * RECORDS_PER_RESTING_ORDER
            rows.append(figure("audit_ingest_headroom", ingest, "records/s", needed, lower_is_better=False))

        verify, verify_floor = verify_rates(tmp, spool, signer)
        spool.close()
        rows.append(figure("audit_verify_rate", verify, "records/s", verify_floor, lower_is_better=False))

        ours, floor_ms = asyncio.run(seal_latencies(tmp, signer))
        rows.append(figure("audit_seal_p99_ms", p99(ours), "ms", p99(floor_ms)))
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["append"]:  # python -m bench.audit_bench append [RUNS]: the append ratio, RUNS times
        ratios = append_ratios(int(sys.argv[2]) if len(sys.argv) > 2 else 12)
        print(" ".join(f"{r:.2f}" for r in ratios), f"median {statistics.median(ratios):.2f}")
    else:
        run()
