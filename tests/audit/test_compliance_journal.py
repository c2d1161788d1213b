"""Compliance recording real source journals over gRPC (routing's order journal, risk's change journal): every
event into the log, a new journal as a new incarnation (its seq 1 is never dropped), and a journal that goes
backwards or forks refused loudly, while the other source goes on being recorded. And risk's own reader of the
routing journal, which must not take a new journal's seqs for the old one's either."""

from __future__ import annotations

import shutil
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.desk_runner import wait_for, write_desk
from tradingdesk.audit.checkpoint import VerifierKey
from tradingdesk.audit.fs_bucket import FilesystemBucket
from tradingdesk.audit.verify import verify_bucket
from tradingdesk.compliance.service import ComplianceService
from tradingdesk.risk.service import RiskService
from tradingdesk.routing.service import RoutingService
from tradingdesk.runtime.service import RunningService, start_service
from tradingdesk.spec.load import load_desk
from tradingdesk.v1 import compliance_pb2, compliance_pb2_grpc

pytestmark = pytest.mark.slow


class Desk:
    """Routing and compliance in this process, on the spec's ports; routing's database can be swapped."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.desk = load_desk(
            write_desk(tmp, lambda d: d["spec"]["compliance"].update(checkpoints={"everySeconds": 1}))
        )
        self.routing: RunningService | None = None
        self.risk: RunningService | None = None
        self.compliance: RunningService | None = None
        self.ts = 1_767_225_600_000_000_000

    def address(self, service: str) -> str:
        return f"127.0.0.1:{self.desk.spec.services.port_of(service)}"

    def routing_db(self, name: str) -> Path:
        return self.tmp / f"{name}.db"

    async def start_routing(self, db: str) -> None:
        service = RoutingService(self.desk, dsn=f"sqlite:///{self.routing_db(db)}")
        self.routing = await start_service(service, self.address("routing"))

    async def stop_routing(self) -> None:
        assert self.routing is not None
        await self.routing.stop(grace=0.5)
        self.routing = None

    async def start_risk(self, db: str) -> None:
        service = RiskService(self.desk, dsn=f"sqlite:///{self.routing_db(db)}", environ={})
        self.risk = await start_service(service, self.address("risk"))

    async def stop_risk(self) -> None:
        assert self.risk is not None
        await self.risk.stop(grace=0.5)
        self.risk = None

    async def start_compliance(self) -> None:
        self.compliance = await start_service(ComplianceService(self.desk), self.address("compliance"))

    def journal(self, n: int, kind: str = "incident") -> None:
        """Append ``n`` events to routing's journal (they stream to compliance like order events)."""
        assert self.routing is not None
        journal = self.routing.service.journal
        for i in range(n):
            self.ts += 1000
            journal.append(kind, "", {"account": "ACC-EQ-1", "note": f"{kind} {i}"}, self.ts)
        journal.wake()

    async def stub(self):
        channel = grpc.aio.insecure_channel(self.address("compliance"))
        return channel, compliance_pb2_grpc.ComplianceServiceStub(channel)

    async def stop(self) -> None:
        for running in (self.routing, self.risk, self.compliance):
            if running is not None:
                await running.stop(grace=0.5)


async def recorded(stub, incarnation: str = "") -> list:
    resp = await stub.QueryAudit(compliance_pb2.QueryAuditRequest(limit=10_000, incarnation=incarnation))
    return list(resp.events)


async def health(desk: Desk) -> int:
    async with grpc.aio.insecure_channel(desk.address("compliance")) as ch:
        resp = await health_pb2_grpc.HealthStub(ch).Check(
            health_pb2.HealthCheckRequest(service="tradingdesk.v1.ComplianceService")
        )
        return resp.status


async def test_the_last_batch_before_a_quiet_spell_is_settled(tmp_path: Path) -> None:
    """Compliance writes a batch while it encodes the next; the last one before the journal goes quiet must still
    move its position (what a seal waits for, what the mirrored-seq gauge shows) without waiting for more."""
    desk = Desk(tmp_path)
    try:
        await desk.start_routing("quiet")
        await desk.start_compliance()
        channel, stub = await desk.stub()
        desk.journal(3)

        async def position() -> int:
            return (await stub.QueryAudit(compliance_pb2.QueryAuditRequest(limit=1))).last_seq

        await wait_for(lambda: _count(stub, 4), timeout=30)  # the incarnation record and the 3 events
        await wait_for(lambda: _equals(position(), 3), timeout=30, what="compliance's position at seq 3")
        sealed = await stub.Seal(compliance_pb2.SealRequest(actor="test", reason="quiet"), timeout=30)
        assert sealed.journal_seq == 3
        await channel.close()
    finally:
        await desk.stop()


