"""The issue's Done-when, on a real embedded desk: it trades, is halted (through the CLI) and resumed, refuses an
order, changes a limit, releases a latch, fails a feed over to its other line, seals; then an auditor with only
the bucket folder and the public key runs ``tradingdesk audit verify``, which passes, finds each of those
records, and fails, naming the place, after each kind of damage."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import grpc
import pytest

from tests.audit.logs import rewrite, segment_files
from tests.desk_runner import RunningDesk, wait_for, write_desk
from tradingdesk.audit.checkpoint import Checkpoint, SignerKey, VerifierKey, open_checkpoint
from tradingdesk.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from tradingdesk.audit.segment import parse_header, parse_segment_name
from tradingdesk.runtime import embedded
from tradingdesk.v1 import (
    common_pb2,
    compliance_pb2,
    compliance_pb2_grpc,
    market_data_pb2,
    market_data_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
    risk_pb2,
    risk_pb2_grpc,
)

pytestmark = pytest.mark.slow


def audit_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tradingdesk.cli.main", "audit", *args], capture_output=True, text=True, timeout=120
    )


def fast_checkpoints(doc: dict) -> None:
    doc["spec"]["compliance"]["checkpoints"] = {"everyRecords": 40, "everySeconds": 1}


async def trade_halt_resume_refuse(desk: RunningDesk, seal) -> None:
    """Each step ends with a seal, so the bucket holds several segments to check (and to damage)."""
    async with (
        desk.channel("routing") as routing,
        desk.channel("risk") as risk_ch,
        desk.channel("feeds") as feeds,
    ):
        orders = orders_pb2_grpc.OrderServiceStub(routing)
        risk = risk_pb2_grpc.RiskServiceStub(risk_ch)
        market = market_data_pb2_grpc.MarketDataServiceStub(feeds)

        async def priced() -> bool:
            try:
                q = await market.GetQuote(market_data_pb2.GetQuoteRequest(symbol="AAPL"), timeout=1)
                return bool(q.ask_price)
            except grpc.aio.AioRpcError:
                return False

        await wait_for(priced, timeout=20)

        async def buy(coid: str, qty: str) -> orders_pb2.OrderAck:
            return await orders.SubmitOrder(
                orders_pb2.SubmitOrderRequest(
                    client_order_id=coid,
                    account="ACC-EQ-2",
                    symbol="AAPL",
                    side=common_pb2.SIDE_BUY,
                    order_type=common_pb2.ORDER_TYPE_MARKET,
                    quantity=qty,
                    time_in_force=common_pb2.TIME_IN_FORCE_IOC,
                ),
                timeout=10,
            )

        ack = await buy("audit-1", "100")

        async def filled() -> bool:
            o = await orders.GetOrder(orders_pb2.GetOrderRequest(account="ACC-EQ-2", order_id=ack.order_id))
            return o.status in (common_pb2.ORDER_STATUS_FILLED, common_pb2.ORDER_STATUS_CANCELED) and o.cum_quantity

        await wait_for(filled, timeout=20)
        await seal("traded")
        kill = await asyncio.to_thread(
            cli, "kill", "-f", str(desk.spec_path), "--actor", "alice", "--reason", "audit drill"
        )  # -f: the desk's address and its first identity's client certificate (a risk officer)
        assert kill.returncode == 0, kill.stdout + kill.stderr
        await seal("halted")
        await risk.Resume(risk_pb2.ResumeRequest(actor="bob", reason="drill over"), timeout=10)

        async def refused_for_its_size() -> bool:
            """Until routing's gate hears of the resume, the order is refused as halted (on record too)."""
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await buy("audit-2", "60000")  # above maxOrderQuantity 50000
            assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            return "maximum" in refused.value.details()

        await wait_for(refused_for_its_size, timeout=20)
        limits = await risk.GetLimits(risk_pb2.GetLimitsRequest())
        limits.desk.max_order_quantity = "40000"
        await risk.SetLimits(risk_pb2.SetLimitsRequest(limits=limits, actor="carol", reason="tighter cap"))
        await risk.ReleaseLatch(
            risk_pb2.ReleaseLatchRequest(scope=common_pb2.Scope(account="ACC-EQ-2"), actor="dave", reason="checked")
        )
        await market.SetLineEnabled(
            market_data_pb2.SetLineEnabledRequest(feed="vendor-a", line="A", enabled=False, reason="audit drill")
        )

        async def failed_over() -> bool:
            report = await market.GetFeedStatus(market_data_pb2.GetFeedStatusRequest(feeds=["vendor-a"]))
            return report.feeds[0].active_line == "B"

        await wait_for(failed_over, timeout=20)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tradingdesk.cli.main", *args], capture_output=True, text=True, timeout=120
    )


