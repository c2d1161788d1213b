"""``tradingdesk``: run a desk, and trade on it from the terminal."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
import uuid
from pathlib import Path

import grpc

from tradingdesk.cli import audit, database, feeds, report, simulate
from tradingdesk.cli import credentials as cli_credentials
from tradingdesk.cli.table import render
from tradingdesk.edge.directory import ServiceDirectory
from tradingdesk.edge.door import door_metadata
from tradingdesk.runtime import loop as event_loop
from tradingdesk.security import channels
from tradingdesk.spec.load import SpecError, load_desk
from tradingdesk.spec.model import DEFAULT_PORTS, SERVICE_NAMES
from tradingdesk.v1 import (
    common_pb2,
    monitoring_pb2,
    monitoring_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
    risk_pb2,
    risk_pb2_grpc,
)

STATUS_NAMES = {v: k.removeprefix("ORDER_STATUS_") for k, v in common_pb2.OrderStatus.items()}
STATE_NAMES = {v: k.removeprefix("TRADING_STATE_") for k, v in common_pb2.TradingState.items()}
EVENT_NAMES = {v: k.removeprefix("RISK_EVENT_KIND_") for k, v in risk_pb2.RiskEventKind.items()}
SIDE_NAMES = {v: k.removeprefix("SIDE_") for k, v in common_pb2.Side.items()}
CLI_DOOR = door_metadata("cli")
"""Changes made with this CLI are journaled with the door ``cli``."""


def address_of(service: str, args: argparse.Namespace) -> str:
    """Where ``service`` listens, the one way every command finds it: ``--address`` (or ``--<service>``), else
    ``TD_ADDR_<SERVICE>``, else the desk spec given with ``-f``, else the default port on this machine."""
    if args.address:
        return args.address
    if args.file:
        return ServiceDirectory.for_desk(load_desk(args.file)).address(service)
    return os.environ.get(f"TD_ADDR_{service.upper()}", f"127.0.0.1:{DEFAULT_PORTS[service]}")


def _stub(args: argparse.Namespace) -> orders_pb2_grpc.OrderServiceStub:
    return orders_pb2_grpc.OrderServiceStub(channels.channel(address_of("routing", args)))


def _risk_stub(args: argparse.Namespace) -> risk_pb2_grpc.RiskServiceStub:
    return risk_pb2_grpc.RiskServiceStub(channels.channel(address_of("risk", args)))


def cmd_feeds(args: argparse.Namespace) -> int:
    with channels.channel(address_of("feeds", args)) as channel:
        return args.feeds_run(args, channel)


def cmd_compliance(args: argparse.Namespace) -> int:
    with channels.channel(address_of("compliance", args)) as channel:
        return args.compliance_run(args, channel)


def _scope(args: argparse.Namespace) -> common_pb2.Scope:
    return common_pb2.Scope(account=args.account or "", strategy=args.strategy or "")


def _state_row(info: risk_pb2.TradingStateInfo) -> list:
    return [
        info.scope.account or "(desk)",
        info.scope.strategy,
        STATE_NAMES.get(info.state, str(info.state)),
        info.actor,
        info.reason,
        info.changed_ns,
    ]


STATE_HEADER = ["account", "strategy", "state", "actor", "reason", "changed_ns"]


def _default_actor() -> str:
    import getpass

    return os.environ.get("TD_ACTOR") or getpass.getuser()


def cmd_kill(args: argparse.Namespace) -> int:
    req = risk_pb2.KillSwitchRequest(
        scope=_scope(args), actor=args.actor or _default_actor(), reason=args.reason, flatten=args.flatten
    )
    resp = _risk_stub(args).KillSwitch(req, timeout=args.timeout, metadata=CLI_DOOR)
    print(f"kill switch {resp.kill_id}: {_delivery(resp.state.delivery)}")
    print(render(STATE_HEADER, [_state_row(resp.state)]))
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    req = risk_pb2.ResumeRequest(scope=_scope(args), actor=args.actor, reason=args.reason)
    info = _risk_stub(args).Resume(req, timeout=args.timeout, metadata=CLI_DOOR)
    print(f"resumed: {_delivery(info.delivery)}")
    print(render(STATE_HEADER, [_state_row(info)]))
    return 0


def _delivery(delivery: risk_pb2.GateDelivery) -> str:
    """Which routing gates applied the change before the answer; gates cut off are named on stderr."""
    if delivery.cut_off:
        print(
            f"warning: {delivery.cut_off} routing gate(s) did not acknowledge the change within "
            f"{delivery.ack_deadline_ms} ms and were cut off (they refuse new orders until they have reconnected): "
            f"{', '.join(delivery.cut_off_gates)}",
            file=sys.stderr,
        )
    if not delivery.gates:
        return "no routing gate connected (a gate that connects starts from the new state)"
    return f"applied by {delivery.applied} of {delivery.gates} routing gate(s)" + (
        f", {delivery.cut_off} cut off" if delivery.cut_off else ""
    )


def cmd_risk_state(args: argparse.Namespace) -> int:
    info = _risk_stub(args).GetTradingState(risk_pb2.GetTradingStateRequest(scope=_scope(args)), timeout=args.timeout)
    print(render(STATE_HEADER, [_state_row(info)]))
    return 0


def cmd_risk_snapshot(args: argparse.Namespace) -> int:
    snap = _risk_stub(args).GetRiskSnapshot(risk_pb2.GetRiskSnapshotRequest(scope=_scope(args)), timeout=args.timeout)
    rows = [
        ["state", STATE_NAMES.get(snap.state, "")],
        ["realized_pnl", snap.realized_pnl],
        ["unrealized_pnl", snap.unrealized_pnl],
        ["daily_pnl", snap.daily_pnl],
        ["drawdown", snap.drawdown],
        ["gross_exposure", snap.gross_exposure],
        ["net_exposure", snap.net_exposure],
        ["open_order_notional", snap.open_order_notional],
        [f"var_{snap.var_confidence_pct}", f"{snap.var:.2f} ({snap.var_scenarios} scenarios)"],
        [f"es_{snap.var_confidence_pct}", f"{snap.expected_shortfall:.2f}"],
    ]
    print(render(["measure", "value"], rows))
    if snap.symbols:
        print(
            render(
                ["symbol", "sector", "qty", "mark", "gross", "net"],
                [[x.symbol, x.sector, x.quantity, x.mark, x.gross, x.net] for x in snap.symbols],
            )
        )
    return 0


def cmd_risk_events(args: argparse.Namespace) -> int:
    """The retained events from --from-seq; with --follow, new ones until interrupted (else it stops after
    a second without news)."""
    stream = _risk_stub(args).StreamRiskEvents(
        risk_pb2.StreamRiskEventsRequest(from_seq=args.from_seq), timeout=None if args.follow else 1.0
    )
    try:
        for event in stream:
            print(f"{event.seq:>6} {EVENT_NAMES.get(event.kind, event.kind):<13} {event.message}", flush=True)
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
            raise
    return 0


def cmd_release_latch(args: argparse.Namespace) -> int:
    req = risk_pb2.ReleaseLatchRequest(scope=_scope(args), actor=args.actor, reason=args.reason)
    resp = _risk_stub(args).ReleaseLatch(req, timeout=args.timeout, metadata=CLI_DOOR)
    print("released" if resp.released else "released (the risk service had not seen a latch for this scope)")
    return 0


def _target(args: argparse.Namespace, msg) -> None:
    if args.order_id:
        msg.order_id = args.order_id
    elif args.client_order_id:
        msg.client_order_id = args.client_order_id


def cmd_up(args: argparse.Namespace) -> int:
    from tradingdesk.runtime.monitoring_stack import MonitoringStack, MonitoringStackError
    from tradingdesk.runtime.up import run_embedded

    desk = load_desk(args.file)
    log_dir = Path(args.log_dir) if args.log_dir else Path(desk.spec.storage.data_dir) / desk.name / "logs"
    stack = None
    if args.monitoring:
        try:
            stack = MonitoringStack(
                desk,
                Path(desk.spec.storage.data_dir) / desk.name / "monitoring",
                prometheus_port=args.prometheus_port,
                alertmanager_port=args.alertmanager_port,
                routing_key_file=Path(args.pagerduty_routing_key_file) if args.pagerduty_routing_key_file else None,
            )
        except MonitoringStackError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return event_loop.run(run_embedded(desk, Path(args.file), log_dir, monitoring=stack))


def _monitoring_stub(args: argparse.Namespace) -> monitoring_pb2_grpc.MonitoringServiceStub:
    address = args.monitoring or os.environ.get("TD_ADDR_MONITORING")
    if not address and args.file:
        desk = load_desk(args.file)
        address = f"{desk.spec.services.monitoring.host}:{desk.spec.services.port_of('monitoring')}"
    address = address or f"127.0.0.1:{DEFAULT_PORTS['monitoring']}"
    return monitoring_pb2_grpc.MonitoringServiceStub(channels.channel(address))


def cmd_monitoring_status(args: argparse.Namespace) -> int:
    summary = _monitoring_stub(args).GetHealthSummary(monitoring_pb2.GetHealthSummaryRequest(), timeout=args.timeout)
    print(f"desk: {'healthy' if summary.healthy else 'NOT READY'}")
    print(
        render(
            ["service", "status", "restarts", "address", "detail"],
            [[s.service, s.status, str(s.restarts), s.address, s.detail] for s in summary.services],
        )
    )
    return 0


def cmd_monitoring_alerts(args: argparse.Namespace) -> int:
    req = monitoring_pb2.ListAlertsRequest(severity=args.severity, include_suppressed=args.all)
    resp = _monitoring_stub(args).ListAlerts(req, timeout=args.timeout)
    print(f"{len(resp.alerts)} active alert(s), from {resp.source}")
    rows = [[a.severity, a.name, a.service, a.state, a.summary, a.runbook_url] for a in resp.alerts]
    if rows:
        print(render(["severity", "alert", "service", "state", "summary", "runbook"], rows))
    return 0


def cmd_monitoring_silence(args: argparse.Namespace) -> int:
    matchers = {"alertname": args.alertname}
    for item in args.match or []:
        name, sep, value = item.partition("=")
        if not sep:
            print(f"error: --match {item!r}: expected label=value", file=sys.stderr)
            return 2
        matchers[name] = value
    req = monitoring_pb2.SilenceAlertRequest(
        matchers=matchers, duration_s=args.minutes * 60, author=args.author, comment=args.comment
    )
    silence = _monitoring_stub(args).SilenceAlert(req, timeout=args.timeout)
    shown = ", ".join(f"{k}={v}" for k, v in sorted(silence.matchers.items()))
    print(f"silence {silence.silence_id}: {shown} until {silence.ends_ns} (by {silence.author}: {silence.comment})")
    return 0


def cmd_monitoring_render(args: argparse.Namespace) -> int:
    from tradingdesk.runtime.monitoring_stack import write_configs

    desk = load_desk(args.file)
    key = Path(args.pagerduty_routing_key_file) if args.pagerduty_routing_key_file else None
    files = write_configs(desk, Path(args.out), alertmanager_address=args.alertmanager, routing_key_file=key)
    for name, path in files.items():
        print(f"{name:<13} {path}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from tradingdesk.runtime.factory import build_service
    from tradingdesk.runtime.lifeline import die_with_parent
    from tradingdesk.runtime.malloc import limit_arenas
    from tradingdesk.runtime.service import serve_until_signalled
    from tradingdesk.security.expiry import export_certificate_expiry
    from tradingdesk.security.server import for_service
    from tradingdesk.spec.domain import dsn_for
    from tradingdesk.telemetry import start_telemetry
    from tradingdesk.telemetry.logs import configure_json_logging, environment_redactor

    die_with_parent(dict(os.environ))  # a child of `tradingdesk up` ends with it, even when it is SIGKILLed
    limit_arenas()  # before grpcio starts its threads
    if args.nice:
        os.nice(args.nice)  # the embedded desk's background services yield the CPU to its order path
    desk = load_desk(args.file)
    configure_json_logging(
        service=args.service,
        desk=desk.name,
        redactor=environment_redactor(dsn_for(desk, args.service)),
        level=logging.DEBUG if args.verbose else logging.INFO,
    )
    # the first line a (re)started service logs: where its own start begins, after the interpreter's and imports
    logging.getLogger("tradingdesk.cli.serve").info(
        "%s: starting (pid %d, %.0f ms CPU so far)", args.service, os.getpid(), time.process_time() * 1e3
    )
    address = args.bind or ServiceDirectory.for_desk(desk).bind_address(args.service, desk)
    # A replica beside another on one host (the embedded desk's routing standby) serves /metrics, like its gRPC
    # address, only once it is the active one.
    telemetry = start_telemetry(desk, args.service, metrics_now=not args.own_address)

    async def main() -> None:
        security = for_service(desk, args.service, bind_host=address.rsplit(":", 1)[0])
        channels.use(security.client)  # the service dials its peers with its own certificate
        if security.tls is not None:
            export_certificate_expiry(security.tls)
        service = build_service(args.service, desk)
        for access_log in (security.access_log, telemetry.access_log):  # refusals into the audit trail too
            if access_log is not None:
                access_log.forward(service.access_audit.record_access, asyncio.get_running_loop())
        try:
            await serve_until_signalled(
                service,
                address,
                security=security,
                interceptors=telemetry.server_interceptors,
                own_address=args.own_address or "",
                on_listening=telemetry.serve_metrics,
            )
        finally:
            telemetry.shutdown()

    profile_to = os.environ.get("TD_PROFILE_DIR")
    if profile_to:  # a developer's aid: cProfile of the whole service, written when it stops
        import cProfile

        with cProfile.Profile() as prof:
            event_loop.run(main())
        prof.dump_stats(str(Path(profile_to) / f"{args.service}.prof"))
        return 0
    event_loop.run(main())
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    req = orders_pb2.SubmitOrderRequest(
        client_order_id=args.client_order_id or f"cli-{uuid.uuid4().hex[:12]}",
        account=args.account,
        strategy=args.strategy,
        symbol=args.symbol,
        side=common_pb2.Side.Value(f"SIDE_{args.side.upper()}"),
        order_type=common_pb2.OrderType.Value(f"ORDER_TYPE_{args.type.upper()}"),
        quantity=args.qty,
        limit_price=args.price or "",
        time_in_force=common_pb2.TimeInForce.Value(f"TIME_IN_FORCE_{args.tif.upper()}"),
        venue=args.venue,
    )
    ack = _stub(args).SubmitOrder(req, timeout=args.timeout)
    print(
        render(
            ["order_id", "client_order_id", "status", "duplicate"],
            [[ack.order_id, ack.client_order_id, STATUS_NAMES[ack.status], ack.duplicate]],
        )
    )
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    req = orders_pb2.CancelOrderRequest(account=args.account)
    _target(args, req)
    ack = _stub(args).CancelOrder(req, timeout=args.timeout)
    print(
        render(
            ["order_id", "client_order_id", "status"], [[ack.order_id, ack.client_order_id, STATUS_NAMES[ack.status]]]
        )
    )
    return 0


def cmd_replace(args: argparse.Namespace) -> int:
    req = orders_pb2.ReplaceOrderRequest(
        account=args.account,
        new_client_order_id=args.new_client_order_id or f"cli-{uuid.uuid4().hex[:12]}",
        quantity=args.qty or "",
        limit_price=args.price or "",
    )
    _target(args, req)
    ack = _stub(args).ReplaceOrder(req, timeout=args.timeout)
    print(
        render(
            ["order_id", "client_order_id", "status", "new_order_id", "new_client_order_id"],
            [[ack.order_id, ack.client_order_id, STATUS_NAMES[ack.status], ack.new_order_id, req.new_client_order_id]],
        )
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    resp = _stub(args).ListOrders(
        orders_pb2.ListOrdersRequest(account=args.account, symbol=args.symbol, open_only=args.open, limit=args.limit),
        timeout=args.timeout,
    )
    rows = [
        [
            o.order_id,
            o.client_order_id,
            o.account,
            o.symbol,
            SIDE_NAMES[o.side],
            o.quantity,
            o.limit_price or "MKT",
            STATUS_NAMES[o.status],
            o.cum_quantity,
            o.avg_price,
            o.venue,
        ]
        for o in resp.orders
    ]
    print(
        render(
            [
                "order_id",
                "client_order_id",
                "account",
                "symbol",
                "side",
                "qty",
                "price",
                "status",
                "filled",
                "avg_price",
                "venue",
            ],
            rows,
        )
    )
    return 0


def cmd_positions(args: argparse.Namespace) -> int:
    resp = _stub(args).GetPositions(orders_pb2.GetPositionsRequest(account=args.account), timeout=args.timeout)
    rows = [
        [p.account, p.symbol, p.quantity, p.avg_cost, p.mark_price, p.realized_pnl, p.unrealized_pnl, p.fees]
        for p in resp.positions
    ]
    print(render(["account", "symbol", "qty", "avg_cost", "mark", "realized_pnl", "unrealized_pnl", "fees"], rows))
    return 0


def _client_args(p: argparse.ArgumentParser, service: str, *, scope: bool = False) -> None:
    """The options every command that calls a service shares: where it listens, and how long to wait."""
    p.add_argument("-f", "--file", help=f"desk spec, to find the {service} service's address")
    p.add_argument(
        "--address",
        f"--{service}",
        dest="address",
        metavar="HOST:PORT",
        help=f"{service} service address (default: TD_ADDR_{service.upper()}, else the spec, else "
        f"127.0.0.1:{DEFAULT_PORTS[service]})",
    )
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for an answer")
    cli_credentials.add_arguments(p)
    if scope:
        p.add_argument("--account", default="", help="one account only (default: the whole desk)")
        p.add_argument("--strategy", default="", help="one strategy of --account only")


def _target_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--account", required=True)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--order-id")
    group.add_argument("--client-order-id")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="tradingdesk", description=__doc__)
    ap.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = ap.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start the embedded desk: all five services on this machine")
    up.add_argument("-f", "--file", required=True, help="TradingDesk YAML")
    up.add_argument("--log-dir", help="where service logs go (default <dataDir>/<desk>/logs)")
    up.add_argument(
        "--monitoring",
        action="store_true",
        help="also run Prometheus and Alertmanager (found on PATH) with the desk's generated rules and routing",
    )
    up.add_argument("--prometheus-port", type=int, default=9090, help="with --monitoring (default 9090)")
    up.add_argument("--alertmanager-port", type=int, default=9093, help="with --monitoring (default 9093)")
    up.add_argument("--pagerduty-routing-key-file", help="with --monitoring: file holding the PagerDuty routing key")
    up.set_defaults(func=cmd_up)

    mon = sub.add_parser("monitoring", help="the desk's Prometheus and Alertmanager configuration").add_subparsers(
        dest="monitoring_command", required=True
    )
    render_cmd = mon.add_parser("render", help="write rules.yml, prometheus.yml and alertmanager.yml for the desk")
    render_cmd.add_argument("-f", "--file", required=True, help="TradingDesk YAML")
    render_cmd.add_argument("-o", "--out", required=True, help="directory to write the files into")
    render_cmd.add_argument("--alertmanager", default="127.0.0.1:9093", help="Alertmanager host:port for Prometheus")
    render_cmd.add_argument(
        "--pagerduty-routing-key-file",
        help="where Alertmanager reads the routing key (default: the Prometheus Operator's Secret mount)",
    )
    render_cmd.set_defaults(func=cmd_monitoring_render)

    def monitoring_client(p: argparse.ArgumentParser) -> None:
        p.add_argument("-f", "--file", help="desk spec, to find the monitoring service address")
        p.add_argument("--monitoring", help="monitoring service address host:port (or TD_ADDR_MONITORING)")
        p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for an answer")
        cli_credentials.add_arguments(p)

    st = mon.add_parser("status", help="every service's health, as the monitoring service probes it")
    monitoring_client(st)
    st.set_defaults(func=cmd_monitoring_status)
    al = mon.add_parser("alerts", help="active alerts (from Alertmanager, or the desk's own checks)")
    monitoring_client(al)
    al.add_argument("--severity", default="", choices=["", "critical", "warning", "info"])
    al.add_argument("--all", action="store_true", help="also silenced and inhibited alerts")
    al.set_defaults(func=cmd_monitoring_alerts)
    si = mon.add_parser("silence", help="silence an alert in Alertmanager for a while, with who and why")
    monitoring_client(si)
    si.add_argument("--alertname", required=True)
    si.add_argument("--match", action="append", help="another label=value the alerts must carry (repeatable)")
    si.add_argument("--minutes", type=int, required=True, help="how long (1 to 10080)")
    si.add_argument("--author", required=True, help="the person silencing")
    si.add_argument("--comment", required=True, help="why: an incident or change reference")
    si.set_defaults(func=cmd_monitoring_silence)

    serve = sub.add_parser("serve", help="run one service (what a pod runs)")
    serve.add_argument("service", choices=SERVICE_NAMES)
    serve.add_argument("-f", "--file", required=True, help="TradingDesk YAML")
    serve.add_argument("--bind", help="listen address host:port (default from the spec, or TD_BIND)")
    serve.add_argument(
        "--own-address",
        help="one of several replicas on this host: report health on this unix socket (unix:/path) from the start, "
        "and listen on --bind and /metrics only once active (the embedded desk's routing standby)",
    )
    serve.add_argument(
        "--nice",
        type=int,
        choices=range(20),
        default=0,
        metavar="0-19",
        help="yield the CPU: add this to the process's nice value (the embedded desk's spec.services.<service>.nice)",
    )
    serve.set_defaults(func=cmd_serve)
    database.register(sub)

    order = sub.add_parser("order", help="submit, cancel, replace and list orders").add_subparsers(
        dest="order_command", required=True
    )
    s = order.add_parser("submit", help="place an order")
    _client_args(s, "routing")
    s.add_argument("--account", required=True)
    s.add_argument("--strategy", default="")
    s.add_argument("--symbol", required=True)
    s.add_argument("--side", required=True, choices=["buy", "sell", "sell_short"])
    s.add_argument("--qty", required=True, help="decimal quantity, e.g. 100")
    s.add_argument("--price", help="limit price, e.g. 189.50 (omit for market orders)")
    s.add_argument("--type", default="limit", choices=["limit", "market"])
    s.add_argument("--tif", default="day", choices=["day", "gtc", "ioc", "fok"])
    s.add_argument("--venue", default="", help="send to this venue instead of the smart router")
    s.add_argument("--client-order-id", help="idempotency key (default: generated)")
    s.set_defaults(func=cmd_submit)

    c = order.add_parser("cancel", help="cancel an order")
    _client_args(c, "routing")
    _target_args(c)
    c.set_defaults(func=cmd_cancel)

    r = order.add_parser("replace", help="change an order's quantity or price")
    _client_args(r, "routing")
    _target_args(r)
    r.add_argument("--new-client-order-id")
    r.add_argument("--qty")
    r.add_argument("--price")
    r.set_defaults(func=cmd_replace)

    ls = order.add_parser("list", help="list orders, newest first")
    _client_args(ls, "routing")
    ls.add_argument("--account", default="")
    ls.add_argument("--symbol", default="")
    ls.add_argument("--open", action="store_true", help="only open orders")
    ls.add_argument("--limit", type=int, default=50)
    ls.set_defaults(func=cmd_list)

    pos = sub.add_parser("positions", help="positions and P&L")
    _client_args(pos, "routing")
    pos.add_argument("--account", default="")
    pos.set_defaults(func=cmd_positions)

    kill = sub.add_parser(
        "kill", help="the kill switch: halt trading, cancel every open order on every venue (docs/runbooks)"
    )
    _client_args(kill, "risk", scope=True)
    kill.add_argument("--reason", required=True, help="why: journaled with the incident report")
    kill.add_argument("--actor", help="who pulls it (default: $TD_ACTOR or the login name)")
    kill.add_argument("--flatten", action="store_true", help="also close positions with market orders")
    kill.set_defaults(func=cmd_kill)

    resume = sub.add_parser("resume", help="end a halt: a named person and a reason are required")
    _client_args(resume, "risk", scope=True)
    resume.add_argument("--actor", required=True, help="the person resuming trading")
    resume.add_argument("--reason", required=True, help="why it is safe to trade again")
    resume.set_defaults(func=cmd_resume)

    risk = sub.add_parser("risk", help="trading state, risk snapshot, risk events, latches").add_subparsers(
        dest="risk_command", required=True
    )
    st = risk.add_parser("state", help="the trading state of the desk, an account or a strategy")
    _client_args(st, "risk", scope=True)
    st.set_defaults(func=cmd_risk_state)
    snap = risk.add_parser("snapshot", help="P&L, drawdown, exposure, VaR and ES")
    _client_args(snap, "risk", scope=True)
    snap.set_defaults(func=cmd_risk_snapshot)
    ev = risk.add_parser("events", help="breaches, warnings, state changes and kills")
    _client_args(ev, "risk")
    ev.add_argument("--from-seq", type=int, default=1, help="replay retained events from this seq (0: only new)")
    ev.add_argument("--follow", action="store_true", help="keep printing new events until interrupted")
    ev.set_defaults(func=cmd_risk_events)
    rl = risk.add_parser("release-latch", help="re-enable a scope the repeated-execution throttle latched off")
    _client_args(rl, "risk", scope=True)
    rl.add_argument("--actor", required=True, help="the person re-enabling it")
    rl.add_argument("--reason", required=True, help="why it is safe")
    rl.set_defaults(func=cmd_release_latch)
    audit.register(sub)
    simulate.register(sub)

    feeds.add_commands(sub, client_args=_client_args, run=cmd_feeds)
    report.add_commands(sub, client_args=_client_args, run=cmd_compliance)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if hasattr(args, "token_file"):  # a client command: dial with the caller's credentials
            desk = load_desk(args.file) if args.file else None
            channels.use(cli_credentials.credentials(args, desk))
        return args.func(args)
    except (SpecError, ValueError) as exc:  # a CredentialError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except grpc.RpcError as exc:
        print(f"error: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
