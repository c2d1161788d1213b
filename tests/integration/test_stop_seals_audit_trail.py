"""A desk stopped while compliance is down (SIGKILLed, its restart still in the supervisor's backoff) leaves the
audit trail sealed with everything journaled: the stop brings compliance back first, which records routing's
and risk's journals from where it stopped and seals them, and the bucket alone then verifies, as an auditor
checks it. When compliance cannot come back, the stop says so loudly, naming the unsealed trail and what to do."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from pathlib import Path

import pytest

from tests.desk_runner import RunningDesk, wait_for, write_desk
from tests.integration.test_kill_switch import bids, resting
from tradingdesk.audit.bucket import open_bucket
from tradingdesk.audit.checkpoint import VerifierKey
from tradingdesk.audit.record import SOURCE_COMPLIANCE, SOURCE_JOURNAL, decode_record
from tradingdesk.audit.segment import parse_segment
from tradingdesk.audit.verify import verify_bucket
from tradingdesk.runtime.embedded import SEAL_ACTOR
from tradingdesk.runtime.supervisor import Supervisor
from tradingdesk.spec.domain import data_dir, dsn_for, schema_for
from tradingdesk.storage.db import make_engine
from tradingdesk.storage.journal import read_journal
from tradingdesk.v1 import orders_pb2_grpc

pytestmark = pytest.mark.slow


def slow_restarts(doc: dict) -> None:
    """The supervisor would restart a crashed service only after a minute: every stop here comes first."""
    doc["spec"]["supervision"] = {"restartBackoffInitialMs": 60_000, "restartBackoffMaxMs": 60_000}


async def kill_compliance_while_trading(desk: RunningDesk, supervisor: Supervisor) -> list[str]:
    """Orders acknowledged before and after compliance is SIGKILLed; returns once the supervisor saw the crash
    and the orders after it are journaled (acknowledged), with compliance still down."""
    prices = await wait_for(lambda: bids(desk), timeout=30, what="prices and a ready gate")
    async with desk.channel("routing") as channel:
        orders = orders_pb2_grpc.OrderServiceStub(channel)
        acked = [(await orders.SubmitOrder(r, timeout=10)).order_id for r in resting(prices, 3, "before")]
        assert desk.embedded is not None
        os.kill(desk.embedded.children["compliance"].process.pid, signal.SIGKILL)
        await wait_for(lambda: supervisor.services["compliance"].state == "down", timeout=10, what="the crash seen")
        acked += [(await orders.SubmitOrder(r, timeout=10)).order_id for r in resting(prices, 3, "during")]
    assert supervisor.services["compliance"].state == "down", "the orders were meant to go in while it was down"
    return acked


async def end_supervision(task: asyncio.Task) -> None:
    """As ``tradingdesk up`` and ``tradingdesk simulate`` do before they stop the desk."""
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def bucket_records(desk: RunningDesk) -> list:
    bucket = open_bucket(str(Path(desk.desk.spec.compliance.audit_bucket.path) / desk.desk.name))
    out = []
    for obj in bucket.segments():
        _, records = parse_segment(bucket.read(obj.key)[0])
        out += [decode_record(raw) for raw in records]
    return out


async def test_a_desk_stopped_while_compliance_is_down_leaves_everything_journaled_sealed(tmp_path: Path) -> None:
    desk = await RunningDesk(write_desk(tmp_path, slow_restarts)).start()
    assert desk.embedded is not None
    supervisor = Supervisor(desk.embedded, report=desk.lines.append)
    supervised = asyncio.create_task(supervisor.run())
    try:
        acked = await kill_compliance_while_trading(desk, supervisor)
    finally:
        await end_supervision(supervised)
        await desk.embedded.stop(report=desk.lines.append)
    assert all(c.process.returncode is not None for c in desk.embedded.children.values())

    key = VerifierKey.parse((data_dir(desk.desk) / "audit-keys" / "signing.pub").read_text())
    report = verify_bucket(open_bucket(str(Path(desk.desk.spec.compliance.audit_bucket.path) / desk.desk.name)), key)
    assert report.ok, [str(p) for p in report.problems]
    records = bucket_records(desk)
    engine = make_engine(dsn_for(desk.desk, "routing"), schema=schema_for(desk.desk, "routing"))
    try:
        journaled = [rec.seq for rec in read_journal(engine)]
    finally:
        engine.dispose()
    sealed = sorted(r.seq for r in records if r.source == SOURCE_JOURNAL)
    assert sealed == journaled, "every record routing journaled is in the bucket, once"
    in_bucket = {r.order_id for r in records if r.source == SOURCE_JOURNAL and r.kind == "pending_new"}
    assert set(acked) <= in_bucket, "the orders acknowledged while compliance was down are sealed too"
    seals = [r for r in records if r.source == SOURCE_COMPLIANCE and r.kind == "seal"]
    assert any(r.payload["actor"] == SEAL_ACTOR and "stop" in r.payload["reason"] for r in seals), seals
    said = "\n".join(desk.lines)
    assert "compliance (pid" in said and "killed by SIGKILL" in said and "starting it again" in said, said
    assert "audit trail sealed" in said, said


async def test_a_stop_says_loudly_when_compliance_cannot_come_back_to_seal(tmp_path: Path) -> None:
    desk = await RunningDesk(write_desk(tmp_path, slow_restarts)).start()
    assert desk.embedded is not None
    supervisor = Supervisor(desk.embedded, report=desk.lines.append)
    supervised = asyncio.create_task(supervisor.run())
    try:
        await kill_compliance_while_trading(desk, supervisor)
        # its disk is gone: a file where its spool was, so the compliance the stop starts again exits at once
        spool = data_dir(desk.desk) / "audit-spool"
        shutil.move(spool, spool.with_name("audit-spool.lost"))
        spool.write_text("not a directory\n")
    finally:
        await end_supervision(supervised)
        await desk.embedded.stop(report=desk.lines.append)
    said = "\n".join(desk.lines)
    assert "AUDIT TRAIL NOT SEALED" in said, said
    assert "compliance exited" in said and "tradingdesk up" in said and "audit-seal.md" in said, said
    assert all(c.process.returncode is not None for c in desk.embedded.children.values())
