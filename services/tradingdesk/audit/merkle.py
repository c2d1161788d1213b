"""The RFC 9162 (Certificate Transparency 2.0) Merkle tree: hashes, roots, inclusion and consistency proofs.

Pure functions over hashes; where a proof needs nodes of a stored tree, it asks a ``NodeReader`` for the hash
of a complete, aligned subtree (``level``, ``index``): the subtree over leaves ``[index * 2**level,
(index + 1) * 2**level)``. Those are exactly the nodes an append-only store can keep once written (see
``audit/hashstore.py``), and every other subtree hash is computed from O(log n) of them.

Leaf hash ``SHA-256(0x00 || record)``, node hash ``SHA-256(0x01 || left || right)``, the empty tree's hash
``SHA-256("")`` (RFC 9162 section 2.1.1). The proof algorithms are those of sections 2.1.3 and 2.1.4, so
any RFC 6962/9162 verifier (Go's golang.org/x/mod/sumdb/tlog, Trillian, ...) accepts what we produce; a test
checks that with one we did not write.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
from operator import add
from typing import Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(record: bytes) -> bytes:
    return _sha256(b"\x00" + record).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


_digest = type(_sha256()).digest


def leaf_hashes_py(records: Iterable[bytes]) -> list[bytes]:
    """``leaf_hash`` of each record. For the audit log's batches: the loop runs inside ``map`` (in C), without a
    Python call per record."""
    return list(map(_digest, map(_sha256, map(add, repeat(b"\x00"), records))))


def parent_hashes_py(nodes: Sequence[bytes]) -> list[bytes]:
    """``node_hash`` of each pair ``nodes[0], nodes[1]``, ``nodes[2], nodes[3]``, ...; an odd last node has no
    parent yet. The loop runs inside ``map``, as in ``leaf_hashes``."""
    return list(map(_digest, map(_sha256, map(add, map(add, repeat(b"\x01"), nodes[0::2]), nodes[1::2]))))


def parent_hashes_joined_py(nodes: bytes) -> bytes:
    """``parent_hashes`` over hashes joined in one buffer, joined the same way (what the hash store keeps)."""
    return b"".join(parent_hashes_py([nodes[i : i + HASH_SIZE] for i in range(0, len(nodes), HASH_SIZE)]))


try:  # the same hashes from one C loop per batch (audit/_native.c), where it was built
    from tradingdesk.audit import _native
except ImportError:
    _native = None
leaf_hashes: Callable[[Iterable[bytes]], list[bytes]] = _native.leaf_hashes if _native else leaf_hashes_py
parent_hashes: Callable[[Sequence[bytes]], list[bytes]] = _native.parent_hashes if _native else parent_hashes_py
parent_hashes_joined: Callable[[bytes], bytes] = _native.parent_hashes_joined if _native else parent_hashes_joined_py


class ProofError(ValueError):
    """A proof that does not verify, or a request for one that cannot exist (sizes out of range)."""


class NodeReader(Protocol):
    def node(self, level: int, index: int) -> bytes:
        """The hash of the complete subtree of ``2**level`` leaves starting at leaf ``index * 2**level``."""
        ...


def _largest_power_of_two_below(n: int) -> int:
    """The k of RFC 9162: the largest power of two smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_hash(nodes: NodeReader, start: int, end: int) -> bytes:
    """MTH(D[start:end]) for a range that starts on a boundary of its own split (every range a proof needs)."""
    size = end - start
    if size == 0:
        return EMPTY_ROOT
    if size & (size - 1) == 0 and start % size == 0:
        return nodes.node(size.bit_length() - 1, start // size)
    k = _largest_power_of_two_below(size)
    return node_hash(subtree_hash(nodes, start, start + k), subtree_hash(nodes, start + k, end))


def root_hash(nodes: NodeReader, size: int) -> bytes:
    return subtree_hash(nodes, 0, size)


def inclusion_proof(nodes: NodeReader, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 section 2.1.3.1, leaf-side first."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not in a tree of {size} records")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if index < start + k:
            path.append(subtree_hash(nodes, start + k, end))
            end = start + k
        else:
            path.append(subtree_hash(nodes, start, start + k))
            start = start + k
    path.reverse()
    return path


def consistency_proof(nodes: NodeReader, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) of RFC 9162 section 2.1.4.1 (empty when the sizes are equal)."""
    if not 0 < old_size <= new_size:
        raise ProofError(f"no consistency proof from {old_size} to {new_size} records (need 0 < old <= new)")
    if old_size == new_size:
        return []
    return _subproof(nodes, old_size, 0, new_size, True)


def _subproof(nodes: NodeReader, m: int, start: int, end: int, complete: bool) -> list[bytes]:
    n = end - start
    if m == n:
        return [] if complete else [subtree_hash(nodes, start, end)]
    k = _largest_power_of_two_below(n)
    if m <= k:
        return [*_subproof(nodes, m, start, start + k, complete), subtree_hash(nodes, start + k, end)]
    return [*_subproof(nodes, m - k, start + k, end, False), subtree_hash(nodes, start, start + k)]


def verify_inclusion(*, index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """RFC 9162 section 2.1.3.2. Raises ``ProofError`` when the proof does not lead to ``root``."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not in a tree of {size} records")
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    if r != root:
        raise ProofError("inclusion proof does not lead to the root hash")


