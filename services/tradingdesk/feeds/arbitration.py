"""A/B line arbitration: two lines carry the same sequenced messages; the first copy of each wins, in order.

Exchanges publish every message on two independent lines so that a packet lost on one is still delivered
by the other. The arbitrator merges them into one stream that is complete and strictly in sequence order:

* the next expected number is passed on at once, whichever line brings it first; a later copy of a number
  already passed is a duplicate and is dropped;
* a number beyond the next expected one opens a *gap*: the message is held until the missing numbers
  arrive from either line, then everything contiguous is released in order. Subscribers never see a
  sequence go backwards or skip while the gap can still be filled;
* a heartbeat announcing a number not yet seen opens a gap too, so a loss at the very end of a burst is
  noticed without waiting for the next message;
* a gap nobody fills within the feed's bound (``expire``), or that would make the hold buffer exceed
  ``max_held``, is given up: its numbers are counted as lost and the held messages are released. The feed
  handler then asks for a snapshot to repair the state.

The arbitrator keeps no time of its own: callers pass ``now_ns``, so tests drive it exactly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from tradingdesk.feeds.events import FeedMessage


@dataclass(frozen=True, slots=True)
class Gap:
    """A jump in the sequence: ``first``..``last`` were missing when ``line`` delivered ``last + 1`` (or
    announced ``last`` in a heartbeat)."""

    first: int
    last: int
    line: str
    detected_ns: int

    @property
    def size(self) -> int:
        return self.last - self.first + 1


@dataclass(frozen=True, slots=True)
class Loss:
    """Numbers given up: ``first``..``last`` minus those that had arrived (``count`` were really lost)."""

    first: int
    last: int
    count: int


class LineArbitrator:
    """Merges the lines of one feed into one complete, in-order stream.

    Usage on the hot path: ``if arb.accept(msg, now): publish(msg)``, then, only when ``arb.held`` is
    not empty, ``for m in arb.release(): publish(m)``.
    """

    def __init__(self, lines: Sequence[str], *, max_held: int = 100_000, history: int = 1_000) -> None:
        self.lines = tuple(lines)
        self.max_held = max_held
        self.next_seq = 1
        """The sequence number that continues the merged stream."""
        self.high = 0
        """The highest sequence number known to exist (from a message or a heartbeat)."""
        self.duplicates = 0
        """Copies dropped because their sequence number had already been passed or held."""
        self.gaps = 0
        """Jumps in the sequence."""
        self.missing = 0
        """Sequence numbers skipped by jumps."""
        self.recovered = 0
        """Skipped numbers a line delivered later (usually the other line's copy)."""
        self.lost = 0
        """Skipped numbers given up: nobody delivered them within the bound."""
        self.gap_log: deque[Gap] = deque(maxlen=history)
        """The most recent gaps, oldest first."""
        self.loss_log: deque[Loss] = deque(maxlen=history)
        """The most recent losses, oldest first."""
        self.received = dict.fromkeys(self.lines, 0)
        """Messages each line delivered."""
        self.wins = dict.fromkeys(self.lines, 0)
        """Messages of each line that were first (passed on or held)."""
        self.held: dict[int, FeedMessage] = {}
        """Messages waiting behind a gap, by sequence number."""
        self._gap_times: deque[tuple[int, int]] = deque()  # (last seq of a gap, detected_ns), in order
        self._joining = False

    def join(self) -> None:
        """The stream is joined in progress: the first number any line announces (a message, or a heartbeat's
        last number) is where it continues, not a gap after 1. For lines that start where the desk's replay
        is (a restarted feeds process), having skipped, unsent, what came before."""
        self._joining = True

    def _joined(self, seq: int) -> None:
        self._joining = False
        if seq > self.next_seq:
            self.next_seq = seq
            self.high = max(self.high, seq - 1)

    # -- input ------------------------------------------------------------------------------------------------

    def accept(self, msg: FeedMessage, now_ns: int) -> bool:
        """True if ``msg`` is the next in sequence (pass it on now); False if it is held or a duplicate."""
        line = msg.line
        self.received[line] += 1
        seq = msg.seq
        if self._joining:
            self._joined(seq)
        if seq == self.next_seq:
            self.next_seq = seq + 1
            self.wins[line] += 1
            if seq <= self.high:  # it was missing: the head of a gap is filled
                self.recovered += 1
                self._passed_gaps()
            else:
                self.high = seq
            return True
        if seq < self.next_seq or seq in self.held:
            self.duplicates += 1
            return False
        high = self.high
        if seq > high:
            if seq > high + 1:
                self._open_gap(max(high, self.next_seq - 1) + 1, seq - 1, line, now_ns)
            self.high = seq
        else:
            self.recovered += 1  # inside a known gap, above its head
        self.held[seq] = msg
        self.wins[line] += 1
        return False

    def heartbeat(self, line: str, seq: int, now_ns: int) -> None:
        """A line says its last number is ``seq``: anything up to it not seen yet is missing."""
        if self._joining:
            self._joined(seq + 1)
        if seq > self.high:
            self._open_gap(max(self.high, self.next_seq - 1) + 1, seq, line, now_ns)
            self.high = seq

    # -- output -----------------------------------------------------------------------------------------------

    def release(self) -> list[FeedMessage]:
        """Held messages that are now contiguous with the stream, in order (empty if the gap is still open)."""
        held = self.held
        out: list[FeedMessage] = []
        seq = self.next_seq
        while (msg := held.pop(seq, None)) is not None:
            out.append(msg)
            seq += 1
        if out:
            self.next_seq = seq
            self._passed_gaps()
        return out

    @property
    def overflowing(self) -> bool:
        return len(self.held) > self.max_held

    def gap_age_ns(self, now_ns: int) -> int:
        """How long the oldest open gap has been waiting (0 when the stream is complete)."""
        return now_ns - self._gap_times[0][1] if self._gap_times and self.next_seq <= self.high else 0

    def expire(self, now_ns: int, timeout_ns: int) -> tuple[list[Loss], list[FeedMessage]]:
        """Give up gaps older than ``timeout_ns`` (or any while overflowing): the losses and the messages
        released behind them, in order."""
        losses: list[Loss] = []
        released: list[FeedMessage] = []
        while self.next_seq <= self.high and (self.overflowing or self.gap_age_ns(now_ns) > timeout_ns):
            losses.append(self._give_up_head())
            released.extend(self.release())
        return losses, released

    @property
    def open_gaps(self) -> list[tuple[int, int]]:
        """Missing ranges that a late copy can still fill."""
        out: list[tuple[int, int]] = []
        start = None
        for seq in range(self.next_seq, self.high + 1):
            if seq in self.held:
                if start is not None:
                    out.append((start, seq - 1))
                    start = None
            elif start is None:
                start = seq
        if start is not None:
            out.append((start, self.high))
        return out

    # -- internals ----------------------------------------------------------------------------------------------

    def _open_gap(self, first: int, last: int, line: str, now_ns: int) -> None:
        gap = Gap(first, last, line, now_ns)
        self.gaps += 1
        self.missing += gap.size
        self.gap_log.append(gap)
        self._gap_times.append((last, now_ns))

    def _passed_gaps(self) -> None:
        times = self._gap_times
        while times and times[0][0] < self.next_seq:
            times.popleft()

    def _give_up_head(self) -> Loss:
        """Skip the missing numbers at the head of the stream up to the next held message (or ``high``)."""
        first = self.next_seq
        seq = first
        held = self.held
        while seq <= self.high and seq not in held:
            seq += 1
        count = seq - first
        self.lost += count
        loss = Loss(first, seq - 1, count)
        self.loss_log.append(loss)
        self.next_seq = seq
        self._passed_gaps()
        return loss
