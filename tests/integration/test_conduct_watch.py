"""Surveillance wired to the journal: an order engine on real simulated venues journals what the desk does, the
compliance service's conduct watch reads that journal (and the market) into a real SQLite store and raises
each detector's alert once, for a crafted sequence, and nothing for a similar innocent one. A restarted watch
still sees a pattern that straddles the restart."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tests.unit.desk_fixtures import D, Desk, default_limits, make_desk, order
from tradingdesk.compliance.conduct import ConductWatch
from tradingdesk.core.activity import MarketPrint
from tradingdesk.core.clock import NS_PER_SECOND, ManualClock
from tradingdesk.core.enums import SelfMatchMode, Side, TimeInForce
from tradingdesk.markets.calendar_source import load_calendar
from tradingdesk.oms.requests import OrderRef
from tradingdesk.risk.gate.self_match import SelfMatchPolicy
from tradingdesk.spec import parse_desk
from tradingdesk.storage.conduct_store import ConductStore
from tradingdesk.storage.db import make_engine, migrate

SECOND = NS_PER_SECOND


def ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * SECOND


def spec(surveillance: dict | None = None):
    return parse_desk(
        {
            "apiVersion": "tradingdesk.io/v1alpha1",
            "kind": "TradingDesk",
            "metadata": {"name": "conduct"},
            "spec": {
                "instruments": [{"symbol": "AAPL"}, {"symbol": "MSFT"}],
                "accounts": [{"name": "ACC"}, {"name": "ACC2"}, {"name": "ACC3"}],
                "feeds": [{"name": "f"}],
                "venues": [{"name": "xnys"}, {"name": "xnas"}],
                "conduct": {
                    "surveillance": {
                        "beneficialOwners": [{"name": "fund-x", "accounts": ["ACC", "ACC2"]}],
                        **(surveillance or {}),
                    }
                },
            },
        }
    )


class Scene:
    """An order engine and a conduct watch sharing the manual clock; ``pump`` hands the watch the journal
    records it has not seen, as StreamJournal would."""

    def __init__(self, tmp: Path, when: str, surveillance: dict | None = None, db: str = "conduct.db") -> None:
        self.clock = ManualClock(ns(when))
        self.d: Desk = make_desk(
            default_limits(price_collar_bps=2_000),
            clock=self.clock,
            self_match=SelfMatchPolicy("account", SelfMatchMode.CANCEL_NEWEST),
        )
        engine = make_engine(f"sqlite:///{tmp / db}")
        migrate(engine)
        self.store = ConductStore(engine)
        self.desk = spec(surveillance)
        calendar = load_calendar("XNYS", start=date(2024, 6, 3), end=date(2024, 12, 31))
        self.calendars = {"AAPL": calendar, "MSFT": calendar}
        self.watch = ConductWatch(self.desk, store=self.store, clock=self.clock, calendars=self.calendars)
        self.seen = 0

    def market(self, bid: str = "99.99", ask: str = "100.01", last: str | None = "100.00") -> None:
        if last is not None:
            self.d.trade("AAPL", last, "10")
            self.watch.take_market(MarketPrint(self.clock.now_ns(), "AAPL", D(last), D("10")))
        self.d.quote("AAPL", bid, "200", ask, "200")
        self.watch.take_quote(
            "AAPL", bid=D(bid), ask=D(ask), bid_qty=D("200"), ask_qty=D("200"), ts_ns=self.clock.now_ns()
        )

    def submit(self, **kw) -> str:
        oid = self.d.engine.submit(order(cl=f"c{len(self.d.engine.orders)}", **kw)).order.order_id
        self.deliver()
        return oid

    def cancel(self, account: str, order_id: str) -> None:
        self.d.engine.cancel(OrderRef(account, order_id, ""))
        self.deliver()

    def deliver(self) -> None:
        self.d.scheduler.advance(0.001)
        records = self.d.journal.records[self.seen :]
        self.seen = len(self.d.journal.records)
        for r in records:
            self.watch.take_journal(r.seq, r.kind, r.order_id, r.ts_ns, json.dumps(r.payload))

    def trades(self) -> int:
        return sum(r.kind == "trade" for r in self.d.journal.records)

    async def later(self, seconds: float) -> list:
        """Let time pass and the watch take a step: the alerts it stored now."""
        self.d.scheduler.advance(seconds)
        return await self.watch.step()


async def test_a_wash_trade_between_linked_accounts_is_one_alert_and_unlinked_accounts_are_none(tmp_path) -> None:
    s = Scene(tmp_path, "2024-07-02 15:00")
    s.market()
    sell = s.submit(account="ACC", side=Side.SELL, qty="100", price="100.00", venue="xnys")
    buy = s.submit(account="ACC2", qty="100", price="100.00", venue="xnys")  # SMP is per account: they trade
    (alert,) = await s.later(3)
    assert alert.detector == "wash_trade" and alert.owner == "fund-x"
    assert set(alert.accounts) == {"ACC", "ACC2"} and set(alert.order_ids) == {sell, buy}
    assert "fund-x bought 100 AAPL at 100" in alert.summary
    assert await s.later(3) == [], "stored once"
    innocent = Scene(tmp_path, "2024-07-02 15:00", db="innocent.db")
    innocent.market()
    innocent.submit(account="ACC", side=Side.SELL, qty="100", price="100.00", venue="xnys")
    innocent.submit(account="ACC3", qty="100", price="100.00", venue="xnys")  # another owner: a real trade
    assert innocent.trades() == 2
    assert await innocent.later(3) == []
    stored = s.store.alerts(detector="wash_trade", account="ACC2")
    assert [a.alert.order_ids for a in stored] == [alert.order_ids]


async def test_spoofing_and_layering_through_the_journal(tmp_path) -> None:
    for levels, detector in ((1, "spoofing"), (3, "layering")):
        s = Scene(tmp_path, "2024-07-02 15:00", db=f"{detector}.db")
        s.market()
        large = [
            s.submit(account="ACC", side=Side.SELL, qty="1000", price=f"100.0{2 + i}", venue="xnys")
            for i in range(levels)
        ]
        s.d.scheduler.advance(1)
        s.submit(account="ACC", qty="100", price="100.01", venue="xnas")  # fills against the market's offer
        s.d.scheduler.advance(1)
        for oid in large:
            s.cancel("ACC", oid)
        (alert,) = await s.later(10)
        assert alert.detector == detector and set(large) <= set(alert.order_ids)
    innocent = Scene(tmp_path, "2024-07-02 15:00", db="innocent.db")
    innocent.market()
    oid = innocent.submit(account="ACC", side=Side.SELL, qty="1000", price="100.02", venue="xnys")
    innocent.d.scheduler.advance(1)
    innocent.submit(account="ACC", qty="100", price="100.01", venue="xnas")
    innocent.d.scheduler.advance(30)  # cancelled long after the execution: not a spoof
    innocent.cancel("ACC", oid)
    assert innocent.trades() >= 1 and innocent.d.engine.orders[oid].status.name == "CANCELED"
    assert await innocent.later(10) == []


async def test_order_to_trade_ratio_over_the_window(tmp_path) -> None:
    otr = {"orderToTrade": {"windowS": 60, "maxRatio": 5, "minMessages": 20}}
    s = Scene(tmp_path, "2024-07-02 15:00", otr)
    s.market()
    for i in range(12):
        s.cancel("ACC3", s.submit(account="ACC3", qty="1", price=f"9{i % 9}.00", venue="xnys"))
    (alert,) = await s.later(62)
    assert alert.detector == "order_to_trade" and alert.accounts == ("ACC3",)
    assert dict(alert.figures)["messages"] == "24" and dict(alert.figures)["trades"] == "0"
    busy = Scene(tmp_path, "2024-07-02 15:00", otr, db="busy.db")
    busy.market()
    for i in range(12):  # the same messages, with trades: a ratio of 4
        busy.cancel("ACC3", busy.submit(account="ACC3", qty="1", price=f"9{i % 9}.00", venue="xnys"))
    for _ in range(6):
        busy.submit(account="ACC3", qty="1", price="100.05", venue="xnys", tif=TimeInForce.IOC)
    assert busy.trades() == 6
    assert await busy.later(62) == []


async def test_marking_the_close(tmp_path) -> None:
    s = Scene(tmp_path, "2024-07-02 19:45")  # 15:45 in New York
    s.market(last="100.00")
    s.d.scheduler.advance(6 * 60)  # into the last 10 minutes
    for i, ask in enumerate(("100.21", "100.31", "100.41")):
        s.market(bid=f"100.{19 + 10 * i}", ask=ask, last=f"100.{20 + 10 * i}")
        s.submit(account="ACC", qty="500", price=ask, venue="xnys")
        s.d.scheduler.advance(60)
    s.d.scheduler.advance(10 * 60)  # past the 16:00 close
    (alert,) = await s.later(3)
    assert alert.detector == "marking_close" and alert.owner == "fund-x" and alert.symbol == "AAPL"
    steady = Scene(tmp_path, "2024-07-02 19:45", db="steady.db")  # the same buying; the price does not move
    steady.market(last="100.00")
    steady.d.scheduler.advance(6 * 60)
    for _ in range(3):
        steady.market(bid="99.99", ask="100.01", last="100.00")
        steady.submit(account="ACC", qty="500", price="100.01", venue="xnys")
        steady.d.scheduler.advance(60)
    steady.d.scheduler.advance(10 * 60)
    assert steady.trades() == 3
    assert await steady.later(3) == []


async def test_a_restarted_watch_sees_a_pattern_that_straddles_the_restart(tmp_path) -> None:
    s = Scene(tmp_path, "2024-07-02 15:00")
    s.market()
    sell = s.submit(account="ACC", side=Side.SELL, qty="100", price="100.00", venue="xnys")
    assert await s.later(3) == []
    await s.watch.stop()
    assert s.store.position() == ("", s.watch.position) and s.watch.position == len(s.d.journal.records)
    s.watch = ConductWatch(s.desk, store=s.store, clock=s.clock, calendars=s.calendars)
    await s.watch.start()  # reads back what it stored; its subscriptions find no desk here and retry
    await s.watch.wait_ready()
    try:
        assert s.watch.position == len(s.d.journal.records)
        buy = s.submit(account="ACC2", qty="100", price="100.00", venue="xnys")
        (alert,) = await s.later(3)
        assert set(alert.order_ids) == {sell, buy}
    finally:
        await s.watch.stop()


@pytest.fixture(autouse=True)
def _quiet_logs(caplog) -> None:
    caplog.set_level("ERROR", logger="tradingdesk.compliance.conduct")
