"""The node hashes of the audit tree, on disk: what inclusion and consistency proofs are built from.

One append-only file per level (``level-00`` holds the leaf hashes, ``level-01`` the hashes of pairs, ...);
node ``index`` of a level is the 32 bytes at ``index * 32``. A node is written once its subtree is complete
and never changes, so a proof over a year of records reads O(log n) hashes instead of holding the tree in
memory. Writes are buffered and reach the files on ``flush``; ``sync`` makes them durable. The files are a
cache of the records: after a crash, ``truncate`` drops what is not trusted and the log appends it again.
"""

from __future__ import annotations

import os
from pathlib import Path

from tradingdesk.audit.merkle import HASH_SIZE, CompactRange, node_hash

_MAX_LEVELS = 64


class HashStore:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._fds: list[int] = []
        self._written: list[int] = []  # nodes in each level's file
        self._buffers: list[bytearray] = []  # nodes not yet written, per level
        self._range = CompactRange(self._keep)
        self._open_levels()
        size = self._written[0] if self._written else 0
        self._repair(size)

    # ---------------------------------------------------------------- reading

    @property
    def size(self) -> int:
        return self._range.size

    def node(self, level: int, index: int) -> bytes:
        if level >= len(self._fds):
            raise IndexError(f"no level {level} in a tree of {self.size}")
        written = self._written[level]
        if index >= written:
            buf = self._buffers[level]
            at = (index - written) * HASH_SIZE
            if at + HASH_SIZE > len(buf):
                raise IndexError(f"node {level}/{index} is not in a tree of {self.size}")
            return bytes(buf[at : at + HASH_SIZE])
        return os.pread(self._fds[level], HASH_SIZE, index * HASH_SIZE)

    def leaves(self, start: int, end: int) -> bytes:
        """The leaf hashes of records ``[start, end)``, concatenated."""
        self.flush()
        return os.pread(self._fds[0], (end - start) * HASH_SIZE, start * HASH_SIZE) if end > start else b""

    def root(self) -> bytes:
        return self._range.root()

    # ---------------------------------------------------------------- writing

    def append(self, leaf: bytes) -> None:
        self._range.append(leaf)

    def _keep(self, level: int, index: int, h: bytes) -> None:
        if level >= len(self._fds):
            self._add_level()
        self._buffers[level] += h

    def flush(self) -> None:
        for level, buf in enumerate(self._buffers):
            if buf:
                os.pwrite(self._fds[level], bytes(buf), self._written[level] * HASH_SIZE)
                self._written[level] += len(buf) // HASH_SIZE
                buf.clear()

    def sync(self) -> None:
        self.flush()
        for fd in self._fds:
            os.fsync(fd)

    def truncate(self, size: int) -> None:
        """Forget every node beyond the first ``size`` leaves (to append them again after a crash)."""
        self.flush()
        if size > self.size:
            raise ValueError(f"cannot grow a hash store of {self.size} to {size} by truncating")
        self._repair(size)

    def close(self) -> None:
        self.flush()
        for fd in self._fds:
            os.close(fd)
        self._fds.clear()

    # ---------------------------------------------------------------- files

    def _path(self, level: int) -> Path:
        return self.dir / f"level-{level:02d}"

    def _open_levels(self) -> None:
        level = 0
        while level < _MAX_LEVELS and (level == 0 or self._path(level).exists()):
            self._add_level()
            level += 1

    def _add_level(self) -> None:
        level = len(self._fds)
        fd = os.open(self._path(level), os.O_RDWR | os.O_CREAT, 0o644)
        self._fds.append(fd)
        self._written.append(os.fstat(fd).st_size // HASH_SIZE)
        self._buffers.append(bytearray())

    def _repair(self, size: int) -> None:
        """Make every level hold exactly the complete subtrees of ``size`` leaves (computing missing parents
        from their children, dropping anything beyond), then rebuild the right edge from them."""
        for level in range(len(self._fds)):
            if self._written[level] > size >> level:
                os.ftruncate(self._fds[level], (size >> level) * HASH_SIZE)
                self._written[level] = size >> level
            elif level:
                self._repair_level(level, size)
        while size >> len(self._fds) and len(self._fds) < _MAX_LEVELS:
            self._add_level()
            self._repair_level(len(self._fds) - 1, size)
        edge = [
            self.node(level, (size >> level) - 1) for level in reversed(range(size.bit_length())) if size >> level & 1
        ]
        self._range = CompactRange.restore(size, edge, self._keep)

    def _repair_level(self, level: int, size: int) -> None:
        """Compute the nodes of ``level`` missing for ``size`` leaves from the level below."""
        want = size >> level
        parents = bytearray()
        for index in range(self._written[level], want):
            parents += node_hash(self.node(level - 1, 2 * index), self.node(level - 1, 2 * index + 1))
        os.pwrite(self._fds[level], bytes(parents), self._written[level] * HASH_SIZE)
        self._written[level] = want


__all__ = ["HashStore"]
