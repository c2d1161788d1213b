"""On a real embedded desk: what feeds and compliance change or refuse is on record, and a seal that fails is
counted where the AuditSealFailing alert reads it.

- A person taking a feed line out of service and putting it back (``SetLineEnabled``) leaves ``line_enabled``
  records with who, which line, which way, why and through which door, stored before feeds answers.
- Refused requests to feeds (``SetLineEnabled``) and compliance (``Seal``, ``RecordOperatorAction``,
  ``RecordServiceEvents``) leave ``refused`` records with the reject code, the answer and the request as sent.
- Sealing against a real S3 server (moto) that goes away fails, and
  ``tradingdesk_audit_seal_failures_total{reason="unavailable"}`` on compliance's /metrics rises from 0.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests import access
from tests.audit.conftest import S3_ENV, start_moto_server
from tests.audit.test_audit_desk import fast_checkpoints
from tests.desk_runner import RunningDesk, wait_for, write_desk
from tradingdesk.edge.door import door_metadata
from tradingdesk.spec.model import TradingDesk
from tradingdesk.v1 import compliance_pb2, compliance_pb2_grpc, market_data_pb2, market_data_pb2_grpc

pytestmark = pytest.mark.slow


async def records(compliance, kind: str) -> list[dict]:
    """The records of ``kind`` (compliance's own), each as its payload plus its index."""
    reply = await compliance.QueryAudit(compliance_pb2.QueryAuditRequest(source="compliance", kind=kind, limit=10_000))
    return [{**json.loads(e.payload_json), "_index": e.index, "_ts_ns": e.ts_ns} for e in reply.events]


async def refused_with(stub_call, request, code: grpc.StatusCode, **metadata) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub_call(request, timeout=10, **metadata)
    assert err.value.code() == code, err.value.details()
    return err.value.details()


async def test_line_toggles_and_refusals_of_feeds_and_compliance_are_on_record(tmp_path: Path) -> None:
    desk = await RunningDesk(write_desk(tmp_path)).start()
    try:
        async with (
            desk.channel("feeds") as feeds_ch,
            desk.channel("compliance") as compliance_ch,
            desk.channel("compliance", "service") as writer_ch,  # the Record* RPCs are the desk's own writers'
        ):
            feeds = market_data_pb2_grpc.MarketDataServiceStub(feeds_ch)
            compliance = compliance_pb2_grpc.ComplianceServiceStub(compliance_ch)
            writer = compliance_pb2_grpc.ComplianceServiceStub(writer_ch)
            set_line = market_data_pb2.SetLineEnabledRequest

            # A person takes line B of vendor-a out of service through the CLI's door, then puts it back.
            await feeds.SetLineEnabled(
                set_line(
                    feed="vendor-a", line="B", enabled=False, actor="sre-anna", reason="flapping: vendor ticket 42"
                ),
                metadata=door_metadata("cli"),
                timeout=10,
            )
            # feeds answers once compliance has recorded the change durably: it is in the log already
            assert [r["enabled"] for r in await records(compliance, "line_enabled")] == [False]
            await feeds.SetLineEnabled(set_line(feed="vendor-a", line="B", enabled=True, actor="sre-anna"), timeout=10)

            # Refused: to feeds, an unknown line and an over-long reason; to compliance, bad input to its calls.
            no_line = await refused_with(
                feeds.SetLineEnabled, set_line(feed="vendor-a", line="C", actor="sre-bob"), grpc.StatusCode.NOT_FOUND
            )
            assert no_line.startswith("line: 'C' is not a line of feed vendor-a")
            await refused_with(
                feeds.SetLineEnabled,
                set_line(feed="vendor-a", line="A", actor="sre-bob", reason="x" * 201),
                grpc.StatusCode.INVALID_ARGUMENT,
            )
            no_reason = await refused_with(
                compliance.Seal, compliance_pb2.SealRequest(actor="eve"), grpc.StatusCode.INVALID_ARGUMENT
            )
            assert no_reason.startswith("reason: required")
            await refused_with(
                writer.RecordOperatorAction,
                compliance_pb2.OperatorActionRequest(actor="tradingdesk-operator", action="explode"),
                grpc.StatusCode.INVALID_ARGUMENT,
                metadata=door_metadata("operator"),
            )
            await refused_with(
                writer.RecordServiceEvents,
                compliance_pb2.RecordServiceEventsRequest(),
                grpc.StatusCode.INVALID_ARGUMENT,
            )

            # each was recorded before it was answered (feeds' refusals too, compliance being up)
            toggles = await records(compliance, "line_enabled")
            refusals = await records(compliance, "refused")
            assert len(toggles) == 2 and len(refusals) == 5
    finally:
        await desk.stop()

    off, on = toggles
    assert {k: off[k] for k in ("service", "feed", "line", "enabled", "actor", "reason", "door", "line_state")} == {
        "service": "feeds",
        "feed": "vendor-a",
        "line": "B",
        "enabled": False,
        "actor": "sre-anna",
        "reason": "flapping: vendor ticket 42",
        "door": "cli",
        "line_state": "DISABLED",
    }
    assert off["peer"].startswith("ipv4:127.0.0.1:")
    assert (on["enabled"], on["reason"], on["door"]) == (True, "", "grpc")
    assert on["line_state"] != "DISABLED" and on["_index"] > off["_index"]

    by = {(r["service"], r["method"], r["code"]): r for r in refusals}
    line = by["feeds", "SetLineEnabled", "NOT_FOUND"]
    assert (line["status"], line["reject_kind"], line["actor"], line["door"]) == (
        "NOT_FOUND",
        "not_found",
        "sre-bob",
        "grpc",
    )
    assert line["message"] == no_line and line["request"] == {"feed": "vendor-a", "line": "C", "actor": "sre-bob"}
    long_reason = by["feeds", "SetLineEnabled", "INVALID_ARGUMENT"]
    assert long_reason["message"] == "reason: at most 200 characters" and long_reason["status"] == "INVALID_ARGUMENT"
    seal = by["compliance", "Seal", "INVALID_ARGUMENT"]
    assert (seal["actor"], seal["reason"], seal["message"], seal["request"]) == ("eve", "", no_reason, {"actor": "eve"})
    action = by["compliance", "RecordOperatorAction", "INVALID_ARGUMENT"]
    assert action["door"] == "operator" and action["message"].startswith("action: must be one of")
    assert action["request"] == {"actor": "tradingdesk-operator", "action": "explode"}
    assert by["compliance", "RecordServiceEvents", "INVALID_ARGUMENT"]["message"] == "events: at least one is required"


def seal_failures(desk: TradingDesk, port: int) -> dict[str, float]:
    """``tradingdesk_audit_seal_failures_total`` by reason, as compliance's /metrics shows it now."""
    text = access.metrics_text(desk, port)
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "tradingdesk_audit_seal_failures_total":
                found[sample.labels["reason"]] = sample.value
    return found


async def test_a_seal_the_s3_server_does_not_take_is_counted_on_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in S3_ENV.items():
        monkeypatch.setitem(os.environ, name, value)
    moto, endpoint = start_moto_server(tmp_path / "moto.log")
    bucket = f"seal-fails-{uuid.uuid4().hex[:10]}"

    def configure(doc: dict) -> None:
        fast_checkpoints(doc)
        doc["spec"]["compliance"]["auditBucket"] = {"kind": "s3", "bucket": bucket, "endpoint": endpoint}

    try:
        desk = await RunningDesk(write_desk(tmp_path, configure)).start()
        try:
            port = desk.desk.spec.monitoring.metrics_ports()["compliance"]
            async with desk.channel("compliance") as ch:
                compliance = compliance_pb2_grpc.ComplianceServiceStub(ch)
                seal = compliance_pb2.SealRequest(actor="sre-anna", reason="before the S3 server goes away")
                await compliance.Seal(seal, timeout=30)
                before = seal_failures(desk.desk, port)
                assert set(before) == {"unavailable", "conflict", "misconfigured", "error", "signing_key"}
                assert before["unavailable"] == 0, before  # every reason is exported from 0, so increase() sees one

                moto.terminate()
                moto.wait(10)
                seal = compliance_pb2.SealRequest(actor="sre-anna", reason="with the S3 server gone")
                why = await refused_with(compliance.Seal, seal, grpc.StatusCode.UNAVAILABLE)
                assert f"s3://{bucket}/" in why and "not yet in" in why

                after = await wait_for(
                    lambda: (f := seal_failures(desk.desk, port))["unavailable"] >= 1 and f, timeout=20
                )
                assert after["unavailable"] > before["unavailable"]
                assert {k: v for k, v in after.items() if k != "unavailable"} == {
                    k: v for k, v in before.items() if k != "unavailable"
                }
                status = await compliance.GetCheckpoint(compliance_pb2.GetCheckpointRequest())
                assert status.pending_segments >= 1 and endpoint.removeprefix("http://") in status.last_upload_error
        finally:
            await desk.stop()
    finally:
        if moto.poll() is None:
            moto.kill()
            moto.wait(10)
