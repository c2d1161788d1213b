"""Interoperability: our checkpoints, trees and proofs checked by the Go team's golang.org/x/mod/sumdb/note and
tlog (tests/audit/goverify), a verifier nobody here wrote."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

from tests.audit.logs import build_log
from tradingdesk.audit.merkle import consistency_proof, inclusion_proof, root_hash


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def run(goverify: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(goverify), *args], capture_output=True, text=True, timeout=60)


def test_go_recomputes_every_segment_and_opens_every_checkpoint(goverify: Path, tmp_path: Path) -> None:
    _, bucket, signer = build_log(tmp_path, segments=5, per_segment=37)
    done = run(goverify, "bucket", str(signer.verifier()), str(bucket.root))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("ok: 185 records in 5 segments")


def proofs_file(spool, tmp_path: Path, *, damage: bool = False) -> Path:
    hashes = spool.hashes
    sizes = [end for _, end in spool.cuts]
    doc = {"checkpoints": [spool.checkpoint_at(s) for s in sizes], "inclusion": [], "consistency": []}
    for size in sizes:
        for index in sorted({0, 1, size // 2, size - 2, size - 1}):
            record = next(spool.records(index, index + 1))
            proof = inclusion_proof(hashes, index, size)
            if damage and proof:
                proof[0] = bytes(32)
            doc["inclusion"].append(
                {"index": index, "tree_size": size, "record": b64(record), "hashes": [b64(h) for h in proof]}
            )
    for old in range(1, sizes[-1] + 1, 7):
        for new in (s for s in sizes if s >= old):
            proof = consistency_proof(hashes, old, new)
            doc["consistency"].append(
                {
                    "old_size": old,
                    "new_size": new,
                    "old_root": b64(root_hash(hashes, old)),
                    "hashes": [b64(h) for h in proof],
                }
            )
    path = tmp_path / ("damaged.json" if damage else "proofs.json")
    path.write_text(json.dumps(doc))
    return path


def test_go_accepts_our_inclusion_and_consistency_proofs(goverify: Path, tmp_path: Path) -> None:
    spool, _, signer = build_log(tmp_path, segments=4, per_segment=29)
    done = run(goverify, "proofs", str(signer.verifier()), str(proofs_file(spool, tmp_path)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok: 20 inclusion and" in done.stdout


def test_go_refuses_a_damaged_proof_and_a_stranger_key(goverify: Path, tmp_path: Path) -> None:
    from tradingdesk.audit.checkpoint import SignerKey

    spool, bucket, signer = build_log(tmp_path, segments=2, per_segment=10)
    damaged = run(goverify, "proofs", str(signer.verifier()), str(proofs_file(spool, tmp_path, damage=True)))
    assert damaged.returncode == 1 and "CheckRecord" in damaged.stderr
    stranger = SignerKey.generate(signer.name).verifier()
    refused = run(goverify, "bucket", str(stranger), str(bucket.root))
    assert refused.returncode == 1 and "note.Open" in refused.stderr
