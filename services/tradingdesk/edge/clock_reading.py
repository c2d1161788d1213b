"""Reading a service's desk clock over gRPC (``ClockService``), and measuring its offset the way NTP does.

Every service serves ``ReadClock`` (the runtime adds it next to gRPC health, ``runtime/service.py``); the
monitoring service reads each one and compares it with its own clock at the midpoint of the call, so the
offset is known to within half the round trip. Each service's answer is measured, never self-reported: a host
whose NTP failed does not know its clock is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from tradingdesk.core.clock import Clock
from tradingdesk.v1 import clock_pb2, clock_pb2_grpc

SERVICE_NAME = "tradingdesk.v1.ClockService"


class ClockReader(clock_pb2_grpc.ClockServiceServicer):
    """Answers ``ReadClock`` with the service's desk clock."""

    def __init__(self, service: str, clock: Clock) -> None:
        self.service = service
        self.clock = clock

    async def ReadClock(self, request, context) -> clock_pb2.ClockReading:
        return clock_pb2.ClockReading(service=self.service, now_ns=self.clock.now_ns())


def serve_clock(server: grpc.aio.Server, service: str, clock: Clock) -> None:
    clock_pb2_grpc.add_ClockServiceServicer_to_server(ClockReader(service, clock), server)


@dataclass(frozen=True, slots=True)
class ClockOffset:
    offset_ns: int
    """The remote clock minus ours at the midpoint of the call."""
    uncertainty_ns: int
    """Half the round trip: the true offset lies within ``offset_ns`` +/- this."""


async def measure_offset(channel: grpc.aio.Channel, clock: Clock, *, timeout_s: float) -> ClockOffset:
    """The offset of the clock behind ``channel`` against ``clock``; raises ``grpc.aio.AioRpcError``."""
    stub = clock_pb2_grpc.ClockServiceStub(channel)
    sent = clock.now_ns()
    reading = await stub.ReadClock(clock_pb2.ReadClockRequest(), timeout=timeout_s)
    received = clock.now_ns()
    return ClockOffset(reading.now_ns - (sent + received) // 2, max(0, received - sent) // 2)
