"""``tradingdesk``: run a desk, and trade on it from the terminal."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import uuid
from pathlib import Path

import grpc

from tradingdesk.cli.table import render
from tradingdesk.runtime import loop as event_loop
from tradingdesk.spec.load import SpecError, load_desk
from tradingdesk.spec.model import DEFAULT_PORTS, SERVICE_NAMES
from tradingdesk.v1 import common_pb2, orders_pb2, orders_pb2_grpc

STATUS_NAMES = {v: k.removeprefix("ORDER_STATUS_") for k, v in common_pb2.OrderStatus.items()}
SIDE_NAMES = {v: k.removeprefix("SIDE_") for k, v in common_pb2.Side.items()}


def _routing_address(args: argparse.Namespace) -> str:
    if args.routing:
        return args.routing
    if os.environ.get("TD_ADDR_ROUTING"):
        return os.environ["TD_ADDR_ROUTING"]
    if args.file:
        desk = load_desk(args.file)
        svc = desk.spec.services.routing
        return f"{svc.host}:{desk.spec.services.port_of('routing')}"
    return f"127.0.0.1:{DEFAULT_PORTS['routing']}"


def _stub(args: argparse.Namespace) -> orders_pb2_grpc.OrderServiceStub:
    return orders_pb2_grpc.OrderServiceStub(grpc.insecure_channel(_routing_address(args)))


def _target(args: argparse.Namespace, msg) -> None:
    if args.order_id:
        msg.order_id = args.order_id
    elif args.client_order_id:
        msg.client_order_id = args.client_order_id


def cmd_up(args: argparse.Namespace) -> int:
    from tradingdesk.runtime.embedded import run_embedded

    desk = load_desk(args.file)
    log_dir = Path(args.log_dir) if args.log_dir else Path(desk.spec.storage.data_dir) / desk.name / "logs"
    return event_loop.run(run_embedded(desk, Path(args.file), log_dir))


def cmd_serve(args: argparse.Namespace) -> int:
    from tradingdesk.runtime.directory import ServiceDirectory
    from tradingdesk.runtime.factory import build_service
    from tradingdesk.runtime.service import serve_until_signalled

    desk = load_desk(args.file)
    address = args.bind or ServiceDirectory.for_desk(desk).bind_address(args.service, desk)

    async def main() -> None:
        service = build_service(args.service, desk)
        await serve_until_signalled(service, address)

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
            ["order_id", "client_order_id", "status"], [[ack.order_id, ack.client_order_id, STATUS_NAMES[ack.status]]]
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


def _client_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--file", help="desk spec, to find the routing address")
    p.add_argument("--routing", help="routing service address host:port (default 127.0.0.1:50052)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for an answer")


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
    up.set_defaults(func=cmd_up)

    serve = sub.add_parser("serve", help="run one service (what a pod runs)")
    serve.add_argument("service", choices=SERVICE_NAMES)
    serve.add_argument("-f", "--file", required=True, help="TradingDesk YAML")
    serve.add_argument("--bind", help="listen address host:port (default from the spec, or TD_BIND)")
    serve.set_defaults(func=cmd_serve)

    order = sub.add_parser("order", help="submit, cancel, replace and list orders").add_subparsers(
        dest="order_command", required=True
    )
    s = order.add_parser("submit", help="place an order")
    _client_args(s)
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
    _client_args(c)
    _target_args(c)
    c.set_defaults(func=cmd_cancel)

    r = order.add_parser("replace", help="change an order's quantity or price")
    _client_args(r)
    _target_args(r)
    r.add_argument("--new-client-order-id")
    r.add_argument("--qty")
    r.add_argument("--price")
    r.set_defaults(func=cmd_replace)

    ls = order.add_parser("list", help="list orders, newest first")
    _client_args(ls)
    ls.add_argument("--account", default="")
    ls.add_argument("--symbol", default="")
    ls.add_argument("--open", action="store_true", help="only open orders")
    ls.add_argument("--limit", type=int, default=50)
    ls.set_defaults(func=cmd_list)

    pos = sub.add_parser("positions", help="positions and P&L")
    _client_args(pos)
    pos.add_argument("--account", default="")
    pos.set_defaults(func=cmd_positions)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except grpc.RpcError as exc:
        print(f"error: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
