"""A domain ``Reject`` as a gRPC status: the one mapping every servicer uses.

The reject code travels in the ``td-reject-code`` trailing metadata of unary calls and in
``SessionError.reject_code`` on the order session, so clients switch on it rather than on the message.
"""

from __future__ import annotations

import grpc

from tradingdesk.core.reject import Reject, RejectKind

REJECT_CODE_KEY = "td-reject-code"

GRPC_STATUS: dict[RejectKind, grpc.StatusCode] = {
    RejectKind.INVALID: grpc.StatusCode.INVALID_ARGUMENT,
    RejectKind.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    RejectKind.DUPLICATE: grpc.StatusCode.ALREADY_EXISTS,
    RejectKind.REFUSED: grpc.StatusCode.FAILED_PRECONDITION,
    RejectKind.THROTTLED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    RejectKind.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    RejectKind.CONFLICT: grpc.StatusCode.ABORTED,
}


def grpc_status(reject: Reject) -> grpc.StatusCode:
    return GRPC_STATUS[reject.kind]


def status_number(reject: Reject) -> int:
    """The numeric gRPC status code (``SessionError.code``)."""
    return GRPC_STATUS[reject.kind].value[0]


async def abort(context: grpc.aio.ServicerContext, reject: Reject) -> None:
    """End the call with the reject's status; its code goes in the trailing metadata."""
    if reject.code:
        context.set_trailing_metadata(((REJECT_CODE_KEY, reject.code),))
    await context.abort(GRPC_STATUS[reject.kind], reject.message)
