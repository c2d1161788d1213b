"""Wire requests (protobuf) to validated domain requests, or a ``Reject`` naming the field.

Everything a client can get wrong is caught here, before the order engine sees the request, so the engine
only ever handles well-formed orders and a refused request cannot have changed anything. This is routing's
edge: the domain's request types (``oms/requests.py``) know nothing of protobuf.
"""

from __future__ import annotations

from tradingdesk.core.clock import Clock
from tradingdesk.core.enums import OrderType, Side, TimeInForce
from tradingdesk.core.fixed import DecimalFormatError, parse_fixed
from tradingdesk.core.ids import check_id
from tradingdesk.core.instruments import Instrument
from tradingdesk.core.reject import invalid
from tradingdesk.oms.requests import NewOrder, OrderRef, ReplaceRequest
from tradingdesk.v1 import orders_pb2


def parse_decimal(field: str, text: str) -> int:
    try:
        return parse_fixed(text)
    except DecimalFormatError as exc:
        raise invalid(field, str(exc)) from None


class RequestParser:
    """Knows the desk's instruments, accounts and venues, and validates requests against them."""

    def __init__(
        self,
        *,
        instruments: dict[str, Instrument],
        accounts: dict[str, frozenset[str]],
        venues: frozenset[str],
        default_tif: TimeInForce,
        clock: Clock,
    ) -> None:
        self.instruments = instruments
        self.accounts = accounts
        self.venues = venues
        self.default_tif = default_tif
        self.clock = clock

    def account(self, value: str) -> str:
        check_id("account", value)
        if value not in self.accounts:
            raise invalid("account", f"{value!r} is not an account of this desk")
        return value

    def instrument(self, symbol: str) -> Instrument:
        if not symbol:
            raise invalid("symbol", "is required")
        inst = self.instruments.get(symbol)
        if inst is None:
            shown = symbol if len(symbol) <= 32 else symbol[:32] + "..."
            raise invalid("symbol", f"{shown!r} is not an instrument of this desk")
        return inst

    def new_order(self, req: orders_pb2.SubmitOrderRequest) -> NewOrder:
        client_order_id = check_id("client_order_id", req.client_order_id)
        account = self.account(req.account)
        strategy = check_id("strategy", req.strategy, required=False)
        allowed = self.accounts[account]
        if allowed and strategy not in allowed:
            raise invalid("strategy", f"{strategy!r} may not trade account {account!r}")
        inst = self.instrument(req.symbol)
        if req.side not in (Side.BUY, Side.SELL, Side.SELL_SHORT):
            raise invalid("side", "must be SIDE_BUY, SIDE_SELL or SIDE_SELL_SHORT")
        if req.order_type not in (OrderType.LIMIT, OrderType.MARKET):
            raise invalid("order_type", "must be ORDER_TYPE_LIMIT or ORDER_TYPE_MARKET")
        qty = self.quantity("quantity", req.quantity, inst)
        order_type = OrderType(req.order_type)
        if order_type == OrderType.LIMIT:
            price = self.price("limit_price", req.limit_price, inst)
        else:
            if req.limit_price:
                raise invalid("limit_price", "must be empty for a market order")
            price = 0
        if req.time_in_force and req.time_in_force not in TimeInForce._value2member_map_:
            raise invalid("time_in_force", f"unknown value {req.time_in_force}")
        tif = TimeInForce(req.time_in_force) if req.time_in_force else self.default_tif
        expire_ns = req.expire_time_ns
        if tif == TimeInForce.GTD:
            if expire_ns <= self.clock.now_ns():
                raise invalid("expire_time_ns", "must be in the future for a GTD order")
        elif expire_ns:
            raise invalid("expire_time_ns", "is only allowed with TIME_IN_FORCE_GTD")
        if order_type == OrderType.MARKET and tif in (TimeInForce.GTC, TimeInForce.GTD):
            raise invalid("time_in_force", "a market order cannot rest (use DAY, IOC or FOK)")
        venue = req.venue
        if venue and venue not in self.venues:
            raise invalid("venue", f"{venue!r} is not a venue of this desk")
        return NewOrder(
            client_order_id=client_order_id,
            account=account,
            strategy=strategy,
            symbol=inst.symbol,
            side=Side(req.side),
            order_type=order_type,
            qty=qty,
            price=price,
            tif=tif,
            expire_ns=expire_ns,
            venue=venue,
        )

    def quantity(self, field: str, text: str, inst: Instrument) -> int:
        if not text:
            raise invalid(field, "is required")
        qty = parse_decimal(field, text)
        if problem := inst.check_qty(qty):
            raise invalid(field, problem)
        return qty

    def price(self, field: str, text: str, inst: Instrument) -> int:
        if not text:
            raise invalid(field, "is required for a limit order")
        price = parse_decimal(field, text)
        if problem := inst.check_price(price):
            raise invalid(field, problem)
        return price

    def order_ref(self, req: orders_pb2.CancelOrderRequest | orders_pb2.GetOrderRequest) -> OrderRef:
        account = self.account(req.account)
        which = req.WhichOneof("target")
        if which is None:
            raise invalid("target", "order_id or client_order_id is required")
        if which == "order_id":
            return OrderRef(account, check_id("order_id", req.order_id), "")
        return OrderRef(account, "", check_id("client_order_id", req.client_order_id))

    def replace(self, req: orders_pb2.ReplaceOrderRequest) -> ReplaceRequest:
        ref = self.order_ref(req)
        new_id = check_id("new_client_order_id", req.new_client_order_id)
        qty = parse_decimal("quantity", req.quantity) if req.quantity else None
        price = parse_decimal("limit_price", req.limit_price) if req.limit_price else None
        if qty is None and price is None:
            raise invalid("quantity", "a replace must change quantity or limit_price")
        return ReplaceRequest(ref=ref, new_client_order_id=new_id, qty=qty, price=price)
