"""Halts applied while the risk change journal's database did not answer, kept in a local file until journaled.

A halt during a database outage applies at once (``RiskState.record(..., hold_if_unavailable=True)``). It used to
live only in the risk process's memory: a risk process that crashed before the database answered forgot it, and
the desk came back trading a scope an operator had halted. Now each held-back halt is appended to
``held-back-changes.jsonl`` in the desk's data directory, written and fsynced before the halt is answered; the
file is emptied once the journal holds its changes; and a risk process that takes the journal over journals what
the file still holds before it restores its state (``RiskState.journal_left_behind``), each change once.

The file is the data directory's: the embedded desk's risk processes share it, and in Kubernetes a container
restarted in its pod finds it; a replica on another node does not (the runbook says what to check then).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from tradingdesk.core.durable_files import fsync_dir
from tradingdesk.core.event_codec import decode_change, encode_change
from tradingdesk.core.events import RiskChange

log = logging.getLogger(__name__)
FILE_NAME = "held-back-changes.jsonl"


class HeldBackFile:
    """Risk changes held back from the journal, one JSON line each, oldest first."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def in_directory(cls, directory: Path) -> HeldBackFile:
        return cls(directory / FILE_NAME)

    def append(self, change: RiskChange) -> None:
        """Add ``change`` durably (the file and, when it is new, its directory fsynced). Raises ``OSError``."""
        line = json.dumps(
            {"ts_ns": change.ts_ns, "actor": change.actor, "reason": change.reason, "change": encode_change(change)},
            sort_keys=True,
        )
        created = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        if created:
            fsync_dir(self.path.parent)

    def read(self) -> list[RiskChange]:
        """The changes in the file, oldest first. A last line cut short (a crash while appending it, before its
        halt was answered) is left out; any other unreadable line raises ``ValueError``."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        changes = []
        for number, line in enumerate(lines, start=1):
            try:
                row = json.loads(line)
                changes.append(
                    decode_change(ts_ns=row["ts_ns"], actor=row["actor"], reason=row["reason"], change=row["change"])
                )
            except (ValueError, KeyError, TypeError) as exc:
                if number == len(lines):
                    log.warning("risk: %s: its last line was cut short (%s); left out", self.path, exc)
                    break
                raise ValueError(f"{self.path}, line {number}: not a held-back risk change: {exc}") from exc
        return changes

    def clear(self) -> None:
        """Empty it: every change it held is in the journal."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return
        fsync_dir(self.path.parent)
