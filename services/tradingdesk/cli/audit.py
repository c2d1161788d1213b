"""``tradingdesk audit``: the auditor's tools. They read the bucket alone (and a public key); no desk, no
database, no network but the bucket's."""

from __future__ import annotations

import argparse
import base64
import csv
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from tradingdesk.audit.bucket import BucketError, open_bucket
from tradingdesk.audit.checkpoint import (
    Checkpoint,
    CheckpointError,
    SignerKey,
    VerifierKey,
    open_checkpoint,
    split_note,
)
from tradingdesk.audit.keys import write_key_pair
from tradingdesk.audit.record import RecordError, decode_record
from tradingdesk.audit.segment import SegmentError, parse_segment, parse_segment_name
from tradingdesk.audit.verify import parse_time, verify_bucket

EXIT_PROBLEMS = 1
EXIT_USAGE = 2


class UsageError(Exception):
    pass


def _read_key(path: str) -> VerifierKey:
    try:
        return VerifierKey.parse(Path(path).read_text())
    except OSError as exc:
        raise UsageError(f"--public-key {path}: {exc.strerror}") from None
    except CheckpointError as exc:
        raise UsageError(f"--public-key {path}: {exc}") from None


def _read_expected(path: str | None, key: VerifierKey) -> Checkpoint | None:
    if not path:
        return None
    try:
        return open_checkpoint(Path(path).read_text(), key)
    except OSError as exc:
        raise UsageError(f"--checkpoint {path}: {exc.strerror}") from None
    except CheckpointError as exc:
        raise UsageError(f"--checkpoint {path}: {exc}") from None


def _progress_bar(total: int, show: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="rec", unit_scale=True, file=sys.stderr, disable=not show)


def cmd_verify(args: argparse.Namespace) -> int:
    key = _read_key(args.public_key)
    expect = _read_expected(args.checkpoint, key)
    bucket = open_bucket(args.bucket, endpoint_url=args.endpoint_url)
    try:
        total = max((r[1] for o in bucket.segments() if (r := parse_segment_name(o.key))), default=0)
    except BucketError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    with _progress_bar(total, args.progress or sys.stderr.isatty()) as bar:
        report = verify_bucket(bucket, key, expect=expect, progress=bar.update)
    print(f"bucket        {report.bucket}")
    print(f"public key    {key}")
    print(f"log           {report.origin or '-'}")
    print(f"segments      {report.segments}")
    print(f"records       {report.records}")
    print(f"tree size     {report.tree_size}")
    print(f"root hash     {base64.b64encode(report.root).decode()}")
    for source, incarnations in report.sources.items():
        print(f"{source + ' incarnations':<13} {', '.join(incarnations)}")
    if not report.sources:
        print("incarnations  -")
    if args.write_checkpoint and report.last_checkpoint and report.ok:
        Path(args.write_checkpoint).write_text(report.last_checkpoint)
        print(f"checkpoint    written to {args.write_checkpoint} (pass it as --checkpoint next time)")
    if report.ok:
        print("result        OK: every record, signature, proof and retention checked")
        return 0
    print(f"result        FAILED: {len(report.problems)} problem(s)")
    for problem in report.problems:
        print(f"  {problem}")
    return EXIT_PROBLEMS


