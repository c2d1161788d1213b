"""Snapshots of routing's recoverable state in the journal's own database, each one checked before it is used.

A snapshot is an optimisation of recovery; the journal stays the truth. A row of ``journal_snapshots`` holds the
state that replaying records 1..``seq`` built (``oms/snapshot.py``), serialized with pickle, and what makes it
trustworthy:

- ``format``: the layout of this row and its body (``SNAPSHOT_FORMAT``); another one is never read;
- ``state_key``: a digest of the code that builds the state (the sources of the core, the OMS and the risk gate),
  the Python version and the desk's configuration that shapes it (``config``: instruments' sectors, self-match
  policy). A snapshot written by other code or for another configuration could hold state this code would not
  have built, so it is skipped;
- ``incarnation``, ``record_ts_ns`` and ``record_kind``: which journal, and the record at ``seq`` it covers. A
  journal restored from a backup, replaced, or shorter than ``seq`` does not match, so the snapshot is skipped;
- ``checksum``: SHA-256 over all of the above and the body. A corrupt or truncated body does not match.

``latest`` returns the newest snapshot that passes every check, and says in the log why each newer one did
not; with none, the caller replays the whole journal. A row is written in one transaction after the journal
holds ``seq`` durably, so a process killed mid-write leaves the snapshots that were there. The body is read
with an unpickler that builds only plain containers and what the state's own code defines (``STATE_CODE``: the
core, the OMS and the risk gate, which do no I/O): even a body that passed its checksum cannot make the reader
import or call anything else.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import io
import logging
import pickle
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, delete, select

from tradingdesk.oms.snapshot import EngineState

from .schema import journal as journal_table
from .schema import journal_snapshots

log = logging.getLogger(__name__)
T = TypeVar("T")

SNAPSHOT_FORMAT = 1
"""The layout of a snapshot row and its body (pickle protocol 5 of an ``EngineState``)."""
PICKLE_PROTOCOL = 5
KEEP = 2
"""Snapshots kept: the newest and the one before (should the newest fail its checks)."""
STATE_CODE = ("tradingdesk.core", "tradingdesk.oms", "tradingdesk.risk.gate", "tradingdesk.risk.scope")
"""The code whose classes a snapshot holds, or whose handlers build them."""
_SAFE_GLOBALS = frozenset({("collections", "deque"), ("collections", "OrderedDict"), ("builtins", "set")})


@functools.cache
def code_digest(packages: tuple[str, ...] = STATE_CODE) -> str:
    """SHA-256 of the sources of ``packages`` (every module file under each, in a stable order).

    Once per process: the code it stands for is the code this process imported, which does not change while it
    runs, and reading and hashing the files took 5-20 ms of a restarted routing's start. The warm spare computes
    it while it waits (``cli/spare.py``), so a restart through the spare does not."""
    digest = hashlib.sha256()
    for name in packages:
        module = importlib.import_module(name)
        root = Path(module.__file__ or "")
        files = sorted(root.parent.rglob("*.py")) if root.name == "__init__.py" else [root]
        for path in files:
            digest.update(str(path.relative_to(root.parent)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def state_key(config: str, *, code: str | None = None) -> str:
    """What a snapshot must have been written by to be read here: this code, this Python, this ``config``."""
    parts = (str(SNAPSHOT_FORMAT), f"{sys.version_info.major}.{sys.version_info.minor}", code or code_digest(), config)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def encode_state(state: EngineState) -> bytes:
    """The state's bytes. Call it on the thread that owns the state, before anything changes it: the bytes are
    the consistent copy."""
    return pickle.dumps(state, protocol=PICKLE_PROTOCOL)


class _StateUnpickler(pickle.Unpickler):
    def __init__(self, body: bytes, code: tuple[str, ...]) -> None:
        super().__init__(io.BytesIO(body))
        self._code = code
        self._prefixes = tuple(f"{name}." for name in code)

    def find_class(self, module: str, name: str) -> type:
        if module in self._code or module.startswith(self._prefixes) or (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"a snapshot may not hold {module}.{name}")


def load_restricted(body: bytes, *, expected: type[T], code: tuple[str, ...]) -> T:
    """Unpickle ``body``, building only plain containers and the classes of ``code``; it must be an ``expected``."""
    state = _StateUnpickler(body, code).load()
    if not isinstance(state, expected):
        raise pickle.UnpicklingError(f"a snapshot holds a {type(state).__name__}, not a {expected.__name__}")
    return state


def decode_state(body: bytes) -> EngineState:
    return load_restricted(body, expected=EngineState, code=STATE_CODE)


def checksum(*, seq: int, incarnation: str, ts_ns: int, kind: str, fmt: int, key: str, body: bytes) -> str:
    header = f"{seq}\x1f{incarnation}\x1f{ts_ns}\x1f{kind}\x1f{fmt}\x1f{key}\n".encode()
    return hashlib.sha256(header + body).hexdigest()


def row_values(*, seq: int, incarnation: str, ts_ns: int, kind: str, fmt: int, key: str, body: bytes) -> dict:
    """A ``journal_snapshots`` row, its checksum over everything it says."""
    return {
        "seq": seq,
        "incarnation": incarnation,
        "record_ts_ns": ts_ns,
        "record_kind": kind,
        "format": fmt,
        "state_key": key,
        "created_ns": time.time_ns(),
        "checksum": checksum(seq=seq, incarnation=incarnation, ts_ns=ts_ns, kind=kind, fmt=fmt, key=key, body=body),
        "body": body,
    }


def row_problem(row: Any, *, fmt: int, key: str, covers: Callable[[Any], str] = lambda _row: "") -> str:
    """Why a ``journal_snapshots`` row cannot be used, or an empty string: its format, its state key, what it
    covers (``covers``: the caller's journal and record, checked before the checksum so the warning names the
    mismatch rather than a checksum over a row nobody corrupted), its checksum."""
    if row.format != fmt:
        return f"format {row.format}, this reader knows {fmt}"
    if row.state_key != key:
        return "written by other code, another Python or another configuration of the desk"
    covered = covers(row)
    if covered:
        return covered
    if row.checksum != checksum(
        seq=row.seq,
        incarnation=row.incarnation,
        ts_ns=row.record_ts_ns,
        kind=row.record_kind,
        fmt=row.format,
        key=row.state_key,
        body=row.body,
    ):
        return "checksum mismatch (corrupt or truncated)"
    return ""


@dataclass(frozen=True, slots=True)
class LoadedSnapshot:
    state: EngineState
    record_ts_ns: int
    """The time of the journal record at ``state.seq``."""
    size: int


class SnapshotStore:
    """Writes and reads the snapshots of one journal (its database's ``incarnation``)."""

    def __init__(self, engine: Engine, *, incarnation: str, key: str, keep: int = KEEP) -> None:
        self._engine = engine
        self._incarnation = incarnation
        self._key = key
        self._keep = keep

    def save(self, seq: int, body: bytes) -> bool:
        """Store ``body`` (the state at ``seq``, which must be durable in the journal) and delete the snapshots
        older than the newest ``keep``. False (nothing written) when the journal has no record ``seq``."""
        t = journal_table
        with self._engine.begin() as conn:
            row = conn.execute(select(t.c.ts_ns, t.c.kind).where(t.c.seq == seq)).first()
            if row is None:
                return False
            ts_ns, kind = row
            s = journal_snapshots
            conn.execute(
                s.insert().values(
                    row_values(
                        seq=seq,
                        incarnation=self._incarnation,
                        ts_ns=ts_ns,
                        kind=kind,
                        fmt=SNAPSHOT_FORMAT,
                        key=self._key,
                        body=body,
                    )
                )
            )
            kept = conn.execute(select(s.c.seq).order_by(s.c.seq.desc()).limit(self._keep)).scalars().all()
            conn.execute(delete(s).where(s.c.seq < kept[-1]))
        return True

    def seqs(self) -> list[int]:
        """The seqs of the snapshots stored, newest first."""
        s = journal_snapshots
        with self._engine.connect() as conn:
            return list(conn.execute(select(s.c.seq).order_by(s.c.seq.desc())).scalars())

    def latest(self) -> LoadedSnapshot | None:
        """The newest snapshot that passes every check (the module's docstring), or None: replay everything."""
        for seq in self.seqs():
            try:
                loaded = self._load(seq)
            except Exception as exc:  # whatever is wrong with it, the journal replays instead
                log.warning("journal snapshot at seq %d not used: %s: %s", seq, type(exc).__name__, exc)
                continue
            if loaded is not None:
                return loaded
        return None

    def _load(self, seq: int) -> LoadedSnapshot | None:
        s, t = journal_snapshots, journal_table
        with self._engine.connect() as conn:
            row = conn.execute(select(s).where(s.c.seq == seq)).first()
            record = conn.execute(select(t.c.ts_ns, t.c.kind).where(t.c.seq == seq)).first()
        if row is None:
            return None  # deleted meanwhile

        def covers(row: Any) -> str:
            if row.incarnation != self._incarnation:
                return f"written for journal incarnation {row.incarnation}, this journal is {self._incarnation}"
            if record is None or (record.ts_ns, record.kind) != (row.record_ts_ns, row.record_kind):
                return "the journal's record at its seq is not the one it covers (a restored or another journal)"
            return ""

        problem = row_problem(row, fmt=SNAPSHOT_FORMAT, key=self._key, covers=covers)
        if problem:
            log.warning("journal snapshot at seq %d not used: %s", seq, problem)
            return None
        state = decode_state(row.body)
        if state.seq != seq:
            log.warning("journal snapshot at seq %d not used: it holds the state at seq %d", seq, state.seq)
            return None
        return LoadedSnapshot(state=state, record_ts_ns=row.record_ts_ns, size=len(row.body))


__all__ = [
    "SNAPSHOT_FORMAT",
    "LoadedSnapshot",
    "SnapshotStore",
    "code_digest",
    "decode_state",
    "encode_state",
    "load_restricted",
    "row_problem",
    "row_values",
    "state_key",
]
