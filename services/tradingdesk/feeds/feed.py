"""One feed at work: its lines' connections, arbitration, line health, gap recovery and the outlier filter.

Per line, a supervisor task opens the adapter from the feed's next sequence number, reads items until the
line ends or fails, and opens it again with capped backoff (a disabled line stays closed). Every item goes
through ``_on_item`` on the event loop, with no await on the way to the publish callback:

    line item -> per-line checks (repeats, numbers going back: counted, dropped)
              -> arbitrator (first copy wins, held in order behind gaps)
              -> outlier filter (far-off prices held) -> publish(feed, msg, receive time)

A timer ticking at a tenth of ``failoverAfterMs`` gives up gaps older than the bound (then asks a line for a
snapshot to repair the state), re-evaluates line health and the active line, reconnects connections that
went silent without closing, and tells the service when the feed's health changes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from functools import partial

from tradingdesk.core.clock import Clock
from tradingdesk.feeds.adapters import LineAdapter
from tradingdesk.feeds.arbitration import LineArbitrator, Loss
from tradingdesk.feeds.events import FeedMessage, Heartbeat, LineItem
from tradingdesk.feeds.monitor import DISABLED, DOWN, LineHealth, LineMonitor, Switch, thresholds
from tradingdesk.feeds.quality import OutlierFilter
from tradingdesk.feeds.state import FeedInfo
from tradingdesk.spec.model import FeedSpec

log = logging.getLogger(__name__)

Publish = Callable[[FeedInfo, FeedMessage, int], None]
"""``(feed, message, receive time)``: one arbitrated, filtered message for the state and subscribers."""
PublishSnapshot = Callable[[FeedInfo, list[FeedMessage], int], None]
"""Quotes restating symbols after a loss that no line could fill."""

RING_BITS = 16
RING = 1 << RING_BITS
MASK = RING - 1
MIN_BACKOFF_S = 0.02
MAX_BACKOFF_S = 1.0


class FeedHandler:
    """Runs the lines of one feed and turns them into one clean, complete, in-order stream."""

    def __init__(
        self,
        spec: FeedSpec,
        info: FeedInfo,
        adapters: Sequence[LineAdapter],
        *,
        clock: Clock,
        symbols: Iterable[str],
        publish: Publish,
        publish_snapshot: PublishSnapshot | None = None,
        on_health: Callable[[FeedHandler], None] | None = None,
        on_switch: Callable[[FeedHandler, Switch], None] | None = None,
        outliers: OutlierFilter | None = None,
        max_held: int = 100_000,
    ) -> None:
        self.spec = spec
        self.info = info
        self.clock = clock
        self.symbols = tuple(symbols)
        self.adapters = {a.name: a for a in adapters}
        names = [a.name for a in adapters]
        self.limits = thresholds(spec.failover_after_ms)
        self.bound_ns = spec.failover_after_ms * 1_000_000
        self.monitor = LineMonitor(names, self.limits)
        self.arbitrator = LineArbitrator(names, max_held=max_held)
        self.outliers = outliers or OutlierFilter(spec.outlier_band_bps, spec.outlier_confirmations)
        self.published = 0
        """Messages let through to the publish callback."""
        self.snapshot_recoveries = 0
        """Losses repaired from a line's snapshot."""
        self.last_update: dict[str, int] = {}
        """Receive time of each symbol's last published message."""
        self.started_ns = 0
        self._publish = publish
        self._publish_snapshot = publish_snapshot
        self._on_health = on_health
        self._on_switch = on_switch
        self._ring_seq = [0] * RING  # first receive time of recent sequence numbers, for line lag
        self._ring_ns = [0] * RING
        self._supervisors: dict[str, asyncio.Task[None]] = {}
        self._connections: dict[str, asyncio.Task[None]] = {}
        self._timer: asyncio.Task[None] | None = None
        self._recovery: asyncio.Task[None] | None = None
        self._health = DOWN

    # lifecycle ----------------------------------------------------------------------------------------------

    @property
    def lines(self) -> dict[str, LineHealth]:
        return self.monitor.lines

    @property
    def health(self) -> str:
        return self.monitor.health

    def start(self) -> None:
        self.started_ns = self.clock.now_ns()
        for name in self.adapters:
            self._supervise(name)
        self._timer = asyncio.create_task(self._tick_forever(), name=f"feeds:{self.spec.name}:timer")

    async def stop(self) -> None:
        tasks = [*self._supervisors.values(), *self._connections.values()]
        tasks += [t for t in (self._timer, self._recovery) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._supervisors.clear()
        self._connections.clear()

    def disable_line(self, name: str, reason: str) -> None:
        """Take a line out of service (an operator's decision or a drill); it stays closed until enabled."""
        health = self.lines[name]
        health.enabled = False
        health.detail = f"disabled: {reason}" if reason else "disabled"
        task = self._supervisors.pop(name, None)
        if task is not None:
            task.cancel()
        log.warning("feed %s: line %s disabled (%s)", self.spec.name, name, reason or "no reason given")
        self.evaluate(self.clock.now_ns())

    def state_after(self, name: str, *, enabled: bool) -> str:
        """The state ``disable_line`` (``enabled`` false) or ``enable_line`` leaves a line in, known before either
        is called (feeds records the change in the audit trail before making it): ``DISABLED`` when taken out; its
        state now when put back while in service (nothing changes); ``DOWN`` (reconnecting) when put back."""
        if not enabled:
            return DISABLED
        health = self.lines[name]
        return health.state if health.enabled else DOWN

    def enable_line(self, name: str) -> None:
        """Put a line back in service: it reconnects from the feed's next sequence number."""
        health = self.lines[name]
        if not health.enabled:
            health.enabled = True
            health.detail = "connecting"
            log.warning("feed %s: line %s enabled", self.spec.name, name)
        if name not in self._supervisors:
            self._supervise(name)
        self.evaluate(self.clock.now_ns())

    # lines ----------------------------------------------------------------------------------------------------

    def _supervise(self, name: str) -> None:
        task = asyncio.create_task(self._run_line(name), name=f"feeds:{self.spec.name}:{name}")
        self._supervisors[name] = task
        task.add_done_callback(partial(self._supervisor_done, name))

    def _supervisor_done(self, name: str, task: asyncio.Task[None]) -> None:
        if self._supervisors.get(name) is task:
            del self._supervisors[name]

    async def _run_line(self, name: str) -> None:
        """Open, read, reopen: forever, until the line is disabled or the feed stops."""
        health = self.lines[name]
        backoff = MIN_BACKOFF_S
        try:
            while health.enabled:
                conn = asyncio.create_task(self._consume(name), name=f"feeds:{self.spec.name}:{name}:conn")
                self._connections[name] = conn
                await asyncio.wait({conn})
                self._connections.pop(name, None)
                if conn.cancelled():
                    why = "reconnecting: the connection went silent"
                else:
                    exc = conn.exception()
                    why = "the line ended" if exc is None else f"{type(exc).__name__}: {exc}"[:200]
                    if exc is None and self.adapters[name].kind == "replay":
                        health.closed("the recording ended")
                        self.evaluate(self.clock.now_ns())
                        return  # a replay without loop has nothing more to send
                delivered = health.connected
                repeated = not delivered and health.detail == why
                health.closed(why)
                log.log(
                    logging.DEBUG if repeated else logging.WARNING, "feed %s line %s: %s", self.spec.name, name, why
                )
                self.evaluate(self.clock.now_ns())  # fail over at once rather than at the next tick
                backoff = MIN_BACKOFF_S if delivered else min(MAX_BACKOFF_S, backoff * 2)
                await asyncio.sleep(backoff)
        except asyncio.CancelledError:
            conn = self._connections.pop(name, None)
            if conn is not None:
                conn.cancel()
                await asyncio.gather(conn, return_exceptions=True)
            health.closed(health.detail if not health.enabled else "stopped")
            raise

    async def _consume(self, name: str) -> None:
        from_seq = self.arbitrator.next_seq
        health = self.lines[name]
        on_item = self._on_item
        first = True
        async for item in self.adapters[name].open(from_seq):
            if first:
                health.opened(from_seq, self.clock.now_ns())
                first = False
            on_item(health, item)

    # data path ------------------------------------------------------------------------------------------------

    def _on_item(self, health: LineHealth, item: LineItem) -> None:
        now = self.clock.now_ns()
        health.last_rx_ns = now
        if type(item) is FeedMessage:
            seq = item.seq
            last = health.last_seq
            if seq <= last:
                if seq == last:
                    health.duplicates += 1
                else:
                    health.out_of_order += 1
                return
            health.last_seq = seq
            health.received += 1
            arb = self.arbitrator
            if arb.accept(item, now):
                i = seq & MASK
                self._ring_seq[i] = seq
                self._ring_ns[i] = now
                self._emit(item, now)
                if arb.held:
                    for msg in arb.release():
                        self._emit(msg, now)
            elif arb.held.get(seq) is item:
                i = seq & MASK
                self._ring_seq[i] = seq
                self._ring_ns[i] = now
                if arb.overflowing:
                    self._expire(now)
        elif type(item) is Heartbeat:
            health.heartbeats += 1
            if item.seq > health.last_seq:
                health.last_seq = item.seq
            self.arbitrator.heartbeat(health.name, item.seq, now)
        else:
            health.malformed += 1
            health.last_malformed = item.reason
            log.debug("feed %s line %s: malformed input: %s", self.spec.name, health.name, item.reason)

    def _emit(self, msg: FeedMessage, now: int) -> None:
        if not self.outliers.admit(msg):
            return
        self.last_update[msg.event.symbol] = now
        self.published += 1
        self._publish(self.info, msg, now)

    def _expire(self, now: int) -> None:
        losses, released = self.arbitrator.expire(now, self.bound_ns)
        for msg in released:
            self._emit(msg, now)
        if losses:
            self._lost(losses)

    def _lost(self, losses: list[Loss]) -> None:
        count = sum(loss.count for loss in losses)
        log.warning(
            "feed %s: %d messages lost on every line (%s); repairing from a snapshot",
            self.spec.name,
            count,
            ", ".join(f"{loss.first}..{loss.last}" for loss in losses),
        )
        if self._recovery is None or self._recovery.done():
            upto = losses[-1].last
            self._recovery = asyncio.create_task(self._recover(upto), name=f"feeds:{self.spec.name}:snapshot")

    async def _recover(self, upto_seq: int) -> None:
        order = [self.monitor.active, *(n for n in self.adapters if n != self.monitor.active)]
        for name in order:
            quotes = await self.adapters[name].snapshot(upto_seq)
            if quotes is not None:
                self.snapshot_recoveries += 1
                if quotes and self._publish_snapshot is not None:
                    self._publish_snapshot(self.info, quotes, self.clock.now_ns())
                return
        log.warning("feed %s: no line could give a snapshot; symbols recover with their next quote", self.spec.name)

    # health ---------------------------------------------------------------------------------------------------

    def lag_ns(self, health: LineHealth, now: int) -> int:
        """How long ago the feed first received the first number this line has not delivered yet."""
        nxt = health.last_seq + 1
        high = self.arbitrator.high
        if nxt > high:
            return 0
        if high - nxt >= RING:
            return now - min(self._ring_ns)  # further behind than we remember: at least this much
        for seq in range(nxt, min(high, nxt + 64) + 1):
            i = seq & MASK
            if self._ring_seq[i] == seq:
                return now - self._ring_ns[i]
        return 0  # nobody has those numbers yet: the line is not behind anyone

    def evaluate(self, now: int) -> None:
        """One tick: expire gaps, re-evaluate lines and the active line, reconnect stalled connections."""
        self._expire(now)
        lags = {name: self.lag_ns(h, now) for name, h in self.lines.items()}
        switch = self.monitor.evaluate(now, lags)
        if switch is not None:
            what = "failback" if switch.failback else f"failover after {switch.took_ns / 1e6:.1f} ms"
            log.warning(
                "feed %s: active line %s -> %s (%s): %s",
                self.spec.name,
                switch.from_line,
                switch.to_line,
                what,
                switch.reason,
            )
            if self._on_switch is not None:
                self._on_switch(self, switch)
        for name, h in self.lines.items():
            conn = self._connections.get(name)
            if conn is not None and h.connected and now - h.last_rx_ns > self.limits.reconnect_ns:
                conn.cancel()
        health = self.monitor.health
        if health != self._health:
            self._health = health
            log.warning("feed %s is %s", self.spec.name, health)
            if self._on_health is not None:
                self._on_health(self)

    async def _tick_forever(self) -> None:
        period = self.limits.tick_ns / 1e9
        while True:
            await asyncio.sleep(period)
            try:
                self.evaluate(self.clock.now_ns())
            except Exception:  # the timer must survive anything: it is what notices a dead feed
                log.exception("feed %s: evaluation failed", self.spec.name)

    def stale_symbols(self, now: int) -> list[str]:
        """Symbols of the desk this feed has not updated within its ``staleAfterMs``."""
        bound = self.info.stale_after_ns
        since = self.started_ns
        return [s for s in self.symbols if now - self.last_update.get(s, since) > bound]