async def _equals(value, expected: int) -> bool:
    return await value == expected


async def test_new_journal_is_a_new_incarnation_and_nothing_is_dropped(tmp_path: Path) -> None:
    desk = Desk(tmp_path)
    try:
        await desk.start_routing("first")
        await desk.start_compliance()
        channel, stub = await desk.stub()
        desk.journal(30)
        await wait_for(lambda: _count(stub, 31), timeout=30)  # 30 events and the incarnation record
        first = (await recorded(stub))[1].incarnation

        # Routing moves to a fresh volume: a new journal, seqs from 1 again, a new incarnation.
        await desk.stop_routing()
        await desk.start_routing("second")
        desk.journal(5)
        await wait_for(lambda: _count(stub, 37), timeout=30)
        events = await recorded(stub)
        second = events[-1].incarnation
        assert second != first
        start = events[31]
        assert (start.kind, start.source, start.incarnation) == ("journal_incarnation", "compliance", second)
        assert f'"previous":"{first}"' in start.payload_json and '"previous_last_seq":30' in start.payload_json
        assert [e.seq for e in events[32:]] == [1, 2, 3, 4, 5]  # seq 1..5 again, none dropped
        assert [e.seq for e in await recorded(stub, incarnation=first)][-1] == 30

        sealed = await stub.Seal(compliance_pb2.SealRequest(actor="test", reason="check"), timeout=30)
        assert sealed.tree_size == 38  # and the seal record itself
        key = VerifierKey.parse((await stub.GetCheckpoint(compliance_pb2.GetCheckpointRequest())).public_key)
        report = verify_bucket(FilesystemBucket(tmp_path / "audit" / "us-equities"), key)
        assert report.ok, [str(p) for p in report.problems]
        assert report.incarnations == [first, second]
        await channel.close()
    finally:
        await desk.stop()


async def test_a_journal_that_goes_backwards_or_forks_is_refused_loudly(tmp_path: Path) -> None:
    desk = Desk(tmp_path)
    try:
        await desk.start_routing("live")
        await desk.start_compliance()
        channel, stub = await desk.stub()
        desk.journal(10)
        await wait_for(lambda: _count(stub, 11), timeout=30)
        await desk.stop_routing()
        for suffix in ("", "-wal", "-shm"):  # a backup taken now, with the same incarnation
            src = tmp_path / f"live.db{suffix}"
            if src.exists():
                shutil.copy(src, tmp_path / f"backup.db{suffix}")
        await desk.start_routing("live")
        desk.journal(20)
        await wait_for(lambda: _count(stub, 31), timeout=30)

        # Restored from the backup: same incarnation, but it ends at seq 10 while the log holds seq 30.
        await desk.stop_routing()
        for suffix in ("", "-wal", "-shm"):
            (tmp_path / f"live.db{suffix}").unlink(missing_ok=True)
            if (tmp_path / f"backup.db{suffix}").exists():
                shutil.copy(tmp_path / f"backup.db{suffix}", tmp_path / f"live.db{suffix}")
        await desk.start_routing("live")
        await wait_for(lambda: _refusing(stub, "went backwards"), timeout=30)
        assert await health(desk) == health_pb2.HealthCheckResponse.NOT_SERVING
        status = await stub.GetCheckpoint(compliance_pb2.GetCheckpointRequest())
        assert "ends at seq 10, the audit log already holds seq 30" in status.refusing

        # The restored journal takes other events at seqs 11..30: a fork. Still refused, nothing dropped.
        desk.journal(25, kind="after_restore")
        await wait_for(lambda: _refusing(stub, "forked: its event at seq 30 differs"), timeout=30)
        # The refusal is served as soon as it is decided; its record reaches the log right after.
        await wait_for(lambda: _refusals(stub, 2), timeout=30, what="both refusals recorded in the log")
        events = await recorded(stub)
        journal = [e for e in events if e.kind != "source_refused"]
        assert len(journal) == 31 and all(e.kind != "after_restore" for e in events)
        assert await health(desk) == health_pb2.HealthCheckResponse.NOT_SERVING
        # Each refusal is in the log too, once per reason, naming the source and what was recorded of it.
        refusals = [e for e in events if e.kind == "source_refused"]
        assert [e.source for e in refusals] == ["compliance", "compliance"]
        assert "went backwards" in refusals[0].payload_json and "forked" in refusals[1].payload_json
        assert all('"source":"journal"' in e.payload_json and '"recorded_seq":30' in e.payload_json for e in refusals)
        await channel.close()
    finally:
        await desk.stop()


async def _count(stub, n: int) -> bool:
    return len(await recorded(stub)) >= n


async def _refusals(stub, n: int) -> bool:
    return sum(e.kind == "source_refused" for e in await recorded(stub)) >= n


