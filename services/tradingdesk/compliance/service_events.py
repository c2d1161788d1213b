"""Records of what services without a journal of their own changed or refused, and compliance's own refusals.

Feeds has no journal: it hands its ``line_enabled`` and ``refused`` events to compliance (``RecordServiceEvents``,
see ``audit/service_events.py`` for the sending side); compliance checks them and writes each as one record of
its own source. Compliance journals the refusals of its own state-changing calls (``Seal``,
``RecordOperatorAction``, ``RecordAccess``, ``RecordServiceEvents``) the same way, before it answers, as routing
and risk journal theirs. A ``refused`` record has the fields routing and risk write (``encode_refusal``) plus the
``service`` that refused, the ``actor`` and ``reason`` the request gave and the caller's ``peer``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from google.protobuf.message import Message

from tradingdesk.audit.record import KIND_LINE_ENABLED, KIND_REFUSED, SOURCE_COMPLIANCE, Entry, encode_payload
from tradingdesk.compliance.trail import Indexed
from tradingdesk.core.event_codec import encode_refusal
from tradingdesk.core.events import Refusal
from tradingdesk.core.reject import Reject, invalid
from tradingdesk.edge.refusals import bounded, grpc_refusal
from tradingdesk.v1 import compliance_pb2

MAX_EVENTS = 10_000
TEXT_MAX = 1_000


def compliance_item(kind: str, payload: dict[str, Any], ts_ns: int, *, incarnation: str = "") -> Indexed:
    """A record of compliance's own (source ``compliance``: no journal seq; an incarnation only when it records
    one)."""
    entry = Entry(
        ts_ns=ts_ns,
        source=SOURCE_COMPLIANCE,
        incarnation=incarnation,
        seq=0,
        kind=kind,
        order_id="",
        payload_json=encode_payload(payload),
    )
    return Indexed(entry)


def refusal_item(
    refusal: Refusal, *, service: str, actor: str, reason: str, peer: str, ts_ns: int | None = None
) -> Indexed:
    """A ``refused`` record of ``service``."""
    payload = {
        "service": service,
        **encode_refusal(refusal),
        "actor": bounded(actor),
        "reason": bounded(reason),
        "peer": bounded(peer),
    }
    return compliance_item(KIND_REFUSED, payload, time.time_ns() if ts_ns is None else ts_ns)


def own_refusal_item(*, method: str, door: str, reject: Reject, request: Message, peer: str) -> Indexed:
    """The ``refused`` record of a request compliance itself refused."""
    return refusal_item(
        grpc_refusal(method=method, door=door, reject=reject, request=request),
        service="compliance",
        actor=getattr(request, "actor", ""),
        reason=getattr(request, "reason", ""),
        peer=peer,
    )


def _text(value: str, where: str, *, required: bool = False) -> str:
    if required and not value:
        raise invalid(where, "is required")
    if len(value) > TEXT_MAX:
        raise invalid(where, f"at most {TEXT_MAX} characters")
    return value


def request_fields(request_json: str, where: str) -> dict[str, Any]:
    """The request fields a record hands over as ``request_json`` (a JSON object, or empty for none), bounded as
    ``edge.refusals.bounded`` bounds them; a ``Reject`` naming ``where`` if they are not a JSON object."""
    try:
        fields = json.loads(request_json) if request_json else {}
    except ValueError:
        raise invalid(where, "is not JSON") from None
    if not isinstance(fields, dict):
        raise invalid(where, "must be a JSON object")
    return bounded(fields)


def service_event_items(request: compliance_pb2.RecordServiceEventsRequest) -> list[Indexed]:
    """The records of a ``RecordServiceEvents`` request; a ``Reject`` naming the first bad field."""
    if not request.events:
        raise invalid("events", "at least one is required")
    if len(request.events) > MAX_EVENTS:
        raise invalid("events", f"at most {MAX_EVENTS} per call")
    items = []
    for n, event in enumerate(request.events):
        where = f"events[{n}]"
        if event.ts_ns <= 0:
            raise invalid(f"{where}.ts_ns", "must be > 0")
        service = _text(event.service, f"{where}.service", required=True)
        which = event.WhichOneof("event")
        if which == "line_enabled":
            e = event.line_enabled
            payload = {
                "service": service,
                "feed": _text(e.feed, f"{where}.line_enabled.feed", required=True),
                "line": _text(e.line, f"{where}.line_enabled.line", required=True),
                "enabled": e.enabled,
                "actor": _text(e.actor, f"{where}.line_enabled.actor"),
                "reason": _text(e.reason, f"{where}.line_enabled.reason"),
                "door": _text(e.door, f"{where}.line_enabled.door"),
                "peer": _text(e.peer, f"{where}.line_enabled.peer"),
                "line_state": _text(e.line_state, f"{where}.line_enabled.line_state"),
            }
            items.append(compliance_item(KIND_LINE_ENABLED, payload, event.ts_ns))
        elif which == "refused":
            r = event.refused
            refusal = Refusal(
                method=_text(r.method, f"{where}.refused.method", required=True),
                door=_text(r.door, f"{where}.refused.door"),
                reject_kind=_text(r.reject_kind, f"{where}.refused.reject_kind"),
                code=_text(r.code, f"{where}.refused.code", required=True),
                status=_text(r.status, f"{where}.refused.status"),
                message=_text(r.message, f"{where}.refused.message"),
                request=request_fields(r.request_json, f"{where}.refused.request_json"),
            )
            items.append(
                refusal_item(
                    refusal,
                    service=service,
                    actor=_text(r.actor, f"{where}.refused.actor"),
                    reason=_text(r.reason, f"{where}.refused.reason"),
                    peer=_text(r.peer, f"{where}.refused.peer"),
                    ts_ns=event.ts_ns,
                )
            )
        else:
            raise invalid(f"{where}.event", "one of line_enabled or refused is required")
    return items


__all__ = [
    "MAX_EVENTS",
    "compliance_item",
    "own_refusal_item",
    "refusal_item",
    "request_fields",
    "service_event_items",
]
