"""Calls from the operator to a desk's services, each bounded in time.

Why bounded: these run inside the finalizer and the update handler. A desk whose pods are gone or whose
network is broken must still be deletable, so every call gives up after ``timeout`` seconds and the caller
records a Warning Event and carries on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from deskoperator.names import ACTOR
from tradingdesk.v1 import common_pb2, compliance_pb2, compliance_pb2_grpc, risk_pb2, risk_pb2_grpc

DOOR = (("x-tradingdesk-door", "operator"),)
"""Request metadata naming the operator as the door of a change (the risk service journals it; docs/audit.md)."""
SPEC_TO_PROTO = {
    "Active": common_pb2.TRADING_STATE_ACTIVE,
    "ReduceOnly": common_pb2.TRADING_STATE_REDUCING,
    "Halted": common_pb2.TRADING_STATE_HALTED,
}
DEFAULT_TEMPLATE = "{desk}-{service}.{namespace}.svc:{port}"


@dataclass(frozen=True, slots=True)
class Addresses:
    """Where the operator dials a desk's services.

    In the cluster the Service DNS name; an operator running outside the cluster (a laptop, the e2e tests)
    cannot resolve that, so ``overrides`` maps ``namespace/desk/service`` to host:port explicitly.
    """

    template: str = DEFAULT_TEMPLATE
    overrides: tuple[tuple[str, str], ...] = ()

    def of(self, namespace: str, desk: str, service: str, port: int) -> str:
        override = dict(self.overrides).get(f"{namespace}/{desk}/{service}")
        return override or self.template.format(desk=desk, service=service, namespace=namespace, port=port)


class DeliveryError(RuntimeError):
    """The service did not confirm in time (unreachable, refused, or too slow)."""


def _call(address: str, call: Callable[[grpc.Channel], Any]) -> Any:
    """``call(channel)`` on a fresh channel to ``address``; any gRPC failure becomes a ``DeliveryError``."""
    try:
        with grpc.insecure_channel(address) as channel:
            return call(channel)
    except grpc.RpcError as exc:
        code = exc.code().name if hasattr(exc, "code") else "UNKNOWN"
        details = exc.details() if hasattr(exc, "details") else str(exc)
        raise DeliveryError(f"{address}: {code}: {details}") from None


def set_trading_state(address: str, state: str, reason: str, timeout: float = 3.0) -> str:
    """``RiskService.SetTradingState`` for the whole desk. It answers once every routing gate has applied the state
    (or was cut off, failing closed); returns the state the service reports and how many gates applied it, as the
    text of the Event, e.g. ``TRADING_STATE_HALTED, applied by 1 of 1 routing gate(s)``."""
    request = risk_pb2.SetTradingStateRequest(
        scope=common_pb2.Scope(), state=SPEC_TO_PROTO[state], actor=ACTOR, reason=reason
    )
    reply = _call(
        address,
        lambda ch: risk_pb2_grpc.RiskServiceStub(ch).SetTradingState(request, timeout=timeout, metadata=DOOR),
    )
    delivery = reply.delivery
    cut_off = f"; {delivery.cut_off} cut off: {', '.join(delivery.cut_off_gates)}" if delivery.cut_off else ""
    return (
        f"{common_pb2.TradingState.Name(reply.state)}, applied by {delivery.applied} of {delivery.gates} "
        f"routing gate(s){cut_off}"
    )


#: Sealing waits for the bucket to accept the last segment: longer than a state change.
SEAL_TIMEOUT_S = 15.0


def seal_audit_log(address: str, reason: str, timeout: float = SEAL_TIMEOUT_S) -> int:
    """``ComplianceService.Seal`` as the operator; returns the sealed tree size (records in the log)."""
    request = compliance_pb2.SealRequest(actor=ACTOR, reason=reason)
    reply = _call(address, lambda ch: compliance_pb2_grpc.ComplianceServiceStub(ch).Seal(request, timeout=timeout))
    return reply.tree_size


def record_operator_action(address: str, request: compliance_pb2.OperatorActionRequest, timeout: float = 3.0) -> int:
    """``ComplianceService.RecordOperatorAction``; returns the record's log index."""
    reply = _call(
        address,
        lambda ch: compliance_pb2_grpc.ComplianceServiceStub(ch).RecordOperatorAction(request, timeout=timeout),
    )
    return reply.first_index