def _time_arg(text: str | None) -> int | None:
    if not text:
        return None
    if text.isdigit():
        return int(text)
    try:
        moment = parse_time(text)
    except ValueError:
        raise UsageError(f"{text!r} is neither nanoseconds nor an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def _iso(ts_ns: int) -> str:
    moment = datetime.fromtimestamp(ts_ns // 1_000_000_000, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ts_ns % 1_000_000_000:09d}Z"


CSV_COLUMNS = ["index", "time", "ts_ns", "incarnation", "seq", "source", "kind", "order_id", "account", "symbol"]


def cmd_export(args: argparse.Namespace) -> int:
    since, until = _time_arg(args.since), _time_arg(args.until)
    bucket = open_bucket(args.bucket, endpoint_url=args.endpoint_url)
    out = open(args.out, "w", newline="") if args.out else sys.stdout  # noqa: SIM115 - closed below
    writer = csv.writer(out) if args.format == "csv" else None
    if writer is not None:
        writer.writerow([*CSV_COLUMNS, "payload"])
    exported = 0
    try:
        for obj in bucket.segments():
            if parse_segment_name(obj.key) is None:
                continue
            data, _ = bucket.read(obj.key)
            _, lines = parse_segment(data)
            for raw in lines:
                rec = decode_record(raw)
                if (since is not None and rec.ts_ns < since) or (until is not None and rec.ts_ns >= until):
                    continue
                exported += 1
                if writer is None:
                    out.write(raw.decode("ascii") + "\n")
                    continue
                row = [rec.index, _iso(rec.ts_ns), rec.ts_ns, rec.incarnation, rec.seq, rec.source, rec.kind]
                row += [rec.order_id, rec.account, rec.symbol, json.dumps(rec.payload, sort_keys=True)]
                writer.writerow(row)
    except (BucketError, SegmentError, RecordError) as exc:
        print(f"error: {exc} (run `tradingdesk audit verify` on this bucket)", file=sys.stderr)
        return EXIT_PROBLEMS
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"exported {exported} records", file=sys.stderr)
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    try:
        key = SignerKey.generate(args.name)
        private, public = write_key_pair(Path(args.out), key)
    except CheckpointError as exc:
        raise UsageError(f"--name: {exc}") from None
    except FileExistsError:
        raise UsageError(f"{args.out}/signing.key exists: a key is never overwritten") from None
    print(f"signing key   {private} (keep it secret: mount it into compliance only)")
    print(f"public key    {public}: {key.verifier()}")
    print(f"kubectl create secret generic <desk>-audit-signing-key --from-file=signing.key={private}")
    return 0


def cmd_checkpoint(args: argparse.Namespace) -> int:
    """Show a checkpoint note, verified with the public key."""
    key = _read_key(args.public_key)
    note = Path(args.file).read_text()
    try:
        text, _ = split_note(note)
        cp = _read_expected(args.file, key)
    except CheckpointError as exc:
        raise UsageError(str(exc)) from None
    assert cp is not None
    print(text, end="")
    print(f"verified: signed by {key}, {cp.size} records")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``tradingdesk audit ...`` to the CLI."""
    audit = sub.add_parser("audit", help="verify and read the sealed audit trail (docs/audit.md)").add_subparsers(
        dest="audit_command", required=True
    )

    def bucket_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--bucket", required=True, help="the desk's folder of a filesystem bucket, or s3://bucket/desk")
        p.add_argument("--endpoint-url", help="S3 endpoint (default: AWS); credentials from the AWS environment")

    v = audit.add_parser("verify", help="check every record, signature, proof and retention; exit 1 on any problem")
    bucket_args(v)
    v.add_argument("--public-key", required=True, help="file holding the log's verifier key (signing.pub)")
    v.add_argument("--checkpoint", help="a signed checkpoint you hold: the bucket must reach it with the same root")
    v.add_argument("--write-checkpoint", help="save the newest checkpoint here when everything verifies")
    v.add_argument("--progress", action="store_true", help="show a progress bar even when stderr is not a terminal")
    v.set_defaults(func=_guarded(cmd_verify))

    e = audit.add_parser("export", help="records as JSON lines or CSV (reading only: run verify to check them)")
    bucket_args(e)
    e.add_argument("--since", help="from this time (ISO 8601, UTC if no zone, or ns since the epoch), inclusive")
    e.add_argument("--until", help="up to this time, exclusive")
    e.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    e.add_argument("--out", help="file to write (default: standard output)")
    e.set_defaults(func=_guarded(cmd_export))

    k = audit.add_parser("keygen", help="make a checkpoint signing key pair (for the Kubernetes Secret)")
    k.add_argument("--name", required=True, help="the log's origin, e.g. tradingdesk.io/audit/<namespace>/<desk>")
    k.add_argument("--out", required=True, help="directory for signing.key and signing.pub")
    k.set_defaults(func=_guarded(cmd_keygen))

    c = audit.add_parser("checkpoint", help="show a checkpoint file once its signature verifies")
    c.add_argument("file")
    c.add_argument("--public-key", required=True)
    c.set_defaults(func=_guarded(cmd_checkpoint))


def _guarded(fn):
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except UsageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE

    return run


__all__ = ["register"]
