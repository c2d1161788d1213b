"""``tradingdesk report ...`` and ``tradingdesk surveillance ...``: what a compliance officer runs.

    tradingdesk report tca --date 2026-11-27 -f examples/desk.yaml              # orders and venues, as tables
    tradingdesk report tca --order-id O-... -f examples/desk.yaml --json        # one order, the reply as JSON
    tradingdesk report cat --date 2026-11-27 -f examples/desk.yaml -o cat.jsonl # CAT records, one per line
    tradingdesk surveillance alerts -f examples/desk.yaml --detector wash_trade

Each talks to the compliance service (``GetExecutionQuality``, ``ExportCatEvents``, ``ListSurveillanceAlerts``).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

import grpc
from google.protobuf.json_format import MessageToJson

from tradingdesk.cli.table import render
from tradingdesk.v1 import common_pb2
from tradingdesk.v1 import compliance_pb2 as pb
from tradingdesk.v1 import compliance_pb2_grpc as pb_grpc

SIDE_NAMES = {v: k.removeprefix("SIDE_") for k, v in common_pb2.Side.items()}


def _time(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if ts_ns else "-"


def render_quality(report: pb.ExecutionQualityReport) -> str:
    orders = render(
        ["order_id", "account", "symbol", "side", "venue", "qty", "filled", "avg_price", "arrival_mid",
         "shortfall", "shortfall_bps", "vwap", "vs_vwap_bps", "eff_spread", "fees"],
        [
            [o.order_id, o.account, o.symbol, SIDE_NAMES[o.side], o.venue, o.quantity, o.filled_quantity,
             o.avg_price, o.arrival_mid, o.implementation_shortfall, o.implementation_shortfall_bps,
             o.interval_vwap, o.vs_vwap_bps, o.effective_spread, o.fees]
            for o in report.orders
        ],
    )  # fmt: skip
    venues = render(
        ["venue", "orders", "ordered", "executed", "cancelled", "fill_rate_bps", "eff_spread", "quoted_spread",
         "E/Q_bps", "improved", "avg_improvement", "at_quote", "outside", "time_to_fill_ms"],
        [
            [v.venue, v.orders, v.shares_ordered, v.shares_executed, v.shares_cancelled, v.fill_rate_bps,
             v.avg_effective_spread, v.avg_quoted_spread, v.effective_over_quoted_bps, v.shares_price_improved,
             v.avg_price_improvement, v.shares_at_quote, v.shares_outside_quote, v.avg_time_to_fill_ms]
            for v in report.venues
        ],
    )  # fmt: skip
    return f"execution quality, trade date {report.trade_date}\n\norders\n{orders}\n\nvenues (SEC Rule 605)\n{venues}"


def cmd_tca(args: argparse.Namespace, channel: grpc.Channel) -> int:
    request = pb.GetExecutionQualityRequest(
        trade_date=args.date or "", order_id=args.order_id or "", account=args.account
    )
    report = pb_grpc.ComplianceServiceStub(channel).GetExecutionQuality(request, timeout=args.timeout)
    print(MessageToJson(report) if args.json else render_quality(report))
    return 0


def cmd_cat(args: argparse.Namespace, channel: grpc.Channel) -> int:
    stream = pb_grpc.ComplianceServiceStub(channel).ExportCatEvents(
        pb.ExportCatEventsRequest(trade_date=args.date), timeout=args.timeout
    )
    out = open(args.output, "w") if args.output else sys.stdout  # noqa: SIM115 - closed below unless stdout
    count = 0
    try:
        for batch in stream:
            for record in batch.records_json:
                out.write(record + "\n")
                count += 1
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"{count} CAT records for {args.date}, valid against the shipped schema", file=sys.stderr)
    return 0


def cmd_alerts(args: argparse.Namespace, channel: grpc.Channel) -> int:
    request = pb.ListSurveillanceAlertsRequest(
        detector=args.detector, account=args.account, symbol=args.symbol, limit=args.limit
    )
    reply = pb_grpc.ComplianceServiceStub(channel).ListSurveillanceAlerts(request, timeout=args.timeout)
    if args.json:
        print(MessageToJson(reply))
        return 0
    rows = [[a.id, _time(a.ts_ns), a.detector, a.owner, a.symbol or "-", a.summary] for a in reply.alerts]
    print(render(["id", "when (UTC)", "detector", "owner", "symbol", "summary"], rows))
    return 0


def add_commands(sub: argparse._SubParsersAction, *, client_args, run) -> None:
    """``report tca|cat`` and ``surveillance alerts`` under the main parser; ``run(args)`` opens the channel to
    the compliance service and calls ``args.compliance_run``."""
    report = sub.add_parser("report", help="execution quality (TCA) and the CAT export of a trade date")
    reports = report.add_subparsers(dest="report_command", required=True)
    tca = reports.add_parser("tca", help="GetExecutionQuality: per order and per venue")
    client_args(tca, "compliance")
    which = tca.add_mutually_exclusive_group(required=True)
    which.add_argument("--date", help="trade date, YYYY-MM-DD")
    which.add_argument("--order-id", help="one order")
    tca.add_argument("--account", default="", help="only this account's orders")
    tca.add_argument("--json", action="store_true", help="print the reply as JSON")
    tca.set_defaults(func=run, compliance_run=cmd_tca)
    cat = reports.add_parser("cat", help="ExportCatEvents: CAT records, one JSON object per line")
    client_args(cat, "compliance")
    cat.add_argument("--date", required=True, help="trade date, YYYY-MM-DD (New York)")
    cat.add_argument("-o", "--output", help="file to write (default: standard output)")
    cat.set_defaults(func=run, compliance_run=cmd_cat)

    surveillance = sub.add_parser("surveillance", help="surveillance alerts").add_subparsers(
        dest="surveillance_command", required=True
    )
    alerts = surveillance.add_parser("alerts", help="ListSurveillanceAlerts")
    client_args(alerts, "compliance")
    alerts.add_argument("--detector", default="", help="wash_trade, spoofing, layering, order_to_trade, marking_close")
    alerts.add_argument("--account", default="")
    alerts.add_argument("--symbol", default="")
    alerts.add_argument("--limit", type=int, default=1000)
    alerts.add_argument("--json", action="store_true", help="print the reply as JSON")
    alerts.set_defaults(func=run, compliance_run=cmd_alerts)
