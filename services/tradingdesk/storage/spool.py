"""The journal's outage spool: records made durable on local disk while the journal's database cannot write.

Why: a 30 s database outage otherwise refuses every new order for 30 s (``JOURNAL_UNAVAILABLE``), which alone
caps a day's availability at 0.9987. With the spool (``spec.routing.outageSpool``) the writer appends each batch
it cannot commit to a local file, fsyncs it, and only then reports the records durable, so an order is still
acknowledged only once its record survives a crash of the process. When the database takes writes again the
writer copies the spooled records into the journal table, in seq order and before anything newer, and empties
the file; a process that becomes the writer with a non-empty spool does the same before it reads the journal.

One owner at a time: the writer appends only while it holds an exclusive ``flock`` on ``<spool>.owner`` (``own``),
taken after the journal's PostgreSQL writer lock and kept for as long as it is the writer. The kernel drops it
when the process dies, even by SIGKILL, so a routing standby on the same disk (the embedded desk with
``replicas`` 2) that won the writer lock waits for it, and only then reads the spool: whatever the old writer
acknowledged is in the file by then (fsynced before acknowledged), and it appends nothing more. A writer fenced
off while alive leaves the spool in place and lets go of the lock (``release``) once its writer thread has stopped,
before it exits. On Kubernetes it is not yet offered: a pod's disk does not outlive the pod (the CRD refuses it).

Format: one record per line, ``<crc32 of the JSON, 8 hex digits> <JSON [seq, ts_ns, kind, order_id, payload]>``.
A line cut short by a crash (its batch was never fsynced, so never acknowledged) fails its checksum: it and
anything after it are ignored, with a warning.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
import zlib
from pathlib import Path
from typing import Any

from tradingdesk.core.durable_files import fsync_dir

log = logging.getLogger(__name__)

Row = tuple[int, int, str, str, str]
"""One journal record as the writer inserts it: seq, ts_ns, kind, order_id, the encoded payload."""


OWN_POLL_S = 0.005
"""How often ``own`` tries the owner lock again while another process holds it."""


class SpoolCorrupt(Exception):
    """The spool holds records out of seq order: it is not ours to replay."""


class SpoolOwned(Exception):
    """Another process (or another ``OutageSpool`` of this one) owns the spool: this one may not read or append."""


class OutageSpool:
    """An append-only file of journal rows the database has not taken yet. Used from the writer thread only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._count: int | None = None  # rows in the file, known once read or written
        self._owner_fd: int | None = None  # the open ``<spool>.owner`` holding the flock, while this one owns it

    @property
    def owner_path(self) -> Path:
        """The lock file next to the spool; never deleted, so every owner locks the same inode."""
        return self.path.with_name(f"{self.path.name}.owner")

    @property
    def owned(self) -> bool:
        """True while this object holds the owner lock."""
        return self._owner_fd is not None

    def own(self, *, within_s: float) -> float:
        """Take the owner lock, waiting up to ``within_s`` for the process that holds it to let go or die; the
        seconds waited (0.0 when it was free). ``SpoolOwned`` if it is still held then. Idempotent. What the file
        holds is read afresh afterwards: the previous owner may have appended to it up to the moment it let go. A
        forked child (routing's snapshot serializer) closes its inherited copy of the descriptor first thing
        (``routing/snapshots.py``), so it does not keep the lock after its parent died; exec'd children never get
        it (``O_CLOEXEC``)."""
        if self._owner_fd is not None:
            return 0.0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.owner_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        started = time.monotonic()
        blocked = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                blocked = True
                waited = time.monotonic() - started
                if waited >= within_s:
                    os.close(fd)
                    raise SpoolOwned(
                        f"journal spool {self.path}: another process still owns it after {waited:.1f}s"
                    ) from None
                time.sleep(OWN_POLL_S)
            except BaseException:
                os.close(fd)
                raise
        self._owner_fd = fd
        self._count = None
        return time.monotonic() - started if blocked else 0.0

    def release(self) -> None:
        """Let go of the owner lock (the file stays for the next owner). Only once nothing appends any more."""
        fd, self._owner_fd = self._owner_fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor of its open file drops the flock

    def __len__(self) -> int:
        if self._count is None:
            self._count = len(self.read())
        return self._count

    def append(self, rows: list[Row]) -> None:
        """Add ``rows`` (in seq order, after those already spooled) and make them durable (fsync) before
        returning: the caller reports them durable next."""
        lines = []
        for row in rows:
            text = json.dumps(list(row), separators=(",", ":"), ensure_ascii=False)
            lines.append(f"{zlib.crc32(text.encode()):08x} {text}\n")
        if self._count is None:
            self._count = len(self.read())
        fresh = not self.path.exists()
        if fresh:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write("".join(lines))
            f.flush()
            os.fsync(f.fileno())
        if fresh:
            fsync_dir(self.path.parent)  # the file's name is durable too
        self._count += len(rows)

    def read(self) -> list[Row]:
        """The spooled rows in seq order; a torn or damaged tail is left out (logged). ``SpoolCorrupt`` when the
        rows that check out are not in consecutive seq order."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            self._count = 0
            return []
        rows: list[Row] = []
        for number, line in enumerate(data.split(b"\n"), start=1):
            if not line:
                continue
            row = _parse(line)
            if row is None:
                log.warning(
                    "journal spool %s: line %d is damaged or cut short; it and the rest are ignored", self.path, number
                )
                break
            if rows and row[0] != rows[-1][0] + 1:
                raise SpoolCorrupt(f"journal spool {self.path}: seq {row[0]} follows {rows[-1][0]} at line {number}")
            rows.append(row)
        self._count = len(rows)
        return rows

    def clear(self) -> None:
        """Forget the spooled rows (the journal table has them now)."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        else:
            fsync_dir(self.path.parent)
        self._count = 0

    def set_aside(self) -> Path:
        """Keep the file for people under another name (``<name>.<n>.orphaned``) and start empty; the path."""
        n = 1
        while (target := self.path.with_name(f"{self.path.name}.{n}.orphaned")).exists():
            n += 1
        os.replace(self.path, target)
        fsync_dir(self.path.parent)
        self._count = 0
        return target


def _parse(line: bytes) -> Row | None:
    crc, _, text = line.partition(b" ")
    try:
        if int(crc, 16) != zlib.crc32(text):
            return None
        value: Any = json.loads(text)
    except ValueError:
        return None
    if not (isinstance(value, list) and len(value) == 5):
        return None
    seq, ts_ns, kind, order_id, payload = value
    if not (isinstance(seq, int) and isinstance(ts_ns, int) and isinstance(kind, str) and isinstance(order_id, str)):
        return None
    if not isinstance(payload, str):
        return None
    return seq, ts_ns, kind, order_id, payload
