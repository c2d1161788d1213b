"""Calls from the operator to a desk's RiskService and ComplianceService, each bounded in time, contract only.

Why bounded: these run inside the kill-switch and live-configuration workers and the finalizer. A desk whose
pods are gone or whose network is broken must still be deletable, and a slow call must never hold a worker, so
every call gives up after ``timeout`` seconds; the workers retry with backoff, the finalizer records an Event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from deskoperator.names import ACTOR
from tradingdesk.security import channels
from tradingdesk.v1 import common_pb2, compliance_pb2, compliance_pb2_grpc, risk_pb2, risk_pb2_grpc

DOOR = (("x-tradingdesk-door", "operator"),)
"""Request metadata naming the operator as the door of a change (the risk service journals it; docs/audit.md)."""
SPEC_TO_PROTO = {
    "Active": common_pb2.TRADING_STATE_ACTIVE,
    "ReduceOnly": common_pb2.TRADING_STATE_REDUCING,
    "Halted": common_pb2.TRADING_STATE_HALTED,
}
PROTO_TO_SPEC = {v: k for k, v in SPEC_TO_PROTO.items()}
DEFAULT_TEMPLATE = "{desk}-{service}.{namespace}.svc:{port}"
# Codes that say the request itself is wrong: retrying the same request cannot help.
REFUSALS = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.PERMISSION_DENIED)


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

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused
        """True when the service answered and refused the request (retrying the same request cannot help)."""


HANDSHAKE_FAILURES = ("handshake", "certificate", "ssl", "socket closed")
"""What gRPC's UNAVAILABLE says when TLS failed: our side refused the service's certificate ("Tls handshake
failed ... CERTIFICATE_VERIFY_FAILED"), or the service refused ours and closed the connection ("Socket closed")."""
_handshake_failed: list[Callable[[str], None]] = []


def on_handshake_failure(callback: Callable[[str], None] | None) -> None:
    """Call ``callback(address)`` when a call fails its TLS handshake (the operator then reads that desk's CA again:
    ``Certificates.forget_address``); None stops it."""
    _handshake_failed[:] = [callback] if callback is not None else []


def handshake_failed(code: grpc.StatusCode, details: str) -> bool:
    """Whether a failed call may have failed on TLS (the connection was made, the handshake was not)."""
    return code == grpc.StatusCode.UNAVAILABLE and any(word in details.lower() for word in HANDSHAKE_FAILURES)


def _call(address: str, call: Callable[[grpc.Channel], Any]) -> Any:
    """``call(channel)`` on a fresh channel to ``address``; any gRPC failure becomes a ``DeliveryError``.

    One helper for every stub (risk for the kill switch and the limits, compliance for the seal): ``call`` carries
    its own timeout, and a refusal (the service answered no) is told apart from a failure to reach it.
    """
    try:
        with channels.channel(address) as channel:  # the desk's credentials (deskoperator.certificates)
            return call(channel)
    except grpc.RpcError as exc:
        code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
        details = exc.details() if hasattr(exc, "details") else str(exc)
        if handshake_failed(code, details):
            for callback in _handshake_failed:
                callback(address)
        raise DeliveryError(f"{address}: {code.name}: {details}", refused=code in REFUSALS) from None


@dataclass(frozen=True, slots=True)
class StateChange:
    """What ``SetTradingState`` answered: the state in force, and how far the change reached the routing gates."""

    state: str
    """The spec's name for the state the service reports (the proto name for one the spec cannot set)."""
    gates: int
    """Routing gates the change was sent to (0: none connected; one that connects later starts from it)."""
    applied: int
    """Gates that acknowledged having applied it before the call returned."""
    cut_off_gates: tuple[str, ...] = ()
    """Gates that did not acknowledge in time: their streams were ended and they fail closed."""

    def describe(self) -> str:
        """For Events and status, e.g. ``applied by 1 of 1 routing gate(s)``, naming any gate cut off."""
        cut = f"; {len(self.cut_off_gates)} cut off: {', '.join(self.cut_off_gates)}" if self.cut_off_gates else ""
        return f"applied by {self.applied} of {self.gates} routing gate(s){cut}"


def set_trading_state(address: str, state: str, reason: str, timeout: float = 3.0) -> StateChange:
    """``RiskService.SetTradingState`` for the whole desk. It answers once every routing gate has applied the state
    or was cut off (failing closed), within ``timeout``: the service waits for the gates for at most 90% of the
    caller's deadline, so the answer, with its GateDelivery, comes back before the call gives up."""
    request = risk_pb2.SetTradingStateRequest(
        scope=common_pb2.Scope(), state=SPEC_TO_PROTO[state], actor=ACTOR, reason=reason
    )
    reply = _call(
        address,
        lambda ch: risk_pb2_grpc.RiskServiceStub(ch).SetTradingState(request, timeout=timeout, metadata=DOOR),
    )
    delivery = reply.delivery
    return StateChange(
        state=_spec_state(reply.state),
        gates=delivery.gates,
        applied=delivery.applied,
        cut_off_gates=tuple(delivery.cut_off_gates),
    )


def get_trading_state(address: str, timeout: float = 3.0) -> str:
    """The desk-scope trading state the service reports now."""
    request = risk_pb2.GetTradingStateRequest(scope=common_pb2.Scope())
    reply = _call(address, lambda ch: risk_pb2_grpc.RiskServiceStub(ch).GetTradingState(request, timeout=timeout))
    return _spec_state(reply.state)


def _spec_state(state: int) -> str:
    """The spec's name for a reported state (the proto name for one the spec cannot set, e.g. UNSPECIFIED)."""
    return PROTO_TO_SPEC.get(state) or common_pb2.TradingState.Name(state)


def get_limits(address: str, timeout: float = 3.0) -> risk_pb2.RiskLimits:
    request = risk_pb2.GetLimitsRequest()
    return _call(address, lambda ch: risk_pb2_grpc.RiskServiceStub(ch).GetLimits(request, timeout=timeout))


def set_limits(address: str, limits: risk_pb2.RiskLimits, reason: str, timeout: float = 3.0) -> risk_pb2.RiskLimits:
    """``RiskService.SetLimits``: the whole set replaced at once, in force in every routing gate on return."""
    request = risk_pb2.SetLimitsRequest(limits=limits, actor=ACTOR, reason=reason)
    return _call(address, lambda ch: risk_pb2_grpc.RiskServiceStub(ch).SetLimits(request, timeout=timeout))


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
