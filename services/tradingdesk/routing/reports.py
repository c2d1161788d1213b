"""Wire messages (protobuf) built from domain objects and journal events: routing's outbound edge."""

from __future__ import annotations

from tradingdesk.core.enums import OrderType, TimeInForce
from tradingdesk.core.event_codec import quantity_and_price
from tradingdesk.core.events import Incident, JournalEvent, OrderEvent, OrderFilled, RiskLatched
from tradingdesk.core.fixed import format_average_price, format_fixed, format_pnl
from tradingdesk.core.orders import Order
from tradingdesk.core.positions import Position
from tradingdesk.risk.scope import scope_label
from tradingdesk.v1 import orders_pb2


def execution_report(seq: int, event: JournalEvent) -> orders_pb2.ExecutionReport:
    """The execution report of one journal event (``exec_id`` is the fill's, else ``E<seq>``)."""
    if not isinstance(event, OrderEvent):
        return desk_event_report(seq, event)
    terms = event.terms
    order_quantity, limit_price = quantity_and_price(terms)
    report = orders_pb2.ExecutionReport(
        exec_id=f"E{seq}",
        order_id=terms.order_id,
        client_order_id=terms.client_order_id,
        exec_type=int(event.exec_type),
        status=int(event.status),
        account=terms.account,
        symbol=terms.symbol,
        side=int(terms.side),
        last_quantity="0",
        last_price="0",
        cum_quantity=format_fixed(event.cum_qty),
        leaves_quantity=format_fixed(event.leaves_qty),
        avg_price=format_average_price(event.avg_price),
        fee="0",
        venue=event.venue,
        transact_time_ns=event.ts_ns,
        text=event.text or getattr(event, "reason", ""),
        journal_seq=seq,
        order_quantity=order_quantity,
        limit_price=limit_price,
    )
    if type(event) is OrderFilled:
        report.exec_id = event.exec_id
        report.last_quantity = format_fixed(event.last_qty)
        report.last_price = format_fixed(event.last_price)
        report.fee = format_fixed(event.fee)
        report.venue = event.fill_venue
        report.liquidity = event.liquidity
    return report


def desk_event_report(seq: int, event: JournalEvent) -> orders_pb2.ExecutionReport:
    """A journal event that is not about one order (a kill switch ``Incident``, a ``RiskLatched``): streams of
    execution reports carry it with no exec type and a text saying what happened, so a client that reads every
    record is not surprised, and one that filters on exec_type never sees it."""
    if isinstance(event, Incident):
        text = (
            f"incident: {scope_label((event.account, event.strategy))} HALTED by {event.actor} ({event.reason}); "
            f"{len(event.cancelled)} open orders cancelled"
        )
        symbol = ""
    elif isinstance(event, RiskLatched):
        text = f"{event.kind}: {event.reason}"
        symbol = event.symbol
    else:
        text, symbol = event.kind, ""
    return orders_pb2.ExecutionReport(
        exec_id=f"E{seq}",
        account=event.account,
        symbol=symbol,
        transact_time_ns=event.ts_ns,
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
