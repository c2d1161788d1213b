"""The spool and the hash store on disk: batch appends equal the definition, and every crash point recovers."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.audit.logs import ORIGIN, journal_entries, retain_until
from tradingdesk.audit.checkpoint import SignerKey
from tradingdesk.audit.hashstore import HashStore
from tradingdesk.audit.merkle import MemoryTree, inclusion_proof, leaf_hash, root_hash
from tradingdesk.audit.segment import parse_segment
from tradingdesk.audit.spool import Spool, SpoolError


def test_batches_of_any_size_build_the_same_tree(tmp_path: Path) -> None:
    rng = random.Random(7)
    leaves = [leaf_hash(str(i).encode()) for i in range(700)]
    store, tree = HashStore(tmp_path / "h"), MemoryTree(leaves)
    at = 0
    while at < len(leaves):
        n = rng.choice([1, 2, 3, 5, 8, 64, 100])
        store.extend(leaves[at : at + n])
        at += n
        assert store.root() == root_hash(tree, min(at, len(leaves)))
    for level, nodes in enumerate(tree.levels):
        assert [store.node(level, i) for i in range(len(nodes))] == nodes
    store.close()
    reopened = HashStore(tmp_path / "h")
    assert reopened.size == 700 and reopened.root() == tree.root()
    assert inclusion_proof(reopened, 333, 700) == inclusion_proof(tree, 333, 700)
    reopened.truncate(301)
    assert reopened.root() == root_hash(tree, 301)
    reopened.extend(leaves[301:])
    assert reopened.root() == tree.root()


def test_a_lost_parent_level_is_recomputed(tmp_path: Path) -> None:
    leaves = [leaf_hash(str(i).encode()) for i in range(100)]
    store = HashStore(tmp_path / "h")
    store.extend(leaves)
    store.close()
    (tmp_path / "h" / "level-03").write_bytes(b"")  # a crash before this level reached the disk
    assert HashStore(tmp_path / "h").root() == MemoryTree(leaves).root()


def test_a_torn_write_and_a_crash_after_a_cut_recover(tmp_path: Path) -> None:
    signer = SignerKey.generate(ORIGIN)
    spool = Spool(tmp_path / "s")
    spool.append(journal_entries("a" * 32, range(1, 20)))
    cut = spool.cut(signer=signer, origin=ORIGIN, retain_until=retain_until())
    assert (cut.start, cut.end) == (0, 20)
    spool.append(journal_entries("a" * 32, range(20, 30)))
    root = spool.hashes.root()
    spool.close()
    open_file = tmp_path / "s" / f"open-{20:020d}.records"
    with open(open_file, "ab") as f:
        f.write(b'{"v":2,"index":30,"ts_ns":1')  # the batch being written when the power went
    again = Spool(tmp_path / "s")
    assert (again.size, again.cut_size, again.hashes.root()) == (30, 20, root)
    assert open_file.read_bytes().endswith(b"}\n")
    # A crash between writing a segment and removing its open file: the segment wins.
    again.cut(signer=signer, origin=ORIGIN, retain_until=retain_until())
    again.close()
    open_file.write_bytes(b"stale\n")
    third = Spool(tmp_path / "s")
    assert (third.size, third.cut_size) == (30, 30) and not open_file.exists()
    assert [r[:21] for r in third.records(19, 21)] == [b'{"v":2,"index":19,"ts', b'{"v":2,"index":20,"ts']


def test_records_written_but_not_yet_synced_are_read_and_cut_with_the_rest(tmp_path: Path) -> None:
    """The spool keeps no copy of its open records: readers and a cut read them back from the open file and
    from the batches ``sync`` has not yet written to it, in log order."""
    signer = SignerKey.generate(ORIGIN)
    spool = Spool(tmp_path / "s")
    synced = spool.append(journal_entries("a" * 32, range(1, 8)))  # records 0-7, on disk
    written = spool.write(journal_entries("a" * 32, range(8, 12)))  # records 8-11, not yet in the file
    assert spool.size == 12 and len(synced) == 8 and len(written) == 4
    assert list(spool.records(0, 12)) == synced + written
    assert list(spool.records(6, 10)) == synced[6:] + written[:2]
    cut = spool.cut(signer=signer, origin=ORIGIN, retain_until=retain_until())
    assert (cut.start, cut.end) == (0, 12)
    _, lines = parse_segment(cut.path.read_bytes())
    assert lines == synced + written
    spool.sync()  # nothing left to write: the cut made them durable
    later = spool.append(journal_entries("a" * 32, range(12, 14)))
    assert list(spool.records(10, 14)) == written[2:] + later
    spool.close()
    again = Spool(tmp_path / "s")
    assert list(again.records(0, 14)) == synced + written + later
    again.close()


def test_a_hand_edited_spool_is_refused(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s")
    spool.append(journal_entries("a" * 32, range(1, 5)))
    spool.close()
    path = tmp_path / "s" / f"open-{0:020d}.records"
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join([lines[1], lines[0], *lines[2:]]))
    with pytest.raises(SpoolError, match="line 1 is not record 0"):
        Spool(tmp_path / "s")


def test_node_hashes_lost_in_a_power_cut_are_recomputed_from_the_segments(tmp_path: Path) -> None:
    signer = SignerKey.generate(ORIGIN)
    spool = Spool(tmp_path / "s")
    for first in (1, 40, 80):
        spool.append(journal_entries("a" * 32, range(first, first + 39 if first == 1 else first + 40)))
        spool.cut(signer=signer, origin=ORIGIN, retain_until=retain_until())
    root = spool.hashes.root()
    spool.close()
    # The power went before the hashes were synced: their files read as zeros, and nothing says they were synced.
    (tmp_path / "s" / "hashes-synced").unlink()
    level0 = tmp_path / "s" / "hashes" / "level-00"
    level0.write_bytes(bytes(level0.stat().st_size))
    again = Spool(tmp_path / "s")
    assert again.hashes.root() == root
    assert again.hashes.leaves(0, 1) == leaf_hash(next(again.records(0, 1)))
