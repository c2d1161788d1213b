"""``verify`` on a filesystem bucket: an intact log passes, and each kind of damage is caught and placed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.audit.logs import (
    TS0,
    build_log,
    journal_entries,
    lines_of,
    rewrite,
    seal_all,
    segment_files,
    with_lines,
    writable,
)
from tradingdesk.audit import spool as spool_module
from tradingdesk.audit.checkpoint import SignerKey
from tradingdesk.audit.fs_bucket import FilesystemBucket
from tradingdesk.audit.merkle import leaf_hashes
from tradingdesk.audit.record import (
    KIND_INCARNATION,
    SOURCE_COMPLIANCE,
    SOURCE_RISK,
    Entry,
    RecordError,
    decode_record,
    encode_payload,
    encode_records,
)
from tradingdesk.audit.segment import parse_header
from tradingdesk.audit.spool import Spool
from tradingdesk.audit.verify import VerifyReport, verify_bucket


@pytest.fixture
def log(tmp_path: Path):
    _spool, bucket, signer = build_log(tmp_path)
    return bucket, signer.verifier(), tmp_path / "bucket" / "test-desk"


def check(log) -> VerifyReport:
    bucket, key, _ = log
    return verify_bucket(FilesystemBucket(bucket.root), key)


def problems(report: VerifyReport) -> list[str]:
    return [str(p) for p in report.problems]


def test_an_intact_log_verifies(log) -> None:
    report = check(log)
    assert report.ok, problems(report)
    assert (report.segments, report.records, report.tree_size) == (4, 100, 100)
    assert report.incarnations == ["a" * 32, "b" * 32]
    assert report.last_checkpoint.startswith("tradingdesk.io/audit/test-desk\n100\n")


def test_a_flipped_byte_in_one_record_is_named(log) -> None:
    seg = segment_files(log[2])[1]
    lines = lines_of(seg)
    lines[8] = lines[8].replace(b"189.50", b"189.51")  # record 25 + 7 = 32
    with_lines(seg, lines)
    assert problems(check(log)) == [f"segments/{seg.name} record 32: does not hash to its leaf: the record was altered"]


def test_a_removed_record_is_named(log) -> None:
    seg = segment_files(log[2])[2]
    lines = lines_of(seg)
    del lines[11]  # record 50 + 10 = 60
    with_lines(seg, lines)
    found = problems(check(log))
    assert f"segments/{seg.name}: holds 24 records, its range needs 25: records 74 to 74 are missing" in found
    assert f"segments/{seg.name} record 60: holds record 61: records were moved or removed" in found


def test_two_swapped_records_are_named(log) -> None:
    seg = segment_files(log[2])[0]
    lines = lines_of(seg)
    lines[3], lines[4] = lines[4], lines[3]  # records 2 and 3
    with_lines(seg, lines)
    found = problems(check(log))
    assert found == [
        f"segments/{seg.name} record 2: holds record 3: records were moved or removed",
        f"segments/{seg.name} record 3: holds record 2: records were moved or removed",
    ]


def test_a_missing_segment_is_named(log) -> None:
    seg = segment_files(log[2])[1]
    seg.unlink()
    after = segment_files(log[2])[1]
    assert problems(check(log)) == [f"segments/{after.name}: records 25 to 49 are missing: no segment covers them"]


def test_a_segment_re_signed_with_another_key_is_refused(log, tmp_path: Path) -> None:
    _, other_bucket, _ = build_log(tmp_path / "other")
    seg = segment_files(log[2])[1]
    forged = (other_bucket.root / "segments" / seg.name).read_bytes()
    rewrite(seg, forged)
    found = problems(check(log))
    assert len(found) == 1
    assert found[0].startswith(f"segments/{seg.name}: checkpoint: not signed by the trusted key tradingdesk.io/")


def test_a_truncated_tail_is_named(log) -> None:
    seg = segment_files(log[2])[-1]
    data = seg.read_bytes()
    rewrite(seg, data[: len(data) - 40])  # cut into the last record, 99
    assert problems(check(log)) == [f"segments/{seg.name} record 99: the object is truncated: line 26 has no end"]


def test_a_truncated_tail_at_a_line_boundary_is_named(log) -> None:
    seg = segment_files(log[2])[-1]
    with_lines(seg, lines_of(seg)[:-3])
    found = problems(check(log))
    assert f"segments/{seg.name}: holds 22 records, its range needs 25: records 97 to 99 are missing" in found


def test_a_checkpoint_smaller_than_the_one_before_is_refused(log) -> None:
    files = segment_files(log[2])
    first = parse_header(lines_of(files[0])[0])
    lines = lines_of(files[2])
    header = parse_header(lines[0])
    old = type(header)(**{**{f: getattr(header, f) for f in header.__slots__}, "checkpoint": first.checkpoint})
    with_lines(files[2], [old.to_json().encode(), *lines[1:]])
    found = problems(check(log))
    assert f"segments/{files[2].name}: checkpoint tree size 25 is smaller than the previous 50" in found


def test_a_duplicated_segment_is_named(log) -> None:
    seg = segment_files(log[2])[1]
    copy = seg.with_name(seg.name + ".copy")
    shutil.copy(seg, copy)
    assert problems(check(log)) == [f"segments/{copy.name}: is not a segment name: a copied or foreign object"]


def test_a_segment_under_an_overlapping_range_is_named(log) -> None:
    seg = segment_files(log[2])[1]
    overlapping = seg.with_name(f"{20:020d}-{50:020d}.seg")
    shutil.copy(seg, overlapping)
    assert problems(check(log)) == [f"segments/{overlapping.name}: overlaps the previous segments: records 20-25"]


def test_a_writable_segment_file_is_reported(log) -> None:
    seg = segment_files(log[2])[0]
    writable(seg)
    assert problems(check(log)) == [
        f"segments/{seg.name}: is not protected (retention none): it can be changed or deleted"
    ]


def test_the_wrong_public_key_fails_every_segment(log, tmp_path: Path) -> None:
    bucket, _, _ = log
    stranger = SignerKey.generate("tradingdesk.io/audit/test-desk").verifier()
    report = verify_bucket(FilesystemBucket(bucket.root), stranger)
    assert len(report.problems) == 4 and all("not signed by the trusted key" in str(p) for p in report.problems)


def risk_entries(incarnation: str, seqs: range) -> list:
    """Risk change journal records (source ``risk``), after the incarnation record that names the source."""
    out = []
    if seqs.start == 1:
        start = encode_payload({"source": "risk", "previous": "", "previous_last_seq": 0})
        out.append(Entry(TS0, SOURCE_COMPLIANCE, incarnation, 0, KIND_INCARNATION, "", start))
    for s in seqs:
        change = {"v": 1, "type": "trading_state", "state": "HALTED", "door": "cli", "actor": "ops", "reason": "r"}
        out.append(Entry(TS0 + s, SOURCE_RISK, incarnation, s, "trading_state", "", encode_payload(change)))
    return out


def version_1_records(first_index: int, entries: list[Entry]) -> tuple[bytes, list[bytes]]:
    """``encode_records`` as the first version of the format wrote them (``"v":1``)."""
    _, records = encode_records(first_index, entries)
    records = [r.replace(b'{"v":2,', b'{"v":1,', 1) for r in records]
    return b"".join(r + b"\n" for r in records), records


def version_1_encoded(first_index: int, entries: list[Entry]) -> tuple[bytes, list[bytes], bytes]:
    """``spool.encode_and_hash`` as the first version of the format would give it."""
    data, records = version_1_records(first_index, entries)
    return data, records, b"".join(leaf_hashes(records))


def test_each_source_journal_runs_on_its_own_and_a_risk_gap_is_named(tmp_path: Path, monkeypatch) -> None:
    """Version 1 records (written before risk was a source) then version 2 records of two sources interleaved:
    each source's seqs are checked on their own; a risk change missing between two is named."""
    signer = SignerKey.generate("tradingdesk.io/audit/test-desk")
    bucket = FilesystemBucket(tmp_path / "bucket" / "test-desk")
    bucket.prepare(30)
    spool = Spool(tmp_path / "spool")
    journal = "a" * 32
    with monkeypatch.context() as m:  # a log begun by the first version of the format
        m.setattr(spool_module, "encode_and_hash", version_1_encoded)
        spool.append(journal_entries(journal, range(1, 6)))
        seal_all(spool, bucket, signer)
    spool.append(journal_entries(journal, range(6, 9)) + risk_entries("r" * 32, range(1, 4)))
    spool.append(journal_entries(journal, range(9, 11)) + risk_entries("r" * 32, range(4, 6)))
    seal_all(spool, bucket, signer)
    first = segment_files(bucket.root)[0]
    assert lines_of(first)[1].startswith(b'{"v":1,') and lines_of(segment_files(bucket.root)[1])[1].startswith(
        b'{"v":2,'
    )
    report = verify_bucket(bucket, signer.verifier())
    assert report.ok, problems(report)
    assert report.sources == {"journal": [journal], "risk": ["r" * 32]}

    spool.append(risk_entries("r" * 32, range(7, 8)))  # risk seq 6 never recorded
    seal_all(spool, bucket, signer)
    last = segment_files(bucket.root)[-1]
    assert problems(verify_bucket(bucket, signer.verifier())) == [
        f"segments/{last.name} record {spool.size - 1}: risk seq jumps from 5 to 7: 1 events missing"
    ]


def test_a_version_1_record_cannot_name_a_source_that_version_did_not_have() -> None:
    line = (
        b'{"v":1,"index":0,"ts_ns":1,"source":"risk","incarnation":"r","seq":1,"kind":"limits",'
        b'"order_id":"","payload":{}}'
    )
    with pytest.raises(RecordError, match="unknown source 'risk' for format version 1"):
        decode_record(line)
    assert decode_record(line.replace(b'"v":1', b'"v":2')).source == "risk"
    with pytest.raises(RecordError, match="format version 3 is not one this reader knows"):
        decode_record(line.replace(b'"v":1', b'"v":3'))