def audit_records(editor) -> list[dict]:
    """Every record in the bucket, read by ``tradingdesk audit export`` as an auditor would."""
    run = audit_cli("export", *editor.args(), "--format", "jsonl")
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines() if line.strip()]


def one(records: list[dict], **match) -> dict:
    found = [r for r in records if all(_get(r, k) == v for k, v in match.items())]
    assert len(found) == 1, (match, [r for r in records if r["kind"] == match.get("kind")])
    return found[0]


def _get(record: dict, key: str):
    return record["payload"].get(key.removeprefix("payload_")) if key.startswith("payload_") else record.get(key)


def each_thing_that_happened_is_on_record(records: list[dict]) -> None:
    """The auditor finds, from the bucket alone, the record of each thing the desk did, with who and how."""
    assert {r["v"] for r in records} == {2}
    assert {"pending_new", "new", "trade", "incident"} <= {r["kind"] for r in records if r["source"] == "journal"}
    halt = one(records, source="risk", kind="trading_state", payload_state="HALTED", payload_actor="alice")
    assert (halt["payload"]["door"], halt["payload"]["reason"], halt["payload"]["kill_id"][:1]) == (
        "cli",
        "audit drill",
        "K",
    )
    resume = one(records, source="risk", kind="trading_state", payload_state="ACTIVE", payload_actor="bob")
    assert (resume["payload"]["door"], resume["payload"]["reason"]) == ("grpc", "drill over")
    refusal = one(records, source="journal", kind="refused", payload_code="MAX_ORDER_QTY")
    p = refusal["payload"]
    assert (p["method"], p["door"], p["code"], p["status"]) == (
        "SubmitOrder",
        "unary",
        "MAX_ORDER_QTY",
        "FAILED_PRECONDITION",
    )
    assert "50000" in p["message"] and p["request"]["quantity"] == "60000" and p["account"] == "ACC-EQ-2"
    assert p["request"]["client_order_id"] == "audit-2"
    limits = one(records, source="risk", kind="limits", payload_actor="carol")
    assert (limits["payload"]["door"], limits["payload"]["limits"]["desk"]["max_order_quantity"]) == ("grpc", "40000")
    release = one(records, source="risk", kind="latch_release", payload_actor="dave")
    assert (release["payload"]["account"], release["payload"]["reason"], release["payload"]["door"]) == (
        "ACC-EQ-2",
        "checked",
        "grpc",
    )
    switch = one(records, source="journal", kind="feed_switch", payload_feed="vendor-a", payload_to_line="B")
    assert switch["payload"]["from_line"] == "A" and "disabled" in switch["payload"]["reason"]
    starts = [r for r in records if r["kind"] == "journal_incarnation"]
    assert sorted(r["payload"]["source"] for r in starts) == ["journal", "risk"]
    assert any(r["kind"] == "seal" and r["payload"]["actor"] == "auditor" for r in records)


@pytest.fixture(params=["filesystem", "s3"])
def bucket_kind(request: pytest.FixtureRequest) -> str:
    return request.param


