"""Order activity to CAT-style event records, one JSON object per event.

    NEW of an order          MENO (new order), or MECO (child order) when it has a parent
    ROUTE                    MEOR (order routed to a venue)
    MODIFY                   MEOM (order modified), MECOM for a child
    CANCEL, EXPIRE           MEOC (order cancelled; initiator C for the client, F for the firm's expiry), MECOC
    FILL                     MEOT (trade), with the venue as market center

A rejected order never reached a venue and is not reported. Each record carries the order's key date (the
timestamp of its first event), so the order, its modifications (``priorOrderID``) and its children
(``parentOrderID``) link up across the file. Records are numbered ``<YYYYMMDD>_<n>`` (``firmROEID``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tradingdesk.core.activity import Activity, OrderActivity
from tradingdesk.core.enums import OrderType, Side, TimeInForce
from tradingdesk.core.fixed import format_fixed
from tradingdesk.spec.conduct import CatSpec

NEW_YORK = "America/New_York"
SIDES = {Side.BUY: "B", Side.SELL: "SL", Side.SELL_SHORT: "SS"}
ORDER_TYPES = {OrderType.LIMIT: "LMT", OrderType.MARKET: "MKT"}


def cat_timestamp(ts_ns: int, tz: ZoneInfo) -> str:
    """``YYYYMMDD HHMMSS.CCCNNNNNN`` in ``tz`` (CAT's string form, to the nanosecond)."""
    seconds, nanos = divmod(ts_ns, 1_000_000_000)
    local = datetime.fromtimestamp(seconds, UTC).astimezone(tz)
    return f"{local:%Y%m%d %H%M%S}.{nanos:09d}"


def _tif(ev: OrderActivity, tz: ZoneInfo) -> dict[str, Any]:
    if ev.tif in (TimeInForce.DAY, TimeInForce.GTD):
        return {ev.tif.name: cat_timestamp(ev.ts_ns, tz)[:8]}
    return {ev.tif.name: True}


class CatExporter:
    """Turns a trade date's activity into records; feed it every event in time order, earlier days included
    (they give orders that live across days their key dates), and it yields the trade date's records."""

    def __init__(self, spec: CatSpec, trade_date: date, timezone: str = NEW_YORK) -> None:
        self.spec = spec
        self.trade_date = trade_date
        self.tz = ZoneInfo(timezone)
        self._key_dates: dict[str, str] = {}
        self._parents: dict[str, str] = {}
        self._n = 0
        self._prefix = f"{trade_date:%Y%m%d}"

    def records(self, events: Iterable[OrderActivity]) -> Iterator[dict[str, Any]]:
        for ev in events:
            record = self._record(ev)
            if record is not None:
                yield record

    def _record(self, ev: OrderActivity) -> dict[str, Any] | None:
        stamp = cat_timestamp(ev.ts_ns, self.tz)
        if ev.kind is Activity.NEW or ev.kind is Activity.MODIFY:
            self._key_dates.setdefault(ev.order_id, stamp)
        if ev.parent_order_id:
            self._parents[ev.order_id] = ev.parent_order_id
        elif ev.kind is Activity.MODIFY and ev.prior_order_id in self._parents:
            self._parents[ev.order_id] = self._parents[ev.prior_order_id]
        if stamp[:8] != self._prefix or ev.kind is Activity.REJECT:
            return None
        key_date = self._key_dates.get(ev.order_id)
        if key_date is None:
            raise ValueError(f"order {ev.order_id}: a {ev.kind.value} event without the order's NEW before it")
        parent = self._parents.get(ev.order_id, "")
        self._n += 1
        base: dict[str, Any] = {
            "actionType": "NEW",
            "firmROEID": f"{self._prefix}_{self._n}",
            "type": "",
            "CATReporterIMID": self.spec.reporter_imid,
            "eventTimestamp": stamp,
            "symbol": ev.symbol,
            "orderKeyDate": key_date,
            "orderID": ev.order_id,
            "side": SIDES[ev.side],
        }
        if parent:
            base["parentOrderID"] = parent
            base["parentOrderKeyDate"] = self._key_dates.get(parent, key_date)
        order_fields = {"quantity": format_fixed(ev.qty), "orderType": ORDER_TYPES[ev.order_type]}
        if ev.price and ev.order_type == OrderType.LIMIT:
            order_fields["price"] = format_fixed(ev.price)
        kind = ev.kind
        if kind is Activity.NEW:
            base["type"] = "MECO" if parent else "MENO"
            base.update(order_fields, timeInForce=_tif(ev, self.tz), tradingSession="REG")
            base.update(deptType=self.spec.department_type, firmDesignatedID=ev.account)
            if not parent:
                base.update(accountHolderType=self.spec.account_holder_type, representativeInd="N")
        elif kind is Activity.ROUTE:
            base["type"] = "MEOR"
            base.update(order_fields, destination=ev.venue, destinationType="E", routedOrderID=ev.order_id)
            base.update(session="REG", routeRejectedFlag=False)
        elif kind is Activity.MODIFY:
            base["type"] = "MECOM" if parent else "MEOM"
            base.update(order_fields, timeInForce=_tif(ev, self.tz), initiator="C")
            prior_key = self._key_dates.get(ev.prior_order_id, key_date)
            base.update(priorOrderID=ev.prior_order_id, priorOrderKeyDate=prior_key)
        elif kind is Activity.CANCEL or kind is Activity.EXPIRE:
            base["type"] = "MECOC" if parent else "MEOC"
            base.update(cancelQty=format_fixed(ev.qty - ev.cum_qty), leavesQty=format_fixed(ev.leaves_qty))
            base["initiator"] = "F" if kind is Activity.EXPIRE else "C"
        else:  # FILL
            base["type"] = "MEOT"
            base.update(tradeID=ev.exec_id or f"{ev.order_id}-{self._n}", price=format_fixed(ev.fill_price))
            base.update(quantity=format_fixed(ev.fill_qty), marketCenterID=ev.venue, capacity="P")
            base.update(fee=format_fixed(ev.fee))
        return base
