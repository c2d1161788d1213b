"""Wire messages built from domain objects and journal records.

Averages and P&L are rounded here, for the client (``format_average_price``, ``format_pnl``); the domain and
the journal keep them exact.
"""

from __future__ import annotations

from typing import Any

from tradingdesk.core.enums import OrderStatus, OrderType, Side, TimeInForce
from tradingdesk.core.fixed import format_average_price, format_fixed, format_pnl, parse_fixed
from tradingdesk.core.orders import Order
from tradingdesk.oms.events import KINDS
from tradingdesk.oms.positions import Position
from tradingdesk.v1 import orders_pb2

_STATUS = {s.name: int(s) for s in OrderStatus}
_SIDE = {s.name: int(s) for s in Side}


def execution_report(seq: int, ts_ns: int, kind: str, order_id: str, p: dict[str, Any]) -> orders_pb2.ExecutionReport:
    if kind not in KINDS:
        return desk_event_report(seq, ts_ns, kind, p)
    is_trade = kind == "trade"
    return orders_pb2.ExecutionReport(
        exec_id=p["exec_id"] if is_trade else f"E{seq}",
        order_id=order_id,
        client_order_id=p["client_order_id"],
        exec_type=int(KINDS[kind]),
        status=_STATUS[p["status"]],
        account=p["account"],
        symbol=p["symbol"],
        side=_SIDE[p["side"]],
        last_quantity=p["last_qty"] if is_trade else "0",
        last_price=p["last_price"] if is_trade else "0",
        cum_quantity=p["cum_qty"],
        leaves_quantity=p["leaves_qty"],
        avg_price=format_average_price(parse_fixed(p["avg_price"])),
        fee=p["fee"] if is_trade else "0",
        venue=p.get("fill_venue", p["venue"]),
        liquidity=p.get("liquidity", ""),
        transact_time_ns=ts_ns,
        text=p.get("text", "") or p.get("reason", ""),
        journal_seq=seq,
        order_quantity=p["qty"],
        limit_price=p["price"],
    )


def desk_event_report(seq: int, ts_ns: int, kind: str, p: dict[str, Any]) -> orders_pb2.ExecutionReport:
    """A journal record that is not about one order (a kill switch ``incident``, a ``risk_latch``): streams of
    execution reports carry it with no exec type and a text saying what happened, so a client that reads every
    record is not surprised, and one that filters on exec_type never sees it."""
    if kind == "incident":
        text = (
            f"incident: {p.get('account') or 'desk'}{'/' + p['strategy'] if p.get('strategy') else ''} HALTED by "
            f"{p.get('actor', '')} ({p.get('reason', '')}); {len(p.get('cancelled', ()))} open orders cancelled"
        )
    else:
        text = f"{kind}: {p.get('reason', '')}"
    return orders_pb2.ExecutionReport(
        exec_id=f"E{seq}",
        account=p.get("account", ""),
        symbol=p.get("symbol", ""),
        transact_time_ns=ts_ns,
        text=text,
        journal_seq=seq,
    )


def order_message(o: Order) -> orders_pb2.Order:
    return orders_pb2.Order(
        order_id=o.order_id,
        client_order_id=o.client_order_id,
        account=o.account,
        strategy=o.strategy,
        symbol=o.symbol,
        side=int(o.side),
        order_type=int(o.order_type),
        quantity=format_fixed(o.qty),
        limit_price=format_fixed(o.price) if o.order_type == OrderType.LIMIT else "",
        time_in_force=int(o.tif if o.tif else TimeInForce.DAY),
        expire_time_ns=o.expire_ns,
        status=int(o.status),
        cum_quantity=format_fixed(o.cum_qty),
        leaves_quantity=format_fixed(o.leaves_qty),
        avg_price=format_average_price(o.avg_price),
        fees=format_fixed(o.fees),
        venue=o.venue,
        created_ns=o.created_ns,
        updated_ns=o.updated_ns,
        replaces_order_id=o.replaces_order_id,
        replaced_by_order_id=o.replaced_by_order_id,
        parent_order_id=o.parent_order_id,
        text=o.text,
    )


def position_message(p: Position, mark: int) -> orders_pb2.Position:
    return orders_pb2.Position(
        account=p.account,
        symbol=p.symbol,
        quantity=format_fixed(p.qty),
        avg_cost=format_average_price(p.avg_cost),
        realized_pnl=format_pnl(p.realized_pnl),
        unrealized_pnl=format_pnl(p.unrealized_pnl(mark)),
        mark_price=format_fixed(mark),
        fees=format_fixed(p.fees),
    )
