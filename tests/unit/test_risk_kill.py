"""The order engine's side of the kill switch: mass cancel of a scope on every venue, flatten, the incident
report in the journal, and a rebuild that restores the gate's exposure and latches."""

from __future__ import annotations

from dataclasses import replace

from tests.unit.desk_fixtures import D, ListJournal, default_limits, make_desk
from tests.unit.test_risk_gate import desk, new, passes
from tradingdesk.core.enums import OrderStatus, Side
from tradingdesk.risk.scope import DESK_SCOPE

S = OrderStatus


def resting(d, n: int, **kw) -> list[str]:
    return [passes(d, new(qty="1", price=f"{99 - (i % 50) / 100:.2f}", **kw)) for i in range(n)]


def test_desk_halt_cancels_every_open_order_on_every_venue() -> None:
    d = desk()
    ids = []
    for venue in ("xnys", "xnas", "bats"):
        for i in range(40):
            req = new(qty="1", price=f"{98 + i / 100:.2f}", account="ACC" if i % 2 else "ACC2")
            ids.append(d.engine.submit(replace(req, venue=venue)).order.order_id)
    d.settle()
    assert {len(v.open_orders()) for v in d.venues.values()} == {40}
    report = d.engine.halt_scope(actor="ops", reason="drill", changed_ns=123, kill_id="K1")
    assert all(not v.open_orders() for v in d.venues.values()), "orders leave the books at once"
    d.settle()
    assert d.engine.open_count == 0 and not d.engine.open_orders
    assert all(d.engine.orders[i].status == S.CANCELED for i in ids)
    assert report.open_orders == 120 and sorted(report.cancelled) == sorted(ids)
    incidents = [r for r in d.journal.records if r.kind == "incident"]
    assert len(incidents) == 1
    p = incidents[0].payload
    assert (p["actor"], p["reason"], p["kill_id"], p["state_changed_ns"]) == ("ops", "drill", "K1", 123)
    assert len(p["cancelled"]) == 120
    d.engine.halt_scope(actor="ops", reason="drill", changed_ns=123, kill_id="K1")
    assert len([r for r in d.journal.records if r.kind == "incident"]) == 1, "one report per state change"
    assert d.gate.books[DESK_SCOPE].open_notional == 0


def test_account_and_strategy_halts_cancel_only_their_orders() -> None:
    d = desk()
    mine = resting(d, 10, account="ACC", strategy="algo")
    other_strategy = resting(d, 5, account="ACC", strategy="manual")
    other_account = resting(d, 5, account="ACC2")
    d.settle()
    d.engine.halt_scope("ACC", "algo", actor="ops", reason="algo runaway", changed_ns=1)
    d.settle()
    assert all(d.engine.orders[i].status == S.CANCELED for i in mine)
    assert all(d.engine.orders[i].status == S.NEW for i in other_strategy + other_account)
    d.engine.halt_scope("ACC", "", actor="ops", reason="account", changed_ns=2)
    d.settle()
    assert all(d.engine.orders[i].status == S.CANCELED for i in other_strategy)
    assert all(d.engine.orders[i].status == S.NEW for i in other_account)
    assert d.engine.open_count == 5


def test_halt_cancels_a_pending_replace_and_its_replacement() -> None:
    from tradingdesk.oms.requests import OrderRef, ReplaceRequest

    d = desk()
    oid = passes(d, new(qty="10", strategy="algo"))
    d.settle()
    d.engine.replace(ReplaceRequest(ref=OrderRef("ACC", oid, ""), new_client_order_id="r1", qty=D("20"), price=None))
    d.engine.halt_scope("ACC", "algo", actor="ops", reason="x", changed_ns=5)
    d.settle()
    assert d.engine.open_count == 0
    assert all(not v.open_orders() for v in d.venues.values())


def test_flatten_closes_positions_with_market_orders() -> None:
    d = desk()
    passes(d, new(qty="150", price="100.05"))
    passes(d, new(side=Side.SELL, symbol="MSFT", qty="20", price="399.95"))
    d.settle()
    resting(d, 3)
    d.settle()
    assert d.engine.positions.qty("ACC", "AAPL") == D("150")
    report = d.engine.halt_scope("ACC", actor="ops", reason="flatten drill", changed_ns=9, flatten=True)
    d.settle()
    assert len(report.flatten_orders) == 2
    assert d.engine.positions.qty("ACC", "AAPL") == 0 and d.engine.positions.qty("ACC", "MSFT") == 0
    assert d.engine.open_count == 0
    incident = next(r for r in d.journal.records if r.kind == "incident").payload
    held = {p["symbol"]: p["qty"] for p in incident["positions"]}
    assert held == {"AAPL": "150", "MSFT": "-20"}, "the report shows the positions when the switch was pulled"
    assert incident["flatten"] is True


def test_rebuild_restores_exposure_latches_and_incidents() -> None:
    d = desk(max_repeated_executions=1, repeated_execution_window_ms=10**6, max_gross_exposure=D("10000000"))
    passes(d, new(qty="5", price="100.05", strategy="algo"))
    d.settle()
    passes(d, new(qty="5", price="100.05", strategy="algo"))
    d.settle()
    resting(d, 4, strategy="manual")
    d.settle()
    d.engine.halt_scope("ACC", "manual", actor="ops", reason="x", changed_ns=77)
    resting(d, 2, account="ACC2")
    d.settle()
    twin = make_desk(
        default_limits(max_repeated_executions=1, repeated_execution_window_ms=10**6), journal=ListJournal()
    )
    twin.engine.rebuild(d.journal.records)
    assert ("ACC", "algo") in twin.gate.latches
    assert ("ACC", "manual", 77) in twin.engine.incidents
    for key, book in d.gate.books.items():
        other = twin.gate.books[key]
        for sym, se in book.symbols.items():
            assert (other.symbols[sym].position, other.symbols[sym].open_buy, other.symbols[sym].open_sell) == (
                se.position,
                se.open_buy,
                se.open_sell,
            ), key
        assert other.open_notional == book.open_notional, key
    assert twin.engine.unseated == set(twin.engine.open_orders)
    # A halt before the reseat closes the recovered orders directly: they are on no venue yet.
    twin.engine.halt_scope(actor="ops", reason="after restart", changed_ns=78)
    assert twin.engine.open_count == 0 and twin.gate.books[DESK_SCOPE].open_notional == 0
