"""Halts held back during a database outage survive a crash of the risk process: the held-back file keeps them
until the journal does, and the next risk process journals what it still holds, each change once, before it
restores its state (on a real SQLite change journal)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.desk_runner import EXAMPLE
from tradingdesk.core.clock import ManualClock
from tradingdesk.core.enums import TradingState
from tradingdesk.core.events import TradingStateChanged
from tradingdesk.risk.held_back import HeldBackFile
from tradingdesk.risk.limits import Limits
from tradingdesk.risk.monitor import RealTimeRisk
from tradingdesk.risk.state import RiskState
from tradingdesk.spec import parse_desk
from tradingdesk.spec.domain import instruments_of
from tradingdesk.storage.db import make_engine, prepare_schema
from tradingdesk.storage.risk_store import RiskChangeStore

T0 = 1_796_308_200 * 10**9
SCOPE = ("ACC-EQ-1", "vwap")


def halt(ts_ns: int, reason: str = "pulled while the database was down") -> TradingStateChanged:
    return TradingStateChanged(
        ts_ns=ts_ns,
        actor="sre",
        reason=reason,
        account=SCOPE[0],
        strategy=SCOPE[1],
        state=TradingState.HALTED,
        kill_id=f"kill-{ts_ns}",
        door="grpc",
    )


def risk_state(tmp_path: Path) -> RiskState:
    """A risk process's state as it starts: the desk's spec, a real change journal, the held-back file."""
    desk = parse_desk(yaml.safe_load(EXAMPLE.read_text()))
    engine = make_engine(f"sqlite:///{tmp_path / 'risk.db'}")
    prepare_schema(engine)
    instruments = instruments_of(desk)
    return RiskState(
        desk,
        clock=ManualClock(T0 + 10**9),
        store=RiskChangeStore(engine),
        monitor=RealTimeRisk(
            Limits.from_spec(desk.spec.risk),
            sectors={s: i.sector for s, i in instruments.items()},
            lot_sizes={s: i.lot_size for s, i in instruments.items()},
        ),
        accounts={a.name: frozenset(a.strategies) for a in desk.spec.accounts},
        held_back_file=HeldBackFile.in_directory(tmp_path / "var"),
    )


def test_the_file_keeps_changes_in_order_and_leaves_out_a_last_line_cut_short(tmp_path: Path) -> None:
    held = HeldBackFile.in_directory(tmp_path)
    assert held.read() == []
    first, second = halt(T0), halt(T0 + 1, "again")
    held.append(first)
    held.append(second)
    assert held.read() == [first, second]
    with held.path.open("a") as f:
        f.write('{"ts_ns": 3, "act')  # a crash while appending: that halt was never answered
    assert held.read() == [first, second]
    held.clear()
    assert held.read() == [] and not held.path.exists()


def test_an_unreadable_line_before_the_last_is_an_error_not_a_lost_halt(tmp_path: Path) -> None:
    held = HeldBackFile.in_directory(tmp_path)
    held.path.write_text("not json\n")
    held.append(halt(T0))
    with pytest.raises(ValueError, match="line 1"):
        held.read()


def test_halts_a_crashed_risk_process_held_back_are_journaled_once_and_restored(tmp_path: Path) -> None:
    before = risk_state(tmp_path)
    before.restore()  # the spec's state journaled: the journal is a running desk's
    journaled_first = halt(T0)
    left_behind = halt(T0 + 1, "second kill, never journaled")
    before.held_back_file.append(journaled_first)
    before._write(journaled_first)  # written, then the crash came before the file was emptied
    before.held_back_file.append(left_behind)

    after = risk_state(tmp_path)  # the next risk process, on the same journal and data directory
    assert after.journal_left_behind() == 1
    after.restore()
    assert after.states[SCOPE].state == TradingState.HALTED
    reasons = [c.reason for c in after.store.history(limit=100)]
    assert reasons.count("pulled while the database was down") == 1
    assert reasons.count("second kill, never journaled") == 1
    assert not after.held_back_file.path.exists()
    assert risk_state(tmp_path).journal_left_behind() == 0  # nothing left: a third start writes nothing
