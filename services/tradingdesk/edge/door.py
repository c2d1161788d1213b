"""Which door a request came through, as the risk change journal and the audit trail record it.

The transport says gRPC or HTTP; a gRPC client may also name itself with the request metadata
``x-tradingdesk-door`` (the ``tradingdesk`` CLI sends ``cli``, the operator ``operator``). Only those names are
taken; anything else is recorded as ``grpc``. The name is the client's own claim: it tells an auditor which
tool a person used, not who the person is (the actor, and the caller's identity once calls are authenticated).
"""

from __future__ import annotations

import grpc

DOOR_METADATA_KEY = "x-tradingdesk-door"
GRPC = "grpc"
CLIENT_DOORS = frozenset({"cli", "operator"})


def door_of(context: grpc.aio.ServicerContext) -> str:
    """``cli`` or ``operator`` when the client said so, else ``grpc``."""
    for key, value in context.invocation_metadata() or ():
        if key == DOOR_METADATA_KEY:
            name = value if isinstance(value, str) else value.decode("ascii", "replace")
            return name if name in CLIENT_DOORS else GRPC
    return GRPC


def door_metadata(door: str) -> tuple[tuple[str, str], ...]:
    """The metadata a client sends to name its door."""
    return ((DOOR_METADATA_KEY, door),)


__all__ = ["CLIENT_DOORS", "DOOR_METADATA_KEY", "GRPC", "door_metadata", "door_of"]
