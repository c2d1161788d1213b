"""The record sources compliance reads: each a journal with gap-free seqs and an incarnation, over gRPC.

- ``journal``: routing's order journal (``OrderService.StreamJournal``): every order event, refused order
  request, feed line switch and routing access decision.
- ``risk``: the risk service's change journal (``RiskService.StreamChanges``): limits, trading states, kills,
  resumes, latch releases, breach halts, refused change requests and risk access decisions, each with who asked
  and through which door.

Both streams open with a message that names the journal's incarnation and how far it goes, then send its
events in seq order. A ``Source`` hides the two wire shapes behind one: open from a seq, read the header, turn
each batch into audit entries. ``compliance/service.py`` does the rest the same way for every source.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

import grpc

from tradingdesk.audit.record import SOURCE_JOURNAL, SOURCE_RISK, Entry, canonical_payload, encode_payload
from tradingdesk.compliance.trail import Indexed
from tradingdesk.v1 import orders_pb2, orders_pb2_grpc, risk_pb2, risk_pb2_grpc


@dataclass(frozen=True, slots=True)
class Header:
    """The first message of a source stream: which journal, and its last durable seq then."""

    incarnation: str
    last_seq: int


class Source(Protocol):
    name: str
    """The records' ``source``."""
    service: str
    """The desk service that serves it (its address comes from the service directory)."""

    def open(self, channel: grpc.aio.Channel, from_seq: int, *, timeout: float | None = None) -> Any:
        """The stream call (cancel it to stop reading)."""
        ...

    def header(self, message: Any) -> Header: ...

    def items(self, message: Any, incarnation: str) -> list[Indexed]:
        """The audit entries of one message, in seq order."""
        ...


class JournalSource:
    name = SOURCE_JOURNAL
    service = "routing"

    def open(self, channel: grpc.aio.Channel, from_seq: int, *, timeout: float | None = None) -> Any:
        stub = orders_pb2_grpc.OrderServiceStub(channel)
        return stub.StreamJournal(orders_pb2.StreamJournalRequest(from_seq=from_seq), timeout=timeout)

    def header(self, message: orders_pb2.JournalEvents) -> Header:
        return Header(message.incarnation, message.durable_seq)

    def items(self, message: orders_pb2.JournalEvents, incarnation: str) -> list[Indexed]:
        return [
            Indexed(
                Entry(
                    ts_ns=ev.ts_ns,
                    source=SOURCE_JOURNAL,
                    incarnation=incarnation,
                    seq=ev.seq,
                    kind=ev.kind,
                    order_id=ev.order_id,
                    payload_json=canonical_payload(ev.payload_json),
                ),
                ev.account,
                ev.symbol,
                ev.traceparent,
            )
            for ev in message.events
        ]


class RiskSource:
    name = SOURCE_RISK
    service = "risk"

    def open(self, channel: grpc.aio.Channel, from_seq: int, *, timeout: float | None = None) -> Any:
        stub = risk_pb2_grpc.RiskServiceStub(channel)
        return stub.StreamChanges(risk_pb2.StreamChangesRequest(from_seq=from_seq), timeout=timeout)

    def header(self, message: risk_pb2.RiskChanges) -> Header:
        return Header(message.incarnation, message.last_seq)

    def items(self, message: risk_pb2.RiskChanges, incarnation: str) -> list[Indexed]:
        out = []
        for c in message.changes:
            change = json.loads(c.change_json) if c.change_json else {}
            # actor and reason are columns of the change journal: the record keeps them with the change
            payload = {**change, "actor": c.actor, "reason": c.reason}
            entry = Entry(
                ts_ns=c.ts_ns,
                source=SOURCE_RISK,
                incarnation=incarnation,
                seq=c.seq,
                kind=c.type or str(change.get("type", "")),
                order_id="",
                payload_json=encode_payload(payload),
            )
            out.append(Indexed(entry, str(change.get("account", ""))))
        return out


SOURCES: tuple[Source, ...] = (JournalSource(), RiskSource())


async def first_message(call: Any) -> Any:
    """The stream's first message (its header)."""
    return await anext(aiter(call))


async def batches(call: Any) -> AsyncIterator[Any]:
    async for message in call:
        yield message


__all__ = ["SOURCES", "Header", "JournalSource", "RiskSource", "Source", "batches", "first_message"]
