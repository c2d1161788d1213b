"""The collector is held off inside ``collector_paused`` blocks, however they overlap, and comes back as it was."""

from __future__ import annotations

import gc
import threading

import pytest

from tradingdesk.core.gc_pause import collector_paused


@pytest.fixture(autouse=True)
def _collector_restored():
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()
    gc.unfreeze()  # what the blocks froze goes back to the oldest generation


def test_what_the_block_built_is_frozen_after_it() -> None:
    """The rebuilt state leaves the collector's generations: no later collection walks it."""
    gc.enable()
    gc.unfreeze()
    with collector_paused():
        built = [[i] for i in range(10_000)]  # tracked containers, as a rebuilt book holds
        assert gc.get_freeze_count() == 0
    assert gc.get_freeze_count() >= len(built)
    assert not any(x is built for x in gc.get_objects())  # frozen objects are no generation's


def test_the_collector_is_off_inside_and_on_again_after() -> None:
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_blocks_enable_it_only_when_the_last_one_ends() -> None:
    gc.enable()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with collector_paused():
            first_in.set()
            second_in.wait(10)
        first_out.set()

    thread = threading.Thread(target=first)
    thread.start()
    assert first_in.wait(10)
    with collector_paused():
        second_in.set()
        assert first_out.wait(10)
        seen.append(gc.isenabled())  # the first block ended, this one still holds it off
    thread.join(10)
    assert seen == [False]
    assert gc.isenabled()


def test_a_failing_rebuild_turns_it_back_on() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("snapshot unreadable")
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_a_pause_that_keeps_nothing_freezes_nothing() -> None:
    """Routing's snapshot window: a cycle made inside is collected after it, not kept in the permanent generation."""
    gc.enable()
    gc.unfreeze()
    with collector_paused(freeze_after=False):
        cycle: list = []
        cycle.append(cycle)
        assert not gc.isenabled()
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    del cycle
    assert gc.collect() >= 1


def test_overlapping_a_rebuild_still_freezes_what_it_built() -> None:
    gc.enable()
    gc.unfreeze()
    with collector_paused(), collector_paused(freeze_after=False):
        built = [[i] for i in range(1_000)]
    assert gc.get_freeze_count() >= len(built)
