"""The RFC 9162 tree: roots against the definition, every proof of small trees, and tampered proofs refused."""

from __future__ import annotations

import hashlib

import pytest

from tradingdesk.audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MemoryTree,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    leaf_hashes,
    node_hash,
    parent_hashes,
    root_hash,
    verify_consistency,
    verify_inclusion,
)


def mth(records: list[bytes]) -> bytes:
    """MTH straight from RFC 9162 section 2.1.1."""
    n = len(records)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + records[0]).digest()
    k = 1 << ((n - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + mth(records[:k]) + mth(records[k:])).digest()


RECORDS = [f"record {i}".encode() for i in range(70)]
TREE = MemoryTree(leaf_hash(r) for r in RECORDS)


def test_known_vectors() -> None:
    # RFC 6962 test vectors (certificate-transparency-go merkle tests): empty tree, and the leaf "" hash.
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"


@pytest.mark.parametrize("size", [0, 1, 2, 3, 70])
def test_batch_hashes_are_the_definition_one_at_a_time(size: int) -> None:
    """The spool's batch forms: a leaf hash per record, a parent per complete pair (an odd last node has none)."""
    leaves = leaf_hashes(RECORDS[:size])
    assert leaves == [hashlib.sha256(b"\x00" + r).digest() for r in RECORDS[:size]]
    pairs = zip(leaves[0::2], leaves[1::2], strict=False)
    assert parent_hashes(leaves) == [hashlib.sha256(b"\x01" + left + right).digest() for left, right in pairs]
    assert len(parent_hashes(leaves)) == size // 2


@pytest.mark.parametrize("cuts", [[70], [1, 70], [3, 4, 70], [5, 6, 13, 32, 33, 70], [0, 8, 8, 64, 69, 70]])
def test_a_range_extended_a_segment_at_a_time_is_the_tree_of_its_leaves(cuts: list[int]) -> None:
    """``extend_hashes`` (verify's fold of a segment) gives the root ``append`` of each leaf gives, from any
    size to any size."""
    compact, start = CompactRange(), 0
    for end in cuts:
        compact.extend_hashes(b"".join(leaf_hash(r) for r in RECORDS[start:end]))
        assert compact.size == end and compact.root() == mth(RECORDS[:end])
        start = end


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33, 70])
def test_root_matches_the_definition(size: int) -> None:
    compact = CompactRange()
    compact.extend(leaf_hash(r) for r in RECORDS[:size])
    assert compact.root() == mth(RECORDS[:size]) == root_hash(TREE, size)


def test_every_inclusion_proof_verifies_and_a_wrong_one_does_not() -> None:
    for size in range(1, 40):
        root = root_hash(TREE, size)
        for index in range(size):
            proof = inclusion_proof(TREE, index, size)
            verify_inclusion(index=index, size=size, leaf=leaf_hash(RECORDS[index]), proof=proof, root=root)
            with pytest.raises(ProofError):
                verify_inclusion(index=index, size=size, leaf=leaf_hash(b"forged"), proof=proof, root=root)
            if proof:
                bad = [node_hash(proof[0], proof[0]), *proof[1:]]
                with pytest.raises(ProofError):
                    verify_inclusion(index=index, size=size, leaf=leaf_hash(RECORDS[index]), proof=bad, root=root)


def test_every_consistency_proof_verifies_and_a_rewritten_history_does_not() -> None:
    forged = MemoryTree(leaf_hash(r) for r in [*RECORDS[:3], b"rewritten", *RECORDS[4:]])
    for new in range(1, 40):
        for old in range(1, new + 1):
            proof = consistency_proof(TREE, old, new)
            args = {"old_size": old, "new_size": new, "proof": proof}
            verify_consistency(old_root=root_hash(TREE, old), new_root=root_hash(TREE, new), **args)
            if old > 3:  # the forged tree differs from record 3 on: its old root is not a prefix of ours
                with pytest.raises(ProofError):
                    verify_consistency(old_root=root_hash(forged, old), new_root=root_hash(TREE, new), **args)


def test_proof_requests_out_of_range_are_refused() -> None:
    with pytest.raises(ProofError, match="not in a tree of 5"):
        inclusion_proof(TREE, 5, 5)
    with pytest.raises(ProofError, match="need 0 < old <= new"):
        consistency_proof(TREE, 6, 5)
    with pytest.raises(ProofError):
        consistency_proof(TREE, 0, 5)
