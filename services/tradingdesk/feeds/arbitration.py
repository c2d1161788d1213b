"""A/B line arbitration: two lines carry the same sequenced messages; the first copy of each wins.

Exchanges publish every message on two independent lines so that a packet lost on one is still delivered
by the other. The arbitrator merges them: it passes each sequence number once (whichever line brings it
first), drops the second copy as a duplicate, and notices jumps in the sequence (gaps). Numbers skipped by
a jump stay *open* for ``recovery_window`` sequence numbers: if a line delivers one late it is passed on
as a recovery, otherwise it is counted as lost. Line failover (preferring one line, switching after
silence) builds on the per-line counters kept here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from tradingdesk.feeds.events import FeedMessage


@dataclass(frozen=True, slots=True)
class Gap:
    """A jump in the sequence: ``first``..``last`` were missing when ``line`` delivered ``last + 1``."""

    first: int
    last: int
    line: str
    vendor_ts_ns: int

    @property
    def size(self) -> int:
        return self.last - self.first + 1


class LineArbitrator:
    """Merges the lines of one feed into one gap-checked stream; ``accept`` is called once per message."""

    def __init__(self, lines: Sequence[str], *, recovery_window: int = 10_000, history: int = 1_000) -> None:
        self.lines = tuple(lines)
        self.recovery_window = recovery_window
        self.next_seq = 1
        """The sequence number that continues the merged stream."""
        self.duplicates = 0
        """Copies dropped because their sequence number had already been passed."""
        self.gaps = 0
        """Jumps in the sequence."""
        self.missing = 0
        """Sequence numbers skipped by jumps."""
        self.recovered = 0
        """Skipped numbers a line delivered late, within the recovery window."""
        self.lost = 0
        """Skipped numbers given up after the recovery window (or too many open gaps)."""
        self.gap_log: deque[Gap] = deque(maxlen=history)
        """The most recent gaps, oldest first."""
        self.received = dict.fromkeys(self.lines, 0)
        """Messages each line delivered."""
        self.wins = dict.fromkeys(self.lines, 0)
        """Messages of each line that were passed on (first copies)."""
        self._open: list[list[int]] = []  # [first, last] ranges still recoverable, in sequence order

    def accept(self, msg: FeedMessage) -> bool:
        """Whether ``msg`` is the first copy of its sequence number (pass it on) or a duplicate (drop it)."""
        line = msg.line
        self.received[line] += 1
        seq = msg.seq
        if seq == self.next_seq:
            self.next_seq = seq + 1
            self.wins[line] += 1
            if self._open and self._open[0][1] < seq - self.recovery_window:
                self._expire(seq)
            return True
        if seq > self.next_seq:
            gap = Gap(self.next_seq, seq - 1, line, msg.vendor_ts_ns)
            self.gaps += 1
            self.missing += gap.size
            self.gap_log.append(gap)
            self._open.append([gap.first, gap.last])
            self.next_seq = seq + 1
            self.wins[line] += 1
            self._expire(seq)
            return True
        if self._open and self._fill(seq):
            self.recovered += 1
            self.wins[line] += 1
            return True
        self.duplicates += 1
        return False

    @property
    def open_gaps(self) -> list[tuple[int, int]]:
        """Missing ranges that a late copy can still fill."""
        return [(first, last) for first, last in self._open]

    def _fill(self, seq: int) -> bool:
        for i, (first, last) in enumerate(self._open):
            if first <= seq <= last:
                if first == last:
                    del self._open[i]
                elif seq == first:
                    self._open[i][0] = seq + 1
                elif seq == last:
                    self._open[i][1] = seq - 1
                else:
                    self._open[i : i + 1] = [[first, seq - 1], [seq + 1, last]]
                return True
        return False

    def _expire(self, seq: int) -> None:
        horizon = seq - self.recovery_window
        while self._open and (self._open[0][1] < horizon or len(self._open) > 1_000):
            first, last = self._open.pop(0)
            self.lost += last - first + 1
