"""The market conduct RPCs of ComplianceService: ``ListSurveillanceAlerts``, ``GetExecutionQuality`` and
``ExportCatEvents``, over what the conduct watch stored (``conduct.py``, ``reports.py``).

Every bad input is refused naming its field (INVALID_ARGUMENT), an unknown order is NOT_FOUND, and records
that do not pass the shipped CAT schema are FAILED_PRECONDITION rather than a file a regulator would reject.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date

import grpc

from tradingdesk.compliance.reports import NoSuchOrder, cat_records, execution_quality
from tradingdesk.core.fixed import format_fixed
from tradingdesk.core.reject import Reject, invalid, not_found, refused
from tradingdesk.edge.status import abort
from tradingdesk.spec.model import TradingDesk
from tradingdesk.storage.conduct_store import ConductStore
from tradingdesk.surveillance.alerts import RULES
from tradingdesk.tca.orders import OrderQuality
from tradingdesk.tca.venues import VenueQuality
from tradingdesk.v1 import compliance_pb2 as pb

MAX_ALERT_ID = 2**63 - 1

MAX_ALERTS = 10_000
CAT_BATCH = 500


def _day(field: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise invalid(field, f"{text!r} is not a date (YYYY-MM-DD)") from None


def _signed(value: int) -> str:
    return format_fixed(value) if value >= 0 else "-" + format_fixed(-value)


def order_quality_pb(o: OrderQuality) -> pb.OrderExecutionQuality:
    return pb.OrderExecutionQuality(
        order_id=o.order_id,
        account=o.account,
        symbol=o.symbol,
        side=int(o.side),
        venue=o.venue,
        arrival_ns=o.arrival_ns,
        end_ns=o.end_ns,
        quantity=format_fixed(o.qty),
        filled_quantity=format_fixed(o.filled_qty),
        cancelled_quantity=format_fixed(o.cancelled_qty),
        avg_price=format_fixed(o.avg_price),
        fees=_signed(o.fees),
        arrival_bid=format_fixed(o.arrival_bid),
        arrival_ask=format_fixed(o.arrival_ask),
        arrival_mid=format_fixed(o.arrival_mid),
        end_mid=format_fixed(o.end_mid),
        execution_cost=_signed(o.execution_cost),
        opportunity_cost=_signed(o.opportunity_cost),
        implementation_shortfall=_signed(o.shortfall),
        implementation_shortfall_bps=_signed(o.shortfall_bps),
        interval_vwap=format_fixed(o.interval_vwap),
        vs_vwap_bps=_signed(o.vs_vwap_bps),
        effective_spread=_signed(o.effective_spread),
        first_fill_ns=o.first_fill_ns,
    )


def venue_quality_pb(v: VenueQuality) -> pb.VenueExecutionQuality:
    return pb.VenueExecutionQuality(
        venue=v.venue,
        orders=v.orders,
        shares_ordered=format_fixed(v.shares_ordered),
        shares_executed=format_fixed(v.shares_executed),
        shares_cancelled=format_fixed(v.shares_cancelled),
        fill_rate_bps=format_fixed(v.fill_rate_bps),
        avg_effective_spread=_signed(v.avg_effective_spread),
        avg_quoted_spread=format_fixed(v.avg_quoted_spread),
        effective_over_quoted_bps=_signed(v.effective_over_quoted_bps),
        shares_price_improved=format_fixed(v.shares_improved),
        avg_price_improvement=format_fixed(v.avg_improvement),
        shares_at_quote=format_fixed(v.shares_at_quote),
        shares_outside_quote=format_fixed(v.shares_outside_quote),
        avg_outside_amount=format_fixed(v.avg_outside),
        avg_time_to_fill_ms=v.avg_time_to_fill_ms,
    )


class ConductRpcs:
    """Mixed into ComplianceService, which provides ``desk``, ``accounts``, ``symbols``, ``conduct_store`` and
    ``timezone`` (its exchange's, for trade dates)."""

    desk: TradingDesk
    accounts: set[str]
    symbols: set[str]
    conduct_store: ConductStore
    timezone: str

    async def ListSurveillanceAlerts(self, request, context: grpc.aio.ServicerContext):
        try:
            if request.detector and request.detector not in RULES:
                raise invalid("detector", f"{request.detector!r} is not a detector (one of {', '.join(RULES)})")
            self._check_scope(request.account, request.symbol)
            if request.since_ns < 0 or request.until_ns < 0:
                raise invalid("since_ns", "times must be >= 0")
            if request.until_ns and request.since_ns > request.until_ns:
                raise invalid("until_ns", "must not be before since_ns")
            if request.limit > MAX_ALERTS:
                raise invalid("limit", f"must be at most {MAX_ALERTS}")
            if request.after_id > MAX_ALERT_ID:  # found by fuzzing: the store's ids are signed 64-bit
                raise invalid("after_id", f"must be at most {MAX_ALERT_ID}")
        except Reject as reject:
            await abort(context, reject)
        stored = await asyncio.to_thread(
            self.conduct_store.alerts,
            detector=request.detector,
            account=request.account,
            symbol=request.symbol,
            since_ns=request.since_ns,
            until_ns=request.until_ns,
            after_id=request.after_id,
            limit=request.limit or 1000,
        )
        return pb.ListSurveillanceAlertsResponse(
            alerts=[
                pb.SurveillanceAlert(
                    id=s.id,
                    detector=s.alert.detector,
                    ts_ns=s.alert.ts_ns,
                    owner=s.alert.owner,
                    accounts=list(s.alert.accounts),
                    symbol=s.alert.symbol,
                    order_ids=list(s.alert.order_ids),
                    summary=s.alert.summary,
                    rule=s.alert.rule,
                    figures=dict(s.alert.figures),
                    recorded_ns=s.recorded_ns,
                    log_index=s.log_index,
                )
                for s in stored
            ]
        )

    async def GetExecutionQuality(self, request, context: grpc.aio.ServicerContext):
        try:
            if not request.trade_date and not request.order_id:
                raise invalid("trade_date", "is required (or order_id)")
            day = _day("trade_date", request.trade_date) if request.trade_date else None
            self._check_scope(request.account, "")
            day, orders, venues = await asyncio.to_thread(
                execution_quality,
                self.conduct_store,
                timezone=self.timezone,
                day=day,
                order_id=request.order_id,
                account=request.account,
            )
        except NoSuchOrder as exc:
            await abort(context, not_found(str(exc)))
        except Reject as reject:
            await abort(context, reject)
        return pb.ExecutionQualityReport(
            trade_date=day.isoformat(),
            orders=[order_quality_pb(o) for o in orders],
            venues=[venue_quality_pb(v) for v in venues],
        )

    async def ExportCatEvents(self, request, context: grpc.aio.ServicerContext) -> AsyncIterator[pb.CatRecords]:
        try:
            if not request.trade_date:
                raise invalid("trade_date", "is required")
            day = _day("trade_date", request.trade_date)
            try:
                records = await asyncio.to_thread(cat_records, self.conduct_store, self.desk.spec.conduct.cat, day)
            except ValueError as exc:
                raise refused(f"the CAT export of {day} does not pass the schema: {exc}", "CAT_SCHEMA") from None
        except Reject as reject:
            await abort(context, reject)
        for i in range(0, len(records), CAT_BATCH):
            yield pb.CatRecords(records_json=[json.dumps(r, separators=(",", ":")) for r in records[i : i + CAT_BATCH]])

    def _check_scope(self, account: str, symbol: str) -> None:
        if account and account not in self.accounts:
            raise invalid("account", f"{account!r} is not an account of this desk")
        if symbol and symbol not in self.symbols:
            raise invalid("symbol", f"{symbol!r} is not an instrument of this desk")
