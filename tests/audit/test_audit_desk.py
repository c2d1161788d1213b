"""The issue's Done-when, on a real embedded desk: it trades, is halted and resumed, refuses an order, seals;
then an auditor with only the bucket folder and the public key runs ``tradingdesk audit verify``, which passes,
and fails, naming the place, after each kind of damage."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from tests.audit.logs import lines_of, rewrite, segment_files, with_lines
from tests.desk_runner import RunningDesk, wait_for, write_desk
from tradingdesk.audit.checkpoint import VerifierKey, open_checkpoint
from tradingdesk.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from tradingdesk.audit.segment import parse_header
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


async def trade_halt_resume_refuse(desk: RunningDesk) -> None:
    async with (
        grpc.aio.insecure_channel(desk.address("routing")) as routing,
        grpc.aio.insecure_channel(desk.address("risk")) as risk_ch,
        grpc.aio.insecure_channel(desk.address("feeds")) as feeds,
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
        await risk.KillSwitch(risk_pb2.KillSwitchRequest(actor="alice", reason="audit drill"), timeout=10)
        await risk.Resume(risk_pb2.ResumeRequest(actor="bob", reason="drill over"), timeout=10)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await buy("audit-2", "60000")  # above maxOrderQuantity 50000
        assert refused.value.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT)


async def test_a_desk_that_traded_is_verified_from_the_bucket_alone(tmp_path: Path) -> None:
    spec = write_desk(tmp_path, fast_checkpoints)
    desk = await RunningDesk(spec).start()
    try:
        await trade_halt_resume_refuse(desk)
        async with grpc.aio.insecure_channel(desk.address("compliance")) as ch:
            compliance = compliance_pb2_grpc.ComplianceServiceStub(ch)
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
            seal = next(e for e in events if e.kind == "seal")
            assert '"actor":"auditor"' in seal.payload_json and '"reason":"quarter end"' in seal.payload_json

            # Every record's inclusion proof verifies against the signed root.
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
    finally:
        await desk.stop()

    # The auditor: the bucket folder and the public key, nothing else.
    bucket = tmp_path / "audit" / "us-equities"
    public_key = tmp_path / "var" / "us-equities" / "audit-keys" / "signing.pub"
    run = audit_cli("verify", "--bucket", str(bucket), "--public-key", str(public_key))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "result        OK" in run.stdout
    # Stopping sealed what came after our Seal (the shutdown itself is recorded), so the tree may be larger.
    assert int(run.stdout.split("tree size")[1].split()[0]) >= sealed.tree_size
    export = audit_cli("export", "--bucket", str(bucket), "--format", "csv")
    assert export.returncode == 0 and ",trade," in export.stdout and ",seal," in export.stdout

    for damage, expected in damages(bucket):
        copy = tmp_path / f"damaged-{damage.__name__}"
        shutil.copytree(bucket, copy)
        place = damage(copy)
        run = audit_cli("verify", "--bucket", str(copy), "--public-key", str(public_key))
        assert run.returncode == 1, (damage.__name__, run.stdout)
        assert place in run.stdout and expected in run.stdout, (damage.__name__, run.stdout)


async def bad_inputs_are_refused_naming_the_field(compliance, size: int) -> None:
    cases = [
        (compliance.GetInclusionProof(compliance_pb2.GetInclusionProofRequest(index=10**9)), "NOT_FOUND", "index:"),
        (
            compliance.GetInclusionProof(compliance_pb2.GetInclusionProofRequest(journal_seq=10**9)),
            "NOT_FOUND",
            "journal_seq:",
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


def _flip_byte(bucket: Path) -> str:
    seg = segment_files(bucket)[0]
    lines = lines_of(seg)
    lines[2] = lines[2].replace(b'"ts_ns":1', b'"ts_ns":2', 1)  # record 1
    with_lines(seg, lines)
    return f"segments/{seg.name} record 1"


def _remove_record(bucket: Path) -> str:
    seg = segment_files(bucket)[0]
    lines = lines_of(seg)
    del lines[3]  # record 2
    with_lines(seg, lines)
    return f"segments/{seg.name} record 2"


def _swap_records(bucket: Path) -> str:
    seg = segment_files(bucket)[0]
    lines = lines_of(seg)
    lines[2], lines[3] = lines[3], lines[2]
    with_lines(seg, lines)
    return f"segments/{seg.name} record 1"


def _remove_segment(bucket: Path) -> str:
    files = segment_files(bucket)
    files[0].unlink()
    return f"segments/{files[1].name}"


def _re_sign(bucket: Path) -> str:
    from tradingdesk.audit.checkpoint import Checkpoint, SignerKey

    seg = segment_files(bucket)[-1]
    lines = lines_of(seg)
    header = parse_header(lines[0])
    text = header.checkpoint[: header.checkpoint.rfind("\n\n") + 1]
    forger = SignerKey.generate(Checkpoint.parse(text).origin)
    fields = {f: getattr(header, f) for f in header.__slots__}
    forged = type(header)(**{**fields, "checkpoint": forger.sign_note(text), "public_key": str(forger.verifier())})
    with_lines(seg, [forged.to_json().encode(), *lines[1:]])
    return f"segments/{seg.name}"


def _truncate_tail(bucket: Path) -> str:
    seg = segment_files(bucket)[-1]
    data = seg.read_bytes()
    rewrite(seg, data[:-30])
    return f"segments/{seg.name} record"


def _smaller_checkpoint(bucket: Path) -> str:
    files = segment_files(bucket)
    first = parse_header(lines_of(files[0])[0])
    lines = lines_of(files[-1])
    header = parse_header(lines[0])
    fields = {f: getattr(header, f) for f in header.__slots__}
    with_lines(files[-1], [type(header)(**{**fields, "checkpoint": first.checkpoint}).to_json().encode(), *lines[1:]])
    return f"segments/{files[-1].name}"


def _duplicate_segment(bucket: Path) -> str:
    seg = segment_files(bucket)[0]
    copy = seg.with_name(seg.name.replace(".seg", " (copy).seg"))
    shutil.copy(seg, copy)
    return f"segments/{copy.name}"


def damages(bucket: Path):
    assert len(segment_files(bucket)) >= 2, "the desk sealed fewer than two segments"
    return [
        (_flip_byte, "the record was altered"),
        (_remove_record, "records were moved or removed"),
        (_swap_records, "records were moved or removed"),
        (_remove_segment, "are missing: no segment covers them"),
        (_re_sign, "not signed by the trusted key"),
        (_truncate_tail, "truncated"),
        (_smaller_checkpoint, "is smaller than the previous"),
        (_duplicate_segment, "is not a segment name"),
    ]