async def test_a_desk_that_traded_is_verified_from_the_bucket_alone(
    tmp_path: Path, bucket_kind: str, request, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded, "READY_TIMEOUT_S", 120.0)  # five processes starting at once on a busy machine
    s3 = request.getfixturevalue("s3_endpoint") if bucket_kind == "s3" else ""
    s3_bucket = f"audit-desk-{uuid.uuid4().hex[:10]}"

    def configure(doc: dict) -> None:
        fast_checkpoints(doc)
        if s3:
            doc["spec"]["compliance"]["auditBucket"] = {"kind": "s3", "bucket": s3_bucket, "endpoint": s3}

    desk = await RunningDesk(write_desk(tmp_path, configure)).start()
    try:
        async with desk.channel("compliance") as ch:
            compliance = compliance_pb2_grpc.ComplianceServiceStub(ch)

            async def seal(reason: str) -> None:
                await compliance.Seal(compliance_pb2.SealRequest(actor="test", reason=reason), timeout=30)

            await trade_halt_resume_refuse(desk, seal)
            sealed = await compliance.Seal(
                compliance_pb2.SealRequest(actor="auditor", reason="quarter end"), timeout=30
            )
            status = await compliance.GetCheckpoint(compliance_pb2.GetCheckpointRequest())
            key = VerifierKey.parse(status.public_key)
            checkpoint = open_checkpoint(sealed.checkpoint, key)
            assert (checkpoint.size, checkpoint.root) == (sealed.tree_size, sealed.root_hash)
            assert status.tree_size == sealed.tree_size and status.refusing == ""

            # The trade, the kill switch and the seal request are all in the log.
            events = (await compliance.QueryAudit(compliance_pb2.QueryAuditRequest(limit=10_000))).events
            kinds = [e.kind for e in events]
            assert {"journal_incarnation", "pending_new", "new", "trade", "incident", "seal"} <= set(kinds)
            seal = [e for e in events if e.kind == "seal"][-1]
            assert '"actor":"auditor"' in seal.payload_json and '"reason":"quarter end"' in seal.payload_json

            # A record's inclusion proof and a consistency proof verify against the signed root.
            trade = next(e for e in events if e.kind == "trade")
            proof = await compliance.GetInclusionProof(
                compliance_pb2.GetInclusionProofRequest(journal_seq=trade.seq, tree_size=sealed.tree_size)
            )
            assert proof.index == trade.index and proof.record == trade.record
            verify_inclusion(
                index=proof.index,
                size=proof.tree_size,
                leaf=leaf_hash(trade.record),
                proof=list(proof.hashes),
                root=checkpoint.root,
            )
            consistency = await compliance.GetConsistencyProof(
                compliance_pb2.GetConsistencyProofRequest(old_size=3, new_size=sealed.tree_size)
            )
            verify_consistency(
                old_size=3,
                new_size=sealed.tree_size,
                old_root=consistency.old_root_hash,
                new_root=checkpoint.root,
                proof=list(consistency.hashes),
            )
            await bad_inputs_are_refused_naming_the_field(compliance, sealed.tree_size)
            if not s3:  # the same proofs, served over gRPC, accepted by Go's tlog (tests/audit/goverify)
                await proofs_accepted_by_go(compliance, key, sealed.tree_size, tmp_path, request)
    finally:
        await desk.stop()

    # The auditor: the bucket and the public key, nothing else.
    public_key = tmp_path / "var" / "us-equities" / "audit-keys" / "signing.pub"
    editor = S3Editor(s3, s3_bucket) if s3 else FolderEditor(tmp_path / "audit" / "us-equities")
    run = audit_cli("verify", *editor.args(), "--public-key", str(public_key))
    assert run.returncode == 0, run.stdout + run.stderr
    if not s3:
        go = subprocess.run(
            [str(request.getfixturevalue("goverify")), "bucket", public_key.read_text().strip(), str(editor.root)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert go.returncode == 0 and go.stdout.strip().splitlines()[-1].startswith("ok: "), go.stdout + go.stderr
    assert "result        OK" in run.stdout
    # Stopping sealed what came after our Seal (the shutdown itself is recorded), so the tree may be larger.
    assert int(run.stdout.split("tree size")[1].split()[0]) >= sealed.tree_size
    export = audit_cli("export", *editor.args(), "--format", "csv")
    assert export.returncode == 0 and ",trade," in export.stdout and ",seal," in export.stdout
    each_thing_that_happened_is_on_record(audit_records(editor))

    for damage, expected in DAMAGES:
        damaged = editor.copy(damage.__name__)
        place = damage(damaged)
        run = audit_cli("verify", *damaged.args(), "--public-key", str(public_key))
        assert run.returncode == 1, (damage.__name__, run.stdout)
        assert place in run.stdout and any(e in run.stdout for e in expected), (damage.__name__, run.stdout)


async def proofs_accepted_by_go(compliance, key: VerifierKey, size: int, tmp_path: Path, request) -> None:
    goverify = request.getfixturevalue("goverify")
    b64 = lambda data: base64.b64encode(data).decode()  # noqa: E731
    doc: dict = {"checkpoints": [], "inclusion": [], "consistency": []}
    for index in range(size):
        proof = await compliance.GetInclusionProof(compliance_pb2.GetInclusionProofRequest(index=index))
        doc["inclusion"].append(
            {
                "index": index,
                "tree_size": proof.tree_size,
                "record": b64(proof.record),
                "hashes": [b64(h) for h in proof.hashes],
            }
        )
        doc["checkpoints"] = [proof.checkpoint]
    for old in range(1, size):
        proof = await compliance.GetConsistencyProof(compliance_pb2.GetConsistencyProofRequest(old_size=old))
        doc["consistency"].append(
            {
                "old_size": old,
                "new_size": proof.new_size,
                "old_root": b64(proof.old_root_hash),
                "hashes": [b64(h) for h in proof.hashes],
            }
        )
    path = tmp_path / "served-proofs.json"
    path.write_text(json.dumps(doc))
    done = subprocess.run([str(goverify), "proofs", str(key), str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"ok: {size} inclusion and {size - 1} consistency proofs" in done.stdout


async def bad_inputs_are_refused_naming_the_field(compliance, size: int) -> None:
    cases = [
        (compliance.GetInclusionProof(compliance_pb2.GetInclusionProofRequest(index=10**9)), "NOT_FOUND", "index:"),
        (
            compliance.GetInclusionProof(compliance_pb2.GetInclusionProofRequest(journal_seq=10**9)),
            "NOT_FOUND",
            "journal_seq:",
        ),
        (  # found by fuzzing: beyond the store's signed 64-bit seqs it answered UNKNOWN
            compliance.GetInclusionProof(compliance_pb2.GetInclusionProofRequest(journal_seq=2**64 - 1)),
            "INVALID_ARGUMENT",
            "journal_seq: must be at most",
        ),
        (
            compliance.GetInclusionProof(compliance_pb2.GetInclusionProofRequest(tree_size=size + 10**6)),
            "INVALID_ARGUMENT",
            "tree_size:",
        ),
        (
            compliance.GetConsistencyProof(compliance_pb2.GetConsistencyProofRequest(old_size=size, new_size=2)),
            "INVALID_ARGUMENT",
            "old_size:",
        ),
        (
            compliance.GetConsistencyProof(compliance_pb2.GetConsistencyProofRequest(old_size=1, new_size=size + 5)),
            "INVALID_ARGUMENT",
            "new_size:",
        ),
        (compliance.GetConsistencyProof(compliance_pb2.GetConsistencyProofRequest()), "INVALID_ARGUMENT", "old_size:"),
        (compliance.Seal(compliance_pb2.SealRequest(reason="no actor")), "INVALID_ARGUMENT", "actor:"),
        (compliance.Seal(compliance_pb2.SealRequest(actor="x")), "INVALID_ARGUMENT", "reason:"),
    ]
    for call, code, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code().name == code and err.value.details().startswith(field), err.value.details()


# -------------------------------------------------------------------------------- the damages, placed


class FolderEditor:
    """A filesystem bucket as an attacker with write access sees it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def args(self) -> list[str]:
        return ["--bucket", str(self.root)]

    def copy(self, name: str) -> FolderEditor:
        target = self.root.parent / f"{self.root.name}-{name}"
        shutil.copytree(self.root, target)
        return FolderEditor(target)

    def names(self) -> list[str]:
        return [p.name for p in segment_files(self.root)]

    def read(self, name: str) -> bytes:
        return (self.root / "segments" / name).read_bytes()

    def write(self, name: str, data: bytes) -> None:
        path = self.root / "segments" / name
        if path.exists():
            rewrite(path, data)
        else:
            path.write_bytes(data)

    def remove(self, name: str) -> None:
        (self.root / "segments" / name).unlink()


class S3Editor:
    """An S3 bucket with Object Lock as an attacker with write access sees it: a sealed object can be neither
    deleted nor changed, but new versions and delete markers can be added, and new keys written."""

    def __init__(self, endpoint: str, bucket: str, prefix: str = "us-equities") -> None:
        self.endpoint, self.bucket, self.prefix = endpoint, bucket, prefix
        self.client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")

    def args(self) -> list[str]:
        return ["--bucket", f"s3://{self.bucket}/{self.prefix}", "--endpoint-url", self.endpoint]

    def copy(self, name: str) -> S3Editor:
        target = S3Editor(self.endpoint, self.bucket, f"{self.prefix}-{name}")
        for n in self.names():
            target.client.put_object(Bucket=self.bucket, Key=f"{target.prefix}/segments/{n}", Body=self.read(n))
        return target

    def names(self) -> list[str]:
        listing = self.client.list_objects_v2(Bucket=self.bucket, Prefix=f"{self.prefix}/segments/")
        return sorted(o["Key"].rsplit("/", 1)[1] for o in listing.get("Contents", []))

    def read(self, name: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=f"{self.prefix}/segments/{name}")["Body"].read()

    def write(self, name: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=f"{self.prefix}/segments/{name}", Body=data)

    def remove(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=f"{self.prefix}/segments/{name}")


def _lines(editor, name: str) -> list[bytes]:
    return editor.read(name)[:-1].split(b"\n")


def _put_lines(editor, name: str, lines: list[bytes]) -> None:
    editor.write(name, b"\n".join(lines) + b"\n")


def _biggest(editor) -> tuple[str, int]:
    """The segment with the most records (at least three), and the index of its first record."""
    name = max(editor.names(), key=lambda n: parse_segment_name(n)[1] - parse_segment_name(n)[0])
    start, end = parse_segment_name(name)
    assert end - start >= 3, editor.names()
    return name, start


def _flip_byte(editor) -> str:
    name, start = _biggest(editor)
    lines = _lines(editor, name)
    lines[2] = lines[2].replace(b'"ts_ns":1', b'"ts_ns":2', 1)  # its second record
    _put_lines(editor, name, lines)
    return f"segments/{name} record {start + 1}"


def _remove_record(editor) -> str:
    name, start = _biggest(editor)
    lines = _lines(editor, name)
    del lines[2]
    _put_lines(editor, name, lines)
    return f"segments/{name} record {start + 1}"


def _swap_records(editor) -> str:
    name, start = _biggest(editor)
    lines = _lines(editor, name)
    lines[2], lines[3] = lines[3], lines[2]
    _put_lines(editor, name, lines)
    return f"segments/{name} record {start + 1}"


def _remove_segment(editor) -> str:
    names = editor.names()
    editor.remove(names[0])
    # S3 keeps the object behind a delete marker, which verify names; a removed file leaves a gap before the next.
    return f"segments/{names[0]}" if isinstance(editor, S3Editor) else f"segments/{names[1]}"


def _re_sign(editor) -> str:
    name = editor.names()[-1]
    lines = _lines(editor, name)
    header = parse_header(lines[0])
    text = header.checkpoint[: header.checkpoint.rfind("\n\n") + 1]
    forger = SignerKey.generate(Checkpoint.parse(text).origin)
    fields = {f: getattr(header, f) for f in header.__slots__}
    forged = type(header)(**{**fields, "checkpoint": forger.sign_note(text), "public_key": str(forger.verifier())})
    _put_lines(editor, name, [forged.to_json().encode(), *lines[1:]])
    return f"segments/{name}"


def _truncate_tail(editor) -> str:
    name = editor.names()[-1]
    editor.write(name, editor.read(name)[:-30])
    return f"segments/{name} record"


def _smaller_checkpoint(editor) -> str:
    names = editor.names()
    first = parse_header(_lines(editor, names[-3])[0])  # older than the previous segment's
    lines = _lines(editor, names[-1])
    header = parse_header(lines[0])
    fields = {f: getattr(header, f) for f in header.__slots__}
    _put_lines(
        editor, names[-1], [type(header)(**{**fields, "checkpoint": first.checkpoint}).to_json().encode(), *lines[1:]]
    )
    return f"segments/{names[-1]}"


def _duplicate_segment(editor) -> str:
    name = editor.names()[0]
    copy = name.replace(".seg", "-copy.seg")
    editor.write(copy, editor.read(name))
    return f"segments/{copy}"


DAMAGES = [
    (_flip_byte, ["the record was altered"]),
    (_remove_record, ["records were moved or removed"]),
    (_swap_records, ["records were moved or removed"]),
    (_remove_segment, ["are missing: no segment covers them", "1 delete markers, not 1 and 0"]),
    (_re_sign, ["not signed by the trusted key"]),
    (_truncate_tail, ["truncated"]),
    (_smaller_checkpoint, ["is smaller than the previous"]),
    (_duplicate_segment, ["is not a segment name"]),
]
