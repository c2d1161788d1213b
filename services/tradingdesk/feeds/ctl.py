"""``python -m tradingdesk.feeds.ctl``: what an SRE runs against a desk's feeds service.

    python -m tradingdesk.feeds.ctl -f examples/desk.yaml status          # one screen: feeds, lines, counters
    python -m tradingdesk.feeds.ctl -f examples/desk.yaml status --json   # the GetFeedStatus reply as JSON
    python -m tradingdesk.feeds.ctl -f examples/desk.yaml health          # gRPC health of MarketDataService
    python -m tradingdesk.feeds.ctl -f examples/desk.yaml disable vendor-a A --reason "flapping, ticket 123"
    python -m tradingdesk.feeds.ctl -f examples/desk.yaml enable vendor-a A

The address comes from ``--address`` (host:port), else from the desk spec's feeds port (``-f``), else from
``TD_FEEDS`` or 127.0.0.1:50051. Exit status: 0 when market data is flowing (``status``) or the service
reports SERVING (``health``), 2 when it does not, 1 when the service cannot be reached or refuses.
"""

from __future__ import annotations

import argparse
import os
import sys

import grpc
from google.protobuf.json_format import MessageToJson
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tradingdesk.cli.credentials import CredentialError, credentials
from tradingdesk.cli.credentials import add_arguments as add_credentials
from tradingdesk.security.channels import channel as channel_to
from tradingdesk.spec.load import SpecError, load_desk
from tradingdesk.v1 import market_data_pb2 as pb
from tradingdesk.v1 import market_data_pb2_grpc as pb_grpc

TIMEOUT_S = 5.0
SERVICE = "tradingdesk.v1.MarketDataService"


def _name(enum: object, value: int, prefix: str) -> str:
    return enum.Name(value).removeprefix(prefix)  # type: ignore[attr-defined]


def render(report: pb.FeedStatusReport) -> str:
    """The status report as a person reads it."""
    out = [
        f"market data: {'SERVING' if report.serving else 'DOWN (no feed has a live line: orders are refused)'}",
        f"stale symbols: {', '.join(report.stale_symbols) or '-'}",
    ]
    for f in report.feeds:
        out.append(
            f"{f.feed} ({f.kind}): {_name(pb.FeedHealth, f.health, 'FEED_HEALTH_')}, active line {f.active_line}, "
            f"lag {f.lag_ms} ms, next seq {f.next_seq}, published {f.published}"
        )
        out.append(
            f"  gaps {f.gaps} (missing {f.missing}, recovered {f.recovered}, lost {f.lost}, held now {f.held}), "
            f"duplicates {f.duplicates}, failovers {f.failovers}, failbacks {f.failbacks}, "
            f"outliers {f.outliers}, snapshot recoveries {f.snapshot_recoveries}"
        )
        out.append(f"  stale symbols: {', '.join(f.stale_symbols) or '-'}")
        for line in f.lines:
            mark = "*" if line.active else " "
            state = _name(pb.LineState, line.state, "LINE_STATE_")
            out.append(
                f"  {mark} line {line.name}: {state}, last seq {line.last_seq}, "
                f"lag {line.lag_ms} ms, silent {line.silent_ms} ms, received {line.received}, "
                f"malformed {line.malformed}, out of order {line.out_of_order}, duplicates {line.duplicates}, "
                f"disconnects {line.disconnects}" + (f" -- {line.detail}" if line.detail else "")
            )
        for s in f.recent_switches[-3:]:
            kind = "failback" if s.failback else f"failover ({s.took_ms} ms)"
            out.append(f"    switch {s.from_line} -> {s.to_line}: {kind}: {s.reason}")
        for o in f.recent_outliers[-3:]:
            out.append(f"    held {o.kind} {o.symbol} at {o.price} (reference {o.reference}, seq {o.seq})")
    return "\n".join(out)


def _address(args: argparse.Namespace) -> str:
    if args.address:
        return args.address
    if args.file:
        desk = load_desk(args.file)
        return f"{desk.spec.services.feeds.host}:{desk.spec.services.port_of('feeds')}"
    return os.environ.get("TD_FEEDS", "127.0.0.1:50051")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tradingdesk.feeds.ctl", description=__doc__.split("\n")[0])
    parser.add_argument("--address", help="feeds service host:port")
    parser.add_argument("-f", "--file", help="TradingDesk YAML (the feeds port is read from it)")
    sub = parser.add_subparsers(dest="command", required=True)
    st = sub.add_parser("status", help="GetFeedStatus")
    st.add_argument("feeds", nargs="*", help="feed names (default: all)")
    st.add_argument("--json", action="store_true", help="print the reply as JSON")
    sub.add_parser("health", help="gRPC health of tradingdesk.v1.MarketDataService")
    for verb in ("disable", "enable"):
        p = sub.add_parser(verb, help=f"{verb} a line (SetLineEnabled)")
        p.add_argument("feed")
        p.add_argument("line")
        p.add_argument("--reason", default="")
    add_credentials(parser)
    args = parser.parse_args(argv)
    try:
        desk = load_desk(args.file) if args.file else None
        creds = credentials(args, desk)
    except (SpecError, CredentialError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    with channel_to(_address(args), credentials=creds) as channel:
        try:
            if args.command == "health":
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=SERVICE), timeout=TIMEOUT_S
                )
                name = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
                print(f"{SERVICE}: {name}")
                return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 2
            stub = pb_grpc.MarketDataServiceStub(channel)
            if args.command == "status":
                report = stub.GetFeedStatus(pb.GetFeedStatusRequest(feeds=args.feeds), timeout=TIMEOUT_S)
                print(MessageToJson(report) if args.json else render(report))
                return 0 if report.serving else 2
            request = pb.SetLineEnabledRequest(
                feed=args.feed, line=args.line, enabled=args.command == "enable", reason=args.reason
            )
            feed = stub.SetLineEnabled(request, timeout=TIMEOUT_S)
            print(render(pb.FeedStatusReport(feeds=[feed], serving=True)).split("\n", 2)[2])
            return 0
        except grpc.RpcError as exc:
            print(f"error: {exc.code().name}: {exc.details()}", file=sys.stderr)  # type: ignore[attr-defined]
            return 1


if __name__ == "__main__":
    sys.exit(main())
