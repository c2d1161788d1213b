"""A refused request, as the audit trail keeps it: the request's fields as sent, the reject and the answer.

The fields are what the client sent, so the refusal of a malformed request is on record too; but a client
chooses their size, so every string is cut to ``TEXT_MAX`` characters (marked with a trailing ``...``) and
nested or repeated fields beyond ``ITEMS_MAX`` are left out with a count. A record stays a few hundred bytes
whatever arrives.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from tradingdesk.core.events import Refusal
from tradingdesk.core.reject import Reject
from tradingdesk.edge.status import grpc_status

TEXT_MAX = 256
ITEMS_MAX = 64
MESSAGE_MAX = 1024


def bounded(value: Any) -> Any:
    """``value`` with long strings cut and long lists or objects shortened (see the module docstring)."""
    if isinstance(value, str):
        return value if len(value) <= TEXT_MAX else value[:TEXT_MAX] + "..."
    if isinstance(value, dict):
        items = list(value.items())
        out = {bounded(k): bounded(v) for k, v in items[:ITEMS_MAX]}
        if len(items) > ITEMS_MAX:
            out["..."] = f"{len(items) - ITEMS_MAX} more fields"
        return out
    if isinstance(value, list):
        out_list = [bounded(v) for v in value[:ITEMS_MAX]]
        if len(value) > ITEMS_MAX:
            out_list.append(f"... {len(value) - ITEMS_MAX} more")
        return out_list
    return value


def request_fields(message: Message) -> dict[str, Any]:
    """A request's fields as the client set them (enums by name, proto field names), bounded."""
    return bounded(MessageToDict(message, preserving_proto_field_name=True))


def grpc_refusal(*, method: str, door: str, reject: Reject, request: Message) -> Refusal:
    """A ``Reject`` answered over gRPC, with the request it refused."""
    return Refusal(
        method=method,
        door=door,
        reject_kind=reject.kind.value,
        code=reject.code,
        status=grpc_status(reject).name,
        message=reject.message[:MESSAGE_MAX],
        request=request_fields(request),
    )


__all__ = ["ITEMS_MAX", "MESSAGE_MAX", "TEXT_MAX", "bounded", "grpc_refusal", "request_fields"]
