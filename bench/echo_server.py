"""The baseline: a bare grpcio server that answers the order API's messages without doing anything.

It runs the same grpc.aio server, in its own process like routing does, and returns a prebuilt OrderAck
of the same size as the real one, so the difference to the desk is the desk's own work.
"""

from __future__ import annotations

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


async def session(request_iterator, context):
    async for batch in request_iterator:
        yield orders_pb2.SessionResponses(
            responses=[orders_pb2.SessionResponse(request_id=r.request_id, ack=ACK) for r in batch.requests]
        )


async def main(port: int) -> None:
    server = grpc.aio.server()
    handlers = {
        "SubmitOrder": grpc.unary_unary_rpc_method_handler(
            submit, orders_pb2.SubmitOrderRequest.FromString, orders_pb2.OrderAck.SerializeToString
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
    run(main(int(sys.argv[1])))  # the same event loop as the desk's services