def verify_consistency(
    *, old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 section 2.1.4.2. Raises ``ProofError`` unless the old tree is a prefix of the new one."""
    if not 0 < old_size <= new_size:
        raise ProofError(f"no consistency between {old_size} and {new_size} records (need 0 < old <= new)")
    if old_size == new_size:
        if proof:
            raise ProofError("consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError("equal sizes with different root hashes")
        return
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node of the path
        path.insert(0, old_root)
    if not path:
        raise ProofError("empty consistency proof")
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than the tree is deep")
    if fr != old_root:
        raise ProofError("consistency proof does not lead to the old root hash")
    if sr != new_root:
        raise ProofError("consistency proof does not lead to the new root hash")


class CompactRange:
    """The right edge of a growing tree: one hash per complete subtree (at most log2(n) of them).

    Enough to append leaves and compute the root in O(log n) memory, which is how ``verify`` walks a year of
    records. ``on_node(level, index, hash)`` (optional) sees every complete subtree as it forms, which is how
    the hash store keeps the nodes proofs need.
    """

    __slots__ = ("_on_node", "_stack", "size")

    def __init__(self, on_node: Callable[[int, int, bytes], None] | None = None) -> None:
        self.size = 0
        self._stack: list[bytes] = []  # hashes of the complete subtrees, largest (leftmost) first
        self._on_node = on_node

    def append(self, leaf: bytes) -> None:
        stack = self._stack
        index = n = self.size
        on_node = self._on_node
        h = leaf
        level = 0
        if on_node is not None:
            on_node(0, index, h)
        while n & 1:  # each trailing 1 bit of the old size is a subtree this leaf completes
            h = node_hash(stack.pop(), h)
            n >>= 1
            level += 1
            if on_node is not None:
                on_node(level, index >> level, h)
        stack.append(h)
        self.size = index + 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def extend_hashes(self, leaves: bytes) -> None:
        """Append the concatenated leaf hashes ``leaves`` (a segment's leaf list) a level at a time: the same
        tree as ``append`` of each, with the parents of a level computed in one ``parent_hashes`` call instead
        of one Python call per node (how ``verify`` folds a segment). Each level's first new node pairs with
        the subtree of that level the range holds (bit ``level`` of the old size); an odd last node is the
        range's new subtree of that level."""
        if self._on_node is not None:  # a caller that sees every node: one leaf at a time
            self.extend(leaves[i : i + HASH_SIZE] for i in range(0, len(leaves), HASH_SIZE))
            return
        stack = self._stack
        nodes = [leaves[i : i + HASH_SIZE] for i in range(0, len(leaves), HASH_SIZE)]
        old_size = self.size
        level = 0
        left_over: list[bytes] = []  # each level's unpaired last node, lowest level first
        while nodes:
            if old_size >> level & 1:  # the range's subtree of this level is the left sibling of nodes[0]
                nodes.insert(0, stack.pop())
            if len(nodes) & 1:
                left_over.append(nodes.pop())
            nodes = parent_hashes(nodes)
            level += 1
        stack.extend(reversed(left_over))
        self.size = old_size + len(leaves) // HASH_SIZE

    def root(self) -> bytes:
        stack = self._stack
        if not stack:
            return EMPTY_ROOT
        h = stack[-1]
        for left in reversed(stack[:-1]):
            h = node_hash(left, h)
        return h


class MemoryTree:
    """Every node of a tree in memory: for tests and for trees small enough to hold (one segment)."""

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        self._range = CompactRange(self._keep)
        self._range.extend(leaves)

    def _keep(self, level: int, index: int, h: bytes) -> None:
        if level == len(self.levels):
            self.levels.append([])
        assert len(self.levels[level]) == index
        self.levels[level].append(h)

    def append(self, leaf: bytes) -> None:
        self._range.append(leaf)

    @property
    def size(self) -> int:
        return self._range.size

    def root(self) -> bytes:
        return self._range.root()

    def node(self, level: int, index: int) -> bytes:
        return self.levels[level][index]


__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "MemoryTree",
    "NodeReader",
    "ProofError",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_hash",
    "subtree_hash",
    "verify_consistency",
    "verify_inclusion",
]
