"""The baselines: a bare grpcio server that answers the order API's messages without doing anything.

It runs the same grpc.aio server, in its own process like routing does, and returns a prebuilt OrderAck
of the same size as the real one, so the difference to the desk is the desk's own work.

With ``--durable FILE`` it first appends each request to FILE and fdatasyncs it, one sync per request: the
physical floor of a durable acknowledgement on this disk (``durable_echo_p50_us``).
"""

from __future__ import annotations

import os
import sys

import grpc

from tradingdesk.runtime.loop import run
from tradingdesk.v1 import common_pb2, orders_pb2

ACK = orders_pb2.OrderAck(
    order_id="O-1a200a74bd28d9-000001",
    client_order_id="bench-000000001",
    status=common_pb2.ORDER_STATUS_PENDING_NEW,
    journal_seq=123456,
)


async def submit(request: orders_pb2.SubmitOrderRequest, context) -> orders_pb2.OrderAck:
    return ACK


def durable_submit(fd: int):
    """A SubmitOrder handler that makes the request durable before answering."""

    async def handler(request: orders_pb2.SubmitOrderRequest, context) -> orders_pb2.OrderAck:
        os.write(fd, request.SerializeToString())
        os.fdatasync(fd)
        return ACK

    return handler


async def session(request_iterator, context):
    async for batch in request_iterator:
        yield orders_pb2.SessionResponses(
            responses=[orders_pb2.SessionResponse(request_id=r.request_id, ack=ACK) for r in batch.requests]
        )


async def main(port: int, durable_path: str = "") -> None:
    server = grpc.aio.server()
    answer = submit
    if durable_path:
        answer = durable_submit(os.open(durable_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    handlers = {
        "SubmitOrder": grpc.unary_unary_rpc_method_handler(
            answer, orders_pb2.SubmitOrderRequest.FromString, orders_pb2.OrderAck.SerializeToString
        ),
        "OrderSession": grpc.stream_stream_rpc_method_handler(
            session, orders_pb2.SessionRequests.FromString, orders_pb2.SessionResponses.SerializeToString
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("tradingdesk.v1.OrderService", handlers),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print("ready", flush=True)
    await server.wait_for_termination()


if __name__ == "__main__":
    durable = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--durable" else ""
    run(main(int(sys.argv[1]), durable))  # the same event loop as the desk's services
