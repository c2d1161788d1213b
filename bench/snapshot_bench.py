"""``snapshot_day_end_mb``, ``snapshot_day_end_cpu_ms``, ``snapshot_day_end_load_ms``: routing's order book as a
busy day leaves it (``DAY_ORDERS`` orders, all finished but the last few), with the default
``spec.routing.finishedOrdersKept`` (``DEFAULT_KEPT``), against the same day with 100,000 kept (the default until
stop 34, the baseline), in the same run: the bytes its snapshot pickles, the CPU time pickling them takes (in
routing's forked snapshot child) and the CPU time loading them takes (a restart).

The orders are built directly as the book holds them (``Order`` objects, the client-id and seq indexes, and the
retired index for the rest), not through the engine: the figure is the snapshot's cost for a book of that shape,
which is what the kept count changes. 265,000 orders is the full day at 20x of the simulation
(docs/simulation.md).
"""

from __future__ import annotations

import pickle
import time

from bench.report import figure
from tradingdesk.core.enums import OrderStatus, OrderType, Side, TimeInForce
from tradingdesk.core.orders import Order
from tradingdesk.oms.book import OrderBook
from tradingdesk.spec.model import RoutingSpec
from tradingdesk.storage.snapshots import PICKLE_PROTOCOL

DAY_ORDERS = 265_000
OLD_DEFAULT_KEPT = 100_000
DEFAULT_KEPT = RoutingSpec().finished_orders_kept
OPEN_ORDERS = 500
U = 10**9
REPEATS = 3


def day_end_book(kept: int) -> OrderBook:
    """The book after ``DAY_ORDERS`` orders, the newest ``OPEN_ORDERS`` open, the newest ``kept`` finished ones in
    memory and the others retired, as ``OrderBook.apply`` leaves it."""
    book = OrderBook(finished_kept=kept)
    first_in_memory = DAY_ORDERS - OPEN_ORDERS - kept
    for i in range(DAY_ORDERS):
        client = f"sim-s-{i}"
        if i < first_in_memory:
            book.retired.add(("ACC-1", client), 4 * i + 1)
            continue
        is_open = i >= DAY_ORDERS - OPEN_ORDERS
        order_id = f"O-1a23d760e7fcc8-{i:07d}"
        book.orders[order_id] = Order(
            order_id=order_id,
            client_order_id=client,
            account="ACC-1",
            strategy="mm",
            symbol="AAPL",
            side=Side.BUY if i % 2 else Side.SELL,
            order_type=OrderType.LIMIT,
            qty=100 * U,
            price=(189_50 + i % 40) * U // 100,
            tif=TimeInForce.DAY,
            expire_ns=0,
            created_ns=1_796_328_000 * U + i,
            status=OrderStatus.NEW if is_open else OrderStatus.FILLED,
            cum_qty=0 if is_open else 100 * U,
            cum_notional=0 if is_open else 18_950 * U,
            venue="xnys",
            updated_ns=1_796_328_000 * U + i,
        )
        book.by_client[("ACC-1", client)] = order_id
        book.created_seq[order_id] = 4 * i + 1
        book.requested_venue[order_id] = ""
        if is_open:
            book.open_orders[order_id] = book.orders[order_id]
        else:
            book.finished.append(order_id)
    return book


def measure(kept: int) -> tuple[float, float, float]:
    """The book's pickled MB, and the best of ``REPEATS`` CPU ms to pickle and to load it."""
    book = day_end_book(kept)
    dumps, loads, body = [], [], b""
    for _ in range(REPEATS):
        started = time.process_time()
        body = pickle.dumps(book, protocol=PICKLE_PROTOCOL)
        dumps.append(time.process_time() - started)
        started = time.process_time()
        pickle.loads(body)
        loads.append(time.process_time() - started)
    return len(body) / 1e6, min(dumps) * 1e3, min(loads) * 1e3


def run() -> list[dict]:
    mb, dump_ms, load_ms = measure(DEFAULT_KEPT)
    old_mb, old_dump_ms, old_load_ms = measure(OLD_DEFAULT_KEPT)
    return [
        figure("snapshot_day_end_mb", mb, "MB", old_mb),
        figure("snapshot_day_end_cpu_ms", dump_ms, "ms", old_dump_ms),
        figure("snapshot_day_end_load_ms", load_ms, "ms", old_load_ms),
    ]


if __name__ == "__main__":
    run()
