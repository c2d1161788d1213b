"""Bringing one live value of a desk (its trading state, its risk limits) to the running RiskService, and
knowing, never guessing, whether the service has it.

Why a worker per value, apart from the reconcile: the kill switch must reach the service whatever else is wrong
with the desk (a spec the model refuses, a child the API server will not take, a slow API server), and a
service that is down must be retried until it answers, without an operator restart. Each worker:

- acts on the latest wish only (a new wish supersedes one still being retried),
- retries with exponential backoff, capped, and at once when nudged (the risk pod became ready),
- stops retrying a wish the service refused (retrying the same request cannot help) until the wish changes,
- records what the service confirmed and when; status shows only that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from deskoperator.rpc import DeliveryError

log = logging.getLogger(__name__)


def now() -> str:
    """UTC time as Kubernetes writes it (RFC 3339, seconds)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Backoff:
    """Exponential delays between retries: first, first*factor, ... never above cap."""

    first: float = 0.5
    cap: float = 30.0
    factor: float = 2.0
    failures: int = 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.first * self.factor**self.failures)
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


@dataclass
class Confirmation:
    """One live value: what the spec wants, and what the service last confirmed."""

    want: str = ""
    """What the spec asks for now (a trading state; a limits hash)."""
    confirmed_for: str = ""
    """The wish whose delivery the service confirmed ("": none yet)."""
    reported: str = ""
    """What the service reported when it confirmed (its trading state; its limits version)."""
    confirmed_time: str = ""
    attempts: int = 0
    """Failed attempts at delivering ``want``."""
    error: str = ""
    """The last failure, while ``want`` is not confirmed."""
    refused_for: str = ""
    """A wish the service refused outright; not retried until the wish changes."""
    delivery: str = ""
    """How far the confirmed wish reached, as the service said (trading state: how many routing gates applied it,
    naming any cut off)."""

    @property
    def pending(self) -> bool:
        return bool(self.want) and self.want != self.confirmed_for

    @property
    def refused(self) -> bool:
        return self.pending and self.refused_for == self.want

    def to_status(self) -> dict[str, object]:
        return {
            "desired": self.want,
            "confirmedFor": self.confirmed_for,
            "reported": self.reported,
            "confirmedTime": self.confirmed_time,
            "delivery": self.delivery,
            "attempts": self.attempts,
            "lastError": self.error if self.pending else "",
        }

    def restore(self, saved: dict[str, object] | None) -> None:
        """Take back what an earlier operator run recorded in status (status survives restarts; memory does not)."""
        saved = saved or {}
        self.confirmed_for = str(saved.get("confirmedFor", "") or "")
        self.reported = str(saved.get("reported", "") or "")
        self.confirmed_time = str(saved.get("confirmedTime", "") or "")
        self.delivery = str(saved.get("delivery", "") or "")


def _power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


@dataclass(frozen=True, slots=True)
class Reported:
    """What the service answered when it confirmed a wish."""

    value: str
    """What it reports now (a trading state; a limits version)."""
    delivery: str = ""
    """How far the change reached (for the trading state: the routing gates that applied it, any cut off)."""


Attempt = Callable[[str, Confirmation], Reported]
"""Deliver the wish (blocking, bounded); return what the service reports; raise DeliveryError otherwise."""


class Delivery:
    """The worker for one value of one desk; ``run`` is its task, ``want`` and ``nudge`` steer it."""

    def __init__(
        self, name: str, record: Confirmation, attempt: Attempt, on_change: Callable[[], None], backoff: Backoff
    ) -> None:
        self.name = name
        self.record = record
        self.attempt = attempt
        self.on_change = on_change
        self.backoff = backoff
        self._wake = asyncio.Event()
        self.retry_at: float | None = None
        """Loop time of the next retry while one is scheduled (for status and tests)."""
        self.inflight: asyncio.Future | None = None
        """The attempt running in a thread: a call that started cannot be taken back, so a stop waits for it."""

    def want(self, value: str) -> None:
        """A new wish; the same wish again changes nothing (the worker retries a pending one on its own)."""
        if value != self.record.want:
            self.record.want = value
            self.record.attempts, self.record.error = 0, ""
            self.backoff.reset()
            self._wake.set()

    def nudge(self) -> None:
        """Retry now instead of at the end of the backoff (the service may have just come up)."""
        if self.record.pending and not self.record.refused:
            self._wake.set()

    async def settle(self) -> None:
        """Wait for an attempt that is already on the wire (after the worker task was cancelled)."""
        if self.inflight is not None and not self.inflight.done():
            with contextlib.suppress(Exception):
                await self.inflight

    async def _sleep(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        self.retry_at = loop.time() + delay
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._wake.wait()
        self.retry_at = None

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.record.pending and not self.record.refused:
                wish = self.record.want
                self.inflight = asyncio.ensure_future(asyncio.to_thread(self.attempt, wish, self.record))
                try:
                    reported = await asyncio.shield(self.inflight)
                except DeliveryError as exc:
                    if wish != self.record.want:
                        continue  # superseded while the call ran: deliver the new wish at once
                    self.record.attempts += 1
                    news = str(exc) != self.record.error or exc.refused
                    self.record.error = str(exc)
                    if exc.refused:
                        self.record.refused_for = wish
                    if news or _power_of_two(self.record.attempts):
                        self.on_change()  # status follows retries at 1, 2, 4, 8, ...: a long outage writes little
                    if exc.refused:
                        log.warning("%s %r refused: %s", self.name, wish, exc)
                        break
                    delay = self.backoff.next_delay()
                    log.info("%s %r not confirmed (attempt %d): %s; retrying in %.1fs",
                             self.name, wish, self.record.attempts, exc, delay)  # fmt: skip
                    await self._sleep(delay)
                    self._wake.clear()
                    continue
                if wish == self.record.want:
                    self.record.refused_for = ""
                    self.record.confirmed_for, self.record.reported = wish, reported.value
                    self.record.delivery = reported.delivery
                    self.record.confirmed_time, self.record.attempts, self.record.error = now(), 0, ""
                    self.backoff.reset()
                    self.on_change()
