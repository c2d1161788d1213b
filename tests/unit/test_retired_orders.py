"""Finished orders retired from the engine's memory (``oms/retired.py``): the book keeps the newest few, older
ones leave memory, and every request about one is answered as before once the caller reads it back from the
journal (here from the in-memory journal, with the rule ``storage.journal.read_order_records`` applies in SQL)."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import TypeVar

import pytest

from tests.unit.desk_fixtures import D, Desk, ListJournal, default_limits, make_desk, order
from tradingdesk.core.enums import OrderStatus
from tradingdesk.core.reject import Reject, RejectKind
from tradingdesk.oms import retired as retired_module
from tradingdesk.oms.requests import OrderRef, ReplaceRequest
from tradingdesk.oms.retired import Lookup, RetiredIndex, RetiredOrder, RetiredOrderNeeded, rebuild_order

T = TypeVar("T")


def desk(kept: int = 2) -> Desk:
    d = make_desk(default_limits(max_submits_per_second=0), journal=ListJournal(), finished_orders_kept=kept)
    d.trade("AAPL", "100.00", "10")
    d.quote("AAPL", "99.99", "300", "100.01", "300")
    return d


def read_back(d: Desk, lookup: Lookup) -> RetiredOrder | None:
    """What the routing service reads for ``lookup``: the order's records and its replacements' ``replaced``."""
    records = d.journal.records
    what, key = lookup
    order_id = next((r.order_id for r in records if r.seq == key), "") if what == "seq" else str(key)
    mine = [r for r in records if r.order_id == order_id]
    replacements = {r.payload["new_order_id"] for r in mine if r.kind == "pending_replace"}
    mine += [r for r in records if r.order_id in replacements and r.kind == "replaced"]
    return rebuild_order(sorted(mine, key=lambda r: r.seq), order_id) if mine else None


def answered(d: Desk, call: Callable[[dict], T]) -> tuple[T, list[Lookup]]:
    """``call(resolved)`` the way the servicer answers: read back what the engine asks for, then ask again."""
    resolved: dict[Lookup, RetiredOrder | None] = {}
    while True:
        try:
            return call(resolved), list(resolved)
        except RetiredOrderNeeded as need:
            assert need.lookup not in resolved
            resolved[need.lookup] = read_back(d, need.lookup)


def cancelled_orders(d: Desk, n: int, prefix: str = "c") -> list[str]:
    ids = []
    for i in range(n):
        ack, _ = answered(
            d, lambda r, i=i: d.engine.submit(order(cl=f"{prefix}{i}", qty="10", price="99.00"), retired=r)
        )
        d.settle()
        d.engine.cancel(OrderRef("ACC", ack.order.order_id, ""))
        d.settle()
        ids.append(ack.order.order_id)
    return ids


def test_only_the_newest_finished_orders_stay_in_memory() -> None:
    d = desk(kept=2)
    ids = cancelled_orders(d, 5)
    resting = d.engine.submit(order(cl="rest", qty="10", price="99.00")).order.order_id
    d.settle()
    assert set(d.engine.orders) == {ids[3], ids[4], resting}  # open orders are never retired
    assert ("ACC", "c0") not in d.engine.by_client and ("ACC", "c4") in d.engine.by_client
    assert len(d.engine.book.retired) == 3
    assert ids[0] not in d.engine.created_seq and ids[0] not in d.engine.book.requested_venue


def test_get_order_by_either_id_reads_a_retired_order_back() -> None:
    d = desk()
    first = cancelled_orders(d, 4)[0]
    for ref in (OrderRef("ACC", first, ""), OrderRef("ACC", "", "c0")):
        with pytest.raises(RetiredOrderNeeded):
            d.engine.find(ref)
        found, lookups = answered(d, lambda r, ref=ref: d.engine.find(ref, retired=r))
        assert (found.order_id, found.client_order_id, found.status) == (first, "c0", OrderStatus.CANCELED)
        assert len(lookups) == 1
    with pytest.raises(Reject) as refused:  # another account's order is not found, retired or not
        answered(d, lambda r: d.engine.find(OrderRef("ACC2", first, ""), retired=r))
    assert refused.value.kind is RejectKind.NOT_FOUND
    with pytest.raises(Reject) as unknown:
        answered(d, lambda r: d.engine.find(OrderRef("ACC", "O-nothing-000001", ""), retired=r))
    assert unknown.value.kind is RejectKind.NOT_FOUND


def test_a_repeated_submit_of_a_retired_order_is_its_original_acknowledgement() -> None:
    d = desk()
    first = cancelled_orders(d, 4)[0]
    created = next(r.seq for r in d.journal.records if r.order_id == first and r.kind == "pending_new")
    records = len(d.journal.records)
    ack, _ = answered(d, lambda r: d.engine.submit(order(cl="c0", qty="10", price="99.00"), retired=r))
    assert (ack.duplicate, ack.order.order_id, ack.seq, ack.status) == (True, first, created, OrderStatus.CANCELED)
    with pytest.raises(Reject) as different:
        answered(d, lambda r: d.engine.submit(order(cl="c0", qty="11", price="99.00"), retired=r))
    assert different.value.code == "DUPLICATE_CLIENT_ORDER_ID"
    assert len(d.journal.records) == records  # nothing journaled, nothing sent


def test_cancelling_a_retired_order_is_refused_as_for_any_finished_order() -> None:
    d = desk()
    ids = cancelled_orders(d, 4)
    with pytest.raises(Reject) as in_memory:
        d.engine.cancel(OrderRef("ACC", ids[3], ""))
    with pytest.raises(Reject) as retired:
        answered(d, lambda r: d.engine.cancel(OrderRef("ACC", ids[0], ""), retired=r))
    assert retired.value.kind is in_memory.value.kind
    assert retired.value.message.replace(ids[0], "X") == in_memory.value.message.replace(ids[3], "X")


def test_a_completed_replace_asked_again_after_both_orders_retired_is_its_original_acknowledgement() -> None:
    d = desk()
    old = d.engine.submit(order(cl="old", qty="10", price="99.00")).order.order_id
    d.settle()
    d.engine.replace(ReplaceRequest(ref=OrderRef("ACC", old, ""), new_client_order_id="new", qty=D("20"), price=None))
    d.settle()
    new = d.engine.by_client[("ACC", "new")]
    d.engine.cancel(OrderRef("ACC", new, ""))
    d.settle()
    cancelled_orders(d, 3)
    assert old not in d.engine.orders and new not in d.engine.orders
    again = ReplaceRequest(ref=OrderRef("ACC", old, ""), new_client_order_id="new", qty=D("20"), price=None)
    ack, lookups = answered(d, lambda r: d.engine.replace(again, retired=r))
    assert (ack.duplicate, ack.order.order_id, ack.order.replaces_order_id) == (True, new, old)
    assert len(lookups) == 2  # the replaced order by its id, then the replacement by its client id
    replaced, _ = answered(d, lambda r: d.engine.find(OrderRef("ACC", old, ""), retired=r))
    assert (replaced.status, replaced.replaced_by_order_id) == (OrderStatus.REPLACED, new)


def test_a_retired_client_order_id_cannot_name_a_new_order_or_a_replacement() -> None:
    d = desk()
    cancelled_orders(d, 4)
    live = d.engine.submit(order(cl="live", qty="10", price="99.00")).order.order_id
    d.settle()
    with pytest.raises(Reject) as taken:
        answered(
            d,
            lambda r: d.engine.replace(
                ReplaceRequest(ref=OrderRef("ACC", live, ""), new_client_order_id="c0", qty=D("20"), price=None),
                retired=r,
            ),
        )
    assert taken.value.code == "DUPLICATE_CLIENT_ORDER_ID"
    assert d.engine.book.reserved(("ACC", "c0")) and not d.engine.book.reserved(("ACC", "c9"))


def test_a_key_collision_is_no_match(monkeypatch) -> None:
    """Every client key folds to the same 64 bits: each new order then meets a retired one, which the order read
    back shows to be another."""
    monkeypatch.setattr(retired_module, "client_key_hash", lambda account, client_order_id: 7)
    d = desk()
    cancelled_orders(d, 4)
    ack, lookups = answered(d, lambda r: d.engine.submit(order(cl="fresh", qty="10", price="99.00"), retired=r))
    assert not ack.duplicate and ack.order.client_order_id == "fresh" and lookups


def test_the_index_pickles_as_two_sorted_flat_arrays_and_grows_on_after_loading() -> None:
    index = RetiredIndex()
    for i in range(1000):
        index.add(("ACC", f"c{i}"), i + 1)
    again = pickle.loads(pickle.dumps(index, protocol=5))
    assert [again.seq_of(("ACC", f"c{i}")) for i in range(1000)] == list(range(1, 1001))
    assert again.seq_of(("ACC", "c1000")) is None
    assert len(pickle.dumps(index, protocol=5)) < 20_000  # 16 bytes an entry and a little
    for i in range(1000, 1500):  # retired after the restart: beside the loaded arrays
        again.add(("ACC", f"c{i}"), i + 1)
    again.add(("ACC", "c3"), 9999)  # a key retired twice (a collision): the newest seq
    assert [again.seq_of(("ACC", f"c{i}")) for i in (0, 3, 999, 1000, 1499)] == [1, 9999, 1000, 1001, 1500]
    assert len(again) == 1500
    third = pickle.loads(pickle.dumps(again, protocol=5))
    assert third.items() == again.items() and len(third) == 1500
