"""A kill switch pulled during a database outage holds even if the risk process crashes before the database
answers: the restarted risk service journals the halt its predecessor held back (``risk/held_back.py``) and the
scope stays halted. Before, the halt lived in the crashed process's memory only, and the desk came back trading
the scope an operator had halted."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.desk_runner import DeskProcess, wait_for, wait_until, write_desk
from tests.integration.test_database_down import HELD_BACK_REASON, HELD_BACK_SCOPE, _journaled, database
from tests.integration.test_supervision import restarted, service, sigkill, status, supervised
from tradingdesk.v1 import common_pb2, risk_pb2, risk_pb2_grpc

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
__all__ = ["database"]  # the fixture: a PostgreSQL cluster of the test's own


async def test_a_halt_held_back_during_an_outage_survives_a_crash_of_risk(tmp_path: Path, database, monkeypatch):
    monkeypatch.setenv("TD_DSN", database.dsn)
    desk = DeskProcess(write_desk(tmp_path, supervised(restartBackoffInitialMs=200)))
    try:
        desk.wait_up()
        wait_until(lambda: len(status(desk).get("services", {})) == 5, timeout=30, what="the supervisor's status")
        await asyncio.to_thread(database.down, how="refuse")
        async with desk.aio_channel("risk") as risk_ch:
            risk = risk_pb2_grpc.RiskServiceStub(risk_ch)
            killed = await risk.KillSwitch(
                risk_pb2.KillSwitchRequest(scope=HELD_BACK_SCOPE, actor="sre", reason=HELD_BACK_REASON), timeout=30
            )
            assert killed.state.state == common_pb2.TRADING_STATE_HALTED
        sigkill(desk, "risk")  # before the database answers: the halt is in no journal yet
        await asyncio.to_thread(database.up)
        wait_until(lambda: restarted(desk, "risk"), timeout=90, what="risk restarted and serving")
        async with desk.aio_channel("risk") as risk_ch:
            risk = risk_pb2_grpc.RiskServiceStub(risk_ch)
            state = await risk.GetTradingState(risk_pb2.GetTradingStateRequest(scope=HELD_BACK_SCOPE), timeout=10)
            assert state.state == common_pb2.TRADING_STATE_HALTED, state
            assert state.reason == HELD_BACK_REASON
            await wait_for(lambda: _journaled(risk, HELD_BACK_REASON), timeout=30, what="the held-back kill journaled")
        assert service(desk, "risk")["state"] == "serving"
        assert not list((tmp_path / "var").rglob("held-back-changes.jsonl")), "journaled: the file is emptied"
    finally:
        if desk.proc.poll() is None:
            assert desk.stop() == 0, desk.log.read_text()[-3000:]
