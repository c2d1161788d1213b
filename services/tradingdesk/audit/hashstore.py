"""The node hashes of the audit tree, on disk: what inclusion and consistency proofs are built from.

One append-only file per level (``level-00`` holds the leaf hashes, ``level-01`` the hashes of pairs, ...);
node ``index`` of a level is the 32 bytes at ``index * 32``. A node is written once its subtree is complete
and never changes, so a proof over a year of records reads O(log n) hashes instead of holding the tree in
memory. ``extend`` takes a batch of leaves and computes every parent they complete, level by level (about one
hash per leaf); the nodes reach the files on ``flush`` and become durable on ``sync``. The files are a cache
of the records: after a crash, ``truncate`` drops what is not trusted and the log appends it again.
"""

from __future__ import annotations

import os
from pathlib import Path

from tradingdesk.audit.merkle import HASH_SIZE, node_hash, parent_hashes_joined, root_hash

_MAX_LEVELS = 64


class HashStore:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._fds: list[int] = []
        self._written: list[int] = []  # nodes in each level's file
        self._pending: list[bytearray] = []  # nodes computed but not yet written, per level, joined
        level = 0
        while level < _MAX_LEVELS and (level == 0 or self._path(level).exists()):
            self._add_level()
            level += 1
        self.size = self._written[0]
        self._repair(self.size)

    # ---------------------------------------------------------------- reading

    def node(self, level: int, index: int) -> bytes:
        if level >= len(self._fds) or index >= self.size >> level:
            raise IndexError(f"no node {level}/{index} in a tree of {self.size}")
        return self.node_at(level, index)

    def leaves(self, start: int, end: int) -> bytes:
        """The leaf hashes of records ``[start, end)``, concatenated."""
        self.flush()
        return os.pread(self._fds[0], (end - start) * HASH_SIZE, start * HASH_SIZE) if end > start else b""

    def root(self) -> bytes:
        return root_hash(self, self.size)

    # ---------------------------------------------------------------- writing

    def extend(self, leaves: bytes | list[bytes]) -> None:
        """Append leaf hashes (a list, or joined in one buffer) and every parent node they complete."""
        new = leaves if isinstance(leaves, bytes | bytearray) else b"".join(leaves)
        if not new:
            return
        count = len(new) // HASH_SIZE
        first = self.size  # index of the first new node at this level
        level = 0
        while new:
            if level == len(self._fds):
                self._add_level()
            self._pending[level] += new
            if first % 2:  # the first new node is a right child: its left sibling is already stored
                nodes, start = self.node_at(level, first - 1) + new, first - 1
            else:
                nodes, start = new, first
            new = parent_hashes_joined(nodes)
            first = start // 2
            level += 1
        self.size += count

    def node_at(self, level: int, index: int) -> bytes:
        """Like ``node``, for nodes of a level being extended (the size is not updated yet)."""
        at = index - self._written[level]
        if at >= 0:
            return bytes(self._pending[level][at * HASH_SIZE : (at + 1) * HASH_SIZE])
        return os.pread(self._fds[level], HASH_SIZE, index * HASH_SIZE)

    def flush(self) -> None:
        for level, pending in enumerate(self._pending):
            if pending:
                os.pwrite(self._fds[level], pending, self._written[level] * HASH_SIZE)
                self._written[level] += len(pending) // HASH_SIZE
                pending.clear()

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

    def _add_level(self) -> None:
        level = len(self._fds)
        fd = os.open(self._path(level), os.O_RDWR | os.O_CREAT, 0o644)
        self._fds.append(fd)
        self._written.append(os.fstat(fd).st_size // HASH_SIZE)
        self._pending.append(bytearray())

    def _repair(self, size: int) -> None:
        """Make every level hold exactly the complete subtrees of ``size`` leaves: drop what lies beyond,
        compute missing parents from their children (a crash between writing two levels)."""
        for level in range(len(self._fds)):
            want = size >> level
            if self._written[level] > want:
                os.ftruncate(self._fds[level], want * HASH_SIZE)
                self._written[level] = want
            elif level and self._written[level] < want:
                self._fill(level, want)
        while size >> len(self._fds) and len(self._fds) < _MAX_LEVELS:
            self._add_level()
            self._fill(len(self._fds) - 1, size >> (len(self._fds) - 1))
        self.size = size

    def _fill(self, level: int, want: int) -> None:
        below = self._fds[level - 1]
        parents = bytearray()
        for index in range(self._written[level], want):
            pair = os.pread(below, 2 * HASH_SIZE, 2 * index * HASH_SIZE)
            parents += node_hash(pair[:HASH_SIZE], pair[HASH_SIZE:])
        os.pwrite(self._fds[level], bytes(parents), self._written[level] * HASH_SIZE)
        self._written[level] = want


__all__ = ["HashStore"]