async def _refusing(stub, text: str) -> bool:
    status = await stub.GetCheckpoint(compliance_pb2.GetCheckpointRequest())
    return text in status.refusing


def copy_db(tmp: Path, src: str, dst: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        (tmp / f"{dst}.db{suffix}").unlink(missing_ok=True)
        if (tmp / f"{src}.db{suffix}").exists():
            shutil.copy(tmp / f"{src}.db{suffix}", tmp / f"{dst}.db{suffix}")


async def test_risk_changes_are_a_source_of_their_own(tmp_path: Path) -> None:
    """Risk's change journal is recorded beside the order journal; a new risk database is a new incarnation, and
    one restored from an old backup is refused (loudly, in the log too) while the order journal goes on."""
    desk = Desk(tmp_path)
    try:
        await desk.start_routing("routing")
        await desk.start_risk("risk")
        await desk.start_compliance()
        channel, stub = await desk.stub()
        state = desk.risk.service.state

        async def risk_records(n: int, kind: str = "") -> list:
            resp = await stub.QueryAudit(compliance_pb2.QueryAuditRequest(source="risk", kind=kind, limit=10_000))
            return list(resp.events) if len(resp.events) >= n else []

        first = await wait_for(lambda: risk_records(1), timeout=30)  # the spec's state, journaled at start
        incarnation = first[0].incarnation
        await state.kill(("", ""), "amy", "drill", door="cli")
        await state.resume(("", ""), "bob", "over", door="grpc")
        changes = await wait_for(lambda: risk_records(3), timeout=30)
        assert [(e.seq, e.kind) for e in changes][-2:] == [(2, "trading_state"), (3, "trading_state")]
        assert '"door":"cli"' in changes[1].payload_json and '"actor":"amy"' in changes[1].payload_json

        # Risk restored from a backup taken now, after two more changes were recorded: it went backwards.
        await desk.stop_risk()
        copy_db(tmp_path, "risk", "risk-backup")
        await desk.start_risk("risk")
        await desk.risk.service.state.kill(("", ""), "cy", "again", door="grpc")
        await desk.risk.service.state.resume(("", ""), "cy", "done", door="grpc")
        await wait_for(lambda: risk_records(5), timeout=30)
        await desk.stop_risk()
        copy_db(tmp_path, "risk-backup", "risk")
        await desk.start_risk("risk")
        await wait_for(lambda: _refusing(stub, "risk " + incarnation + " went backwards"), timeout=30)
        assert await health(desk) == health_pb2.HealthCheckResponse.NOT_SERVING
        desk.journal(3)  # the order journal is still recorded meanwhile
        await wait_for(lambda: _count(stub, 4 + 5), timeout=30)
        (refusal,) = [e for e in await recorded(stub) if e.kind == "source_refused"]
        assert '"source":"risk"' in refusal.payload_json and '"recorded_seq":5' in refusal.payload_json

        # A fresh risk database: a new incarnation, recorded from its seq 1 after a record naming the old one.
        await desk.stop_risk()
        await desk.start_risk("risk-fresh")
        await wait_for(lambda: not _refusing_now(desk), timeout=30)
        starts = [e for e in await recorded(stub) if e.kind == "journal_incarnation" and '"risk"' in e.payload_json]
        assert len(starts) == 2 and f'"previous":"{incarnation}"' in starts[1].payload_json
        assert '"previous_last_seq":5' in starts[1].payload_json
        fresh = await wait_for(lambda: risk_records(6), timeout=30)
        assert (fresh[-1].seq, fresh[-1].incarnation) == (1, starts[1].incarnation)
        await channel.close()
    finally:
        await desk.stop()


async def test_risk_reads_a_new_routing_journal_from_its_first_event(tmp_path: Path) -> None:
    desk = Desk(tmp_path)
    try:
        await desk.start_routing("first")
        await desk.start_risk("risk")
        rt = desk.risk.service.rt
        desk.journal(30)
        await wait_for(lambda: rt.last_seq == 30, timeout=30)
        first = desk.risk.service.journal_incarnation

        await desk.stop_routing()
        await desk.start_routing("second")  # a fresh database: seqs from 1 again
        desk.journal(5)
        await wait_for(lambda: desk.risk.service.journal_incarnation not in ("", first), timeout=30)
        await wait_for(lambda: rt.last_seq == 5, timeout=30)
        warning = [e for e in desk.risk.service.state.events if e.metric == "journal"]
        assert len(warning) == 1 and "is a new one" in warning[0].message and first in warning[0].message
    finally:
        await desk.stop()


def _refusing_now(desk: Desk) -> bool:
    return bool(desk.compliance.service.sources["risk"].refusing)
