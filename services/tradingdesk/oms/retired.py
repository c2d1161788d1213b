"""Finished orders retired from memory, so a long trading day neither fills the process nor the snapshots.

The order book keeps every open order and the newest ``finished_kept`` finished ones. An older finished order is
*retired*: its object leaves memory, and what stays is its client order id, folded into a 64-bit key, with the
journal seq of the record that created it (``RetiredIndex``, about 100 bytes an order, two flat arrays in a
snapshot). Client order ids stay idempotency keys for the whole journal: a request that names a retired order
(``GetOrder``, ``CancelOrder``, a repeated ``SubmitOrder`` or ``ReplaceOrder``) makes the engine raise
``RetiredOrderNeeded``; the service reads that order's records back from the journal (off the event loop) and asks
again with the order (``RetiredOrder``), which ``rebuild_order`` made by applying those records to a book of its
own, the same ``apply`` the live path uses.

A 64-bit key can collide: the order read back is checked against the request's account and client order id, and a
collision is treated as no match.
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from tradingdesk.core.event_codec import decode
from tradingdesk.core.events import OrderPending, OrderReplaced
from tradingdesk.core.orders import Order

ClientKey = tuple[str, str]  # (account, client_order_id)
Lookup = tuple[str, int | str]
"""What the engine asks for: ``("seq", n)``, the order created by journal record n; ``("order_id", id)``."""


def client_key_hash(account: str, client_order_id: str) -> int:
    """A stable 64-bit key for (account, client_order_id): the same in every process (``hash`` is not)."""
    digest = hashlib.blake2b(f"{account}\x00{client_order_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


class RetiredIndex:
    """Client keys of retired orders -> the journal seq of the record that created each.

    Two parts: the keys retired since this process started, in a dict, and those it loaded from a snapshot, as two
    sorted flat arrays searched by bisection (16 bytes an order). A snapshot writes both as sorted arrays, and
    loading one is a copy of their bytes, however many millions of orders the day retired: rebuilding a dict of
    two million entries took most of a second of a restart."""

    def __init__(self) -> None:
        self._recent: dict[int, int] = {}
        self._keys = array("q")  # sorted
        self._seqs = array("q")

    def add(self, key: ClientKey, created_seq: int) -> None:
        self._recent[client_key_hash(*key)] = created_seq

    def seq_of(self, key: ClientKey) -> int | None:
        """The created seq of the retired order that may hold ``key`` (check the order: keys can collide)."""
        if not self._recent and not self._keys:
            return None
        h = client_key_hash(*key)
        seq = self._recent.get(h)
        if seq is None and self._keys:
            i = bisect_left(self._keys, h)
            if i < len(self._keys) and self._keys[i] == h:
                seq = self._seqs[i]
        return seq

    def items(self) -> dict[int, int]:
        """Every entry (a key retired twice keeps its newest seq): for snapshots and tests, not the hot path."""
        merged = dict(zip(self._keys, self._seqs, strict=True))
        merged.update(self._recent)
        return merged

    def __len__(self) -> int:
        return len(self.items()) if self._recent and self._keys else len(self._recent) + len(self._keys)

    def __getstate__(self) -> dict[str, Any]:
        """Two sorted flat arrays' bytes (serialized in routing's snapshot child, off the event loop)."""
        merged = self.items()
        keys = sorted(merged)  # ints, not (key, seq) pairs: comparing tuples took twice as long (0.7 s for 255,000)
        return {"keys": array("q", keys).tobytes(), "seqs": array("q", [merged[k] for k in keys]).tobytes()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        keys, seqs = array("q"), array("q")
        keys.frombytes(state["keys"])
        seqs.frombytes(state["seqs"])
        if len(keys) != len(seqs):
            raise ValueError("a retired-order index with more keys than seqs")
        self._recent, self._keys, self._seqs = {}, keys, seqs


@dataclass(frozen=True, slots=True)
class RetiredOrder:
    """A retired order as its journal records rebuild it."""

    order: Order
    created_seq: int
    requested_venue: str | None
    """The venue its SubmitOrder named ("" for the router's); None for a replacement, which no SubmitOrder made."""


Resolved = Mapping[Lookup, RetiredOrder | None]
"""What the service read back for the engine's lookups so far (None: the journal holds no such order)."""
NONE_RESOLVED: Resolved = MappingProxyType({})


class RetiredOrderNeeded(Exception):
    """The engine needs a retired order to answer: read ``lookup`` from the journal and ask again with it."""

    def __init__(self, lookup: Lookup) -> None:
        super().__init__(lookup)
        self.lookup = lookup


def rebuild_order(records: Iterable[Any], order_id: str) -> RetiredOrder | None:
    """Order ``order_id`` from its journal records (in seq order; a replaced order's ``replaced`` record, which is
    journaled under its replacement's id, among them), applied to a book of its own."""
    from tradingdesk.oms.book import OrderBook  # the book imports this module

    book = OrderBook()
    created_seq = 0
    for rec in records:
        event = decode(rec.kind, rec.order_id, rec.ts_ns, rec.payload)
        book.apply(event)
        if type(event) in (OrderPending, OrderReplaced) and event.order_id == order_id:
            created_seq = rec.seq
    order = book.orders.get(order_id)
    if order is None or not created_seq:
        return None
    return RetiredOrder(order, created_seq, book.requested_venue.get(order_id))
