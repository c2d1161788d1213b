"""Journal snapshots of the order engine: a state restored from a snapshot, with the records after it replayed,
is the state a full replay of the journal builds (every part recovery rebuilds: orders in every state, the
client-id index, replaces in flight, positions, the gate's exposure books, its self-match book and latches).

Random order flows (hypothesis) with a snapshot taken at a random point of each, while orders keep flowing."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.desk_fixtures import D, Desk, ListJournal, default_limits, make_desk, order
from tradingdesk.core.enums import OrderStatus, SelfMatchMode, Side
from tradingdesk.core.reject import Reject
from tradingdesk.oms.requests import OrderRef, ReplaceRequest
from tradingdesk.oms.snapshot import EngineState, capture, restore
from tradingdesk.risk.gate.self_match import SelfMatchPolicy
from tradingdesk.storage.snapshots import decode_state, encode_state

SYMBOLS = ("AAPL", "MSFT")
MID = {"AAPL": 100, "MSFT": 400}


def limits() -> Any:
    return default_limits(
        max_submits_per_second=0,
        max_repeated_executions=3,
        repeated_execution_window_ms=10**6,
        max_gross_exposure=D("100000000"),
    )


def fresh_desk(kept: int | None = None) -> Desk:
    d = make_desk(
        limits(),
        journal=ListJournal(),
        self_match=SelfMatchPolicy("account", SelfMatchMode.CANCEL_NEWEST),
        finished_orders_kept=kept,
    )
    for symbol in SYMBOLS:
        mid = MID[symbol]
        d.trade(symbol, f"{mid}.00", "10")
        d.quote(symbol, f"{mid - 0.01:.2f}", "300", f"{mid + 0.01:.2f}", "300")
    return d


def twin(kept: int | None = None) -> Desk:
    """An engine as a restarted routing builds it: configured alike, no market data yet."""
    return make_desk(
        limits(),
        journal=ListJournal(),
        self_match=SelfMatchPolicy("account", SelfMatchMode.CANCEL_NEWEST),
        finished_orders_kept=kept,
    )


def recoverable_state(d: Desk) -> dict[str, Any]:
    """Everything recovery rebuilds, as comparable values."""
    engine = d.engine
    book, gate = engine.book, engine.gate
    exposure = gate.exposure
    books = {
        scope: (
            b.open_notional,
            b.position_value,
            b.gross,
            b.net_long,
            b.net_short,
            dict(b.sectors),
            {sym: tuple(getattr(se, slot) for slot in se.__slots__ if slot != "book") for sym, se in b.symbols.items()},
        )
        for scope, b in exposure.books.items()
    }
    open_entries = {
        oid: (e.open_qty, e.price, e.is_buy, tuple((se.book.scope, se.sector) for se in e.exposures))
        for oid, e in exposure._open.items()
    }
    smp = gate.self_match
    return {
        "orders": {oid: (o, o.terms) for oid, o in book.orders.items()},
        "open": list(book.open_orders),
        "by_client": dict(book.by_client),
        "requested_venue": dict(book.requested_venue),
        "replacing": dict(book.replacing),
        "replace_requests": dict(book.replace_requests),
        "incidents": set(book.incidents),
        "expiring": set(book.expiring),
        "unacknowledged": set(book.unacknowledged),
        "created_seq": dict(engine.created_seq),
        "finished": list(book.finished),
        "retired": book.retired.items(),
        "positions": engine.positions.all(),
        "exposure": books,
        "exposure_open": open_entries,
        "exposure_replacing": dict(exposure._replacements),
        "self_match": {oid: w for oid, (_, w) in smp._orders.items()} if smp is not None else None,
        "latches": dict(gate.latches),
        "unseated": set(engine.unseated),
    }


def marked(d: Desk) -> Desk:
    """After a restart the marks come with the first trades; until then a snapshot values exposure at the marks
    it was taken with, a full replay at fill prices. Both are identical once every symbol has traded."""
    for symbol in SYMBOLS:
        d.gate.exposure.mark(symbol, D(f"{MID[symbol]}.00"))
    return d


def run_op(d: Desk, op: tuple[str, int, int, int], n: int) -> None:
    kind, a, b, c = op
    engine = d.engine
    try:
        if kind == "submit":
            symbol = SYMBOLS[a % 2]
            side = Side.BUY if b % 2 else Side.SELL
            offset = (c % 7 - 3) * 0.01
            req = order(cl=f"c{n}", symbol=symbol, side=side, qty=str(1 + b % 40), price=f"{MID[symbol] + offset:.2f}")
            engine.submit(dataclasses.replace(req, account=("ACC", "ACC2")[c % 2], strategy=("", "algo")[a % 2]))
        elif kind in ("cancel", "replace") and engine.open_orders:
            target = list(engine.open_orders.values())[a % len(engine.open_orders)]
            ref = OrderRef(target.account, target.order_id, "")
            if kind == "cancel":
                engine.cancel(ref)
            else:
                engine.replace(
                    ReplaceRequest(ref=ref, new_client_order_id=f"r{n}", qty=target.qty + D("5"), price=None)
                )
        elif kind == "trade":
            symbol = SYMBOLS[a % 2]
            d.trade(symbol, f"{MID[symbol] + (b % 5 - 2) * 0.01:.2f}", str(1 + c % 50))
        if kind != "hold":
            d.settle() if c % 3 else None  # sometimes leave venue answers pending across the next step
    except Reject:
        pass  # refused by the gate or the engine: nothing journaled, as live


OPS = st.tuples(
    st.sampled_from(["submit", "submit", "submit", "cancel", "replace", "trade", "hold"]),
    st.integers(0, 1000),
    st.integers(0, 1000),
    st.integers(0, 1000),
)


def snapshot_bytes(d: Desk) -> tuple[int, bytes]:
    seq = len(d.journal.records)
    return seq, encode_state(capture(d.engine, seq=seq))


def from_snapshot(body: bytes, records: list, kept: int | None = None) -> Desk:
    state = decode_state(body)
    d = twin(kept)
    restore(d.engine, state)
    d.engine.rebuild(records[state.seq :])
    return d


def from_journal(records: list, kept: int | None = None) -> Desk:
    d = twin(kept)
    d.engine.rebuild(records)
    return d


@pytest.mark.parametrize("kept", [None, 3], ids=["every-finished-order-kept", "finished-orders-retired"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(OPS, min_size=1, max_size=60), at=st.integers(0, 60))
def test_restored_snapshot_plus_tail_equals_full_replay(kept: int | None, ops: list, at: int) -> None:
    d = fresh_desk(kept)
    seq, body = 0, b""
    for n, op in enumerate(ops):
        if n == min(at, len(ops) - 1):
            seq, body = snapshot_bytes(d)  # taken between two steps while orders flow on
        run_op(d, op, n)
    d.settle()
    records = d.journal.records
    restored = marked(from_snapshot(body, records, kept))
    replayed = marked(from_journal(records, kept))
    assert recoverable_state(restored) == recoverable_state(replayed)
    assert len(restored.engine.orders) == len(replayed.engine.orders)
    if kept is not None:
        assert len(replayed.engine.orders) - replayed.engine.open_count <= kept
    assert seq <= len(records)


def flow_in_every_state() -> Desk:
    """Orders open, partly filled, filled, cancelled, replaced and with a replace in flight, and a latch."""
    d = fresh_desk()
    engine = d.engine
    engine.submit(order(cl="open", qty="10", price="99.50"))
    engine.submit(order(cl="part", side=Side.SELL, qty="500", price="99.99"))  # takes the 300 bid
    engine.submit(order(cl="gone", qty="10", price="99.40"))
    engine.submit(order(cl="moved", qty="10", price="99.30"))
    d.settle()
    engine.cancel(OrderRef("ACC", "", "gone"))
    engine.replace(
        ReplaceRequest(ref=OrderRef("ACC", "", "moved"), new_client_order_id="moved-2", qty=D("20"), price=None)
    )
    d.settle()
    engine.submit(order(cl="filled", qty="5", price="100.05", account="ACC2"))
    d.settle()
    engine.submit(order(cl="inflight", qty="10", price="99.20"))
    d.settle()
    engine.replace(
        ReplaceRequest(ref=OrderRef("ACC", "", "inflight"), new_client_order_id="if-2", qty=D("30"), price=None)
    )
    return d  # the last replace is still at the venue


def test_the_hand_picked_flow_covers_every_state_and_restores_exactly() -> None:
    d = flow_in_every_state()
    _, body = snapshot_bytes(d)
    statuses = {o.client_order_id: o.status for o in d.engine.orders.values()}
    assert statuses["open"] == OrderStatus.NEW
    assert statuses["part"] == OrderStatus.PARTIALLY_FILLED
    assert statuses["gone"] == OrderStatus.CANCELED
    assert statuses["moved"] == OrderStatus.REPLACED and statuses["moved-2"] == OrderStatus.NEW
    assert statuses["filled"] == OrderStatus.FILLED
    assert statuses["inflight"] == OrderStatus.PENDING_REPLACE
    d.settle()
    d.engine.submit(order(cl="after", qty="3", price="99.10"))  # after the snapshot: replayed from the journal
    d.settle()
    records = d.journal.records
    restored, replayed = from_snapshot(body, records), from_journal(records)
    assert restored.engine.find(OrderRef("ACC", "", "after")).status == OrderStatus.NEW
    assert recoverable_state(marked(restored)) == recoverable_state(marked(replayed))
    # Idempotency works from the restored book: the same request again is the original acknowledgement.
    assert restored.engine.submit(order(cl="open", qty="10", price="99.50")).duplicate


def test_a_latch_the_journal_holds_comes_back_but_not_one_only_the_risk_service_sent() -> None:
    d = fresh_desk()
    for i in range(4):  # the fourth execution within the window trips the repeated-execution throttle
        d.engine.submit(order(cl=f"x{i}", qty="1", price="100.05"))
        d.settle()
    assert ("ACC", "") in d.gate.latches
    d.gate.latch(("ACC2", ""), 5, "sent by the risk service")  # not journaled: it sends it again on reconnect
    _, body = snapshot_bytes(d)
    restored = from_snapshot(body, d.journal.records)
    assert set(restored.gate.latches) == {("ACC", "")}
    assert restored.gate.latches == from_journal(d.journal.records).gate.latches


def test_restore_refuses_a_state_that_does_not_fit_the_engine() -> None:
    d = flow_in_every_state()
    state = decode_state(snapshot_bytes(d)[1])
    plain = make_desk(limits(), journal=ListJournal())  # no self-match book: the snapshot has one
    with pytest.raises(ValueError, match="self_match"):
        restore(plain.engine, state)
    assert plain.engine.orders == {}


def test_decoding_builds_only_tradingdesk_state() -> None:
    class Evil:
        def __reduce__(self) -> tuple:
            return (print, ("never",))

    body = pickle.dumps(EngineState(seq=1, parts={"book": Evil()}), protocol=5)
    with pytest.raises(pickle.UnpicklingError, match=r"builtins\.print"):
        decode_state(body)


def test_decoding_refuses_tradingdesk_code_outside_the_state() -> None:
    from tradingdesk.storage import backup

    class CallsARestore:
        def __reduce__(self) -> tuple:
            return (backup.restore, ("desk", [], "/nowhere"))

    body = pickle.dumps(EngineState(seq=1, parts={"book": CallsARestore()}), protocol=5)
    with pytest.raises(pickle.UnpicklingError, match=r"tradingdesk\.storage\.backup\.restore"):
        decode_state(body)
