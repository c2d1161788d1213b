"""``tradingdesk feeds ...``: what an SRE runs against a desk's feeds service.

    tradingdesk feeds status -f examples/desk.yaml           # one screen: feeds, lines, counters
    tradingdesk feeds status -f examples/desk.yaml --json    # the GetFeedStatus reply as JSON
    tradingdesk feeds health -f examples/desk.yaml           # gRPC health of MarketDataService
    tradingdesk feeds disable vendor-a A -f examples/desk.yaml --reason "flapping, ticket 123"
    tradingdesk feeds enable vendor-a A -f examples/desk.yaml

Exit status: 0 when market data is flowing (``status``) or the service reports SERVING (``health``), 2 when
it does not, 1 when the service cannot be reached or refuses (every ``tradingdesk`` command exits 1 then).
"""

from __future__ import annotations

import argparse
import getpass
import os

import grpc
from google.protobuf.json_format import MessageToJson
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tradingdesk.edge.door import door_metadata
from tradingdesk.v1 import market_data_pb2 as pb
from tradingdesk.v1 import market_data_pb2_grpc as pb_grpc

SERVICE = "tradingdesk.v1.MarketDataService"
NOT_FLOWING = 2


def _name(enum: object, value: int, prefix: str) -> str:
    return enum.Name(value).removeprefix(prefix)  # type: ignore[attr-defined]


def render(report: pb.FeedStatusReport) -> str:
    """The status report as a person reads it."""
    out = [
        f"market data: {'SERVING' if report.serving else 'DOWN (no feed has a live line: orders are refused)'}",
        f"stale symbols: {', '.join(report.stale_symbols) or '-'}",
    ]
    for f in report.feeds:
        out.extend(_feed_lines(f))
    return "\n".join(out)


def _feed_lines(f: pb.FeedStatus) -> list[str]:
    out = [
        f"{f.feed} ({f.kind}): {_name(pb.FeedHealth, f.health, 'FEED_HEALTH_')}, active line {f.active_line}, "
        f"lag {f.lag_ms} ms, next seq {f.next_seq}, published {f.published}",
        f"  gaps {f.gaps} (missing {f.missing}, recovered {f.recovered}, lost {f.lost}, held now {f.held}), "
        f"duplicates {f.duplicates}, failovers {f.failovers}, failbacks {f.failbacks}, "
        f"outliers {f.outliers}, snapshot recoveries {f.snapshot_recoveries}",
        f"  stale symbols: {', '.join(f.stale_symbols) or '-'}",
    ]
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
    return out


def cmd_status(args: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = pb_grpc.MarketDataServiceStub(channel)
    report = stub.GetFeedStatus(pb.GetFeedStatusRequest(feeds=args.feeds), timeout=args.timeout)
    print(MessageToJson(report) if args.json else render(report))
    return 0 if report.serving else NOT_FLOWING


def cmd_health(args: argparse.Namespace, channel: grpc.Channel) -> int:
    reply = health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=SERVICE), timeout=args.timeout
    )
    print(f"{SERVICE}: {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}")
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else NOT_FLOWING


def cmd_set_line(args: argparse.Namespace, channel: grpc.Channel) -> int:
    request = pb.SetLineEnabledRequest(
        feed=args.feed,
        line=args.line,
        enabled=args.feeds_command == "enable",
        reason=args.reason,
        actor=args.actor or os.environ.get("TD_ACTOR") or getpass.getuser(),
    )
    stub = pb_grpc.MarketDataServiceStub(channel)
    feed = stub.SetLineEnabled(request, timeout=args.timeout, metadata=door_metadata("cli"))
    print("\n".join(_feed_lines(feed)))
    return 0


def add_commands(sub: argparse._SubParsersAction, *, client_args, run) -> None:
    """``feeds status|health|disable|enable`` under the main parser. ``client_args(p, service)`` adds the
    address options every client command shares; ``run(args)`` opens the channel and calls ``args.feeds_run``."""
    feeds = sub.add_parser("feeds", help="feed and line status, health, disabling and enabling lines").add_subparsers(
        dest="feeds_command", required=True
    )
    st = feeds.add_parser("status", help="GetFeedStatus: feeds, lines, counters")
    client_args(st, "feeds")
    st.add_argument("feeds", nargs="*", help="feed names (default: all)")
    st.add_argument("--json", action="store_true", help="print the reply as JSON")
    st.set_defaults(func=run, feeds_run=cmd_status)
    health = feeds.add_parser("health", help="gRPC health of tradingdesk.v1.MarketDataService")
    client_args(health, "feeds")
    health.set_defaults(func=run, feeds_run=cmd_health)
    for verb in ("disable", "enable"):
        p = feeds.add_parser(verb, help=f"{verb} a line (SetLineEnabled)")
        client_args(p, "feeds")
        p.add_argument("feed")
        p.add_argument("line")
        p.add_argument("--reason", default="", help="why (logged, and recorded in the audit trail)")
        p.add_argument("--actor", help="who asks, for the audit trail (default: $TD_ACTOR or the login name)")
        p.set_defaults(func=run, feeds_run=cmd_set_line)
