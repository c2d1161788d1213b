"""The risk service's bookkeeping of one gate stream (``risk/delivery.py``): cumulative acknowledgements, no
acknowledgement of what was never sent, and waiters released by an acknowledgement, a cut-off or an end."""

from __future__ import annotations

import asyncio

from tradingdesk.risk.delivery import GateLink, await_acknowledgements
from tradingdesk.v1 import risk_pb2


def link(name: str = "g") -> GateLink:
    out = GateLink("ipv4:127.0.0.1:1", asyncio.Queue(4))
    out.name_from(name)
    return out


async def test_an_acknowledgement_covers_every_update_before_it() -> None:
    gate = link()
    for seq in (1, 2, 3):
        assert gate.send(risk_pb2.GateUpdate(seq=seq))
    first, third = gate.until_acknowledged(1), gate.until_acknowledged(3)
    assert gate.acknowledge(2)
    assert first.done() and first.result() and not third.done()
    assert gate.acknowledge(3) and third.result()
    assert gate.acknowledge(1) and gate.acked_seq == 3, "an older acknowledgement moves nothing back"


async def test_what_was_never_sent_cannot_be_acknowledged_and_a_full_queue_refuses() -> None:
    gate = link()
    assert gate.send(risk_pb2.GateUpdate(seq=1))
    assert not gate.acknowledge(2) and gate.acked_seq == 0
    for seq in (2, 3, 4):
        assert gate.send(risk_pb2.GateUpdate(seq=seq))
    assert not gate.send(risk_pb2.GateUpdate(seq=5)) and gate.sent_seq == 4


async def test_a_cut_off_drops_what_is_queued_ends_the_stream_and_releases_waiters() -> None:
    gate = link("stuck")
    gate.send(risk_pb2.GateUpdate(seq=1))
    waiting = gate.until_acknowledged(1)
    gate.cut("cut off by the risk service: test")
    assert waiting.done() and not waiting.result()
    assert gate.queue.get_nowait() is None and gate.queue.empty()
    assert not gate.until_acknowledged(1).result(), "a cut gate is never waited for again"
    assert gate.name == "stuck (ipv4:127.0.0.1:1)"


async def test_waiting_for_several_gates_sorts_them_into_applied_and_not() -> None:
    fast, slow, closed = link("fast"), link("slow"), link("closed")
    for gate in (fast, slow, closed):
        gate.send(risk_pb2.GateUpdate(seq=1))
    fast.acknowledge(1)
    closed.acks_ended()
    applied, missing = await await_acknowledgements([fast, slow, closed], 1, timeout_s=0)
    assert applied == [fast] and missing == [slow, closed]
