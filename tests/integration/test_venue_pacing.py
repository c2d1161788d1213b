"""Venue answers paced by the journal's backlog (``routing/venue_pacing.py``), on a real journal and its asyncio
bridge: a burst of answers reaches the listener in order and in full, but a record journaled meanwhile (a new
order's) has at most about ``max_backlog`` records ahead of it that are not yet durable."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.waiting import wait_for
from tradingdesk.routing.venue_pacing import PacedVenueListener
from tradingdesk.storage import AsyncDurability, Journal, make_engine, migrate

TS0 = 1_700_000_000_000_000_000
MAX_BACKLOG = 10
BURST = 400


class JournalingListener:
    """Journals one record per answer, as the engine does for a late acknowledgement or a cancel."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.answers: list[str] = []

    def on_venue_accepted(self, venue: str, order_id: str) -> None:
        self.answers.append(order_id)
        self.journal.append("new", order_id, {"venue": venue}, TS0)

    def on_venue_canceled(self, venue: str, order_id: str, reason: str) -> None:
        self.answers.append(order_id)
        self.journal.append("canceled", order_id, {"venue": venue, "reason": reason}, TS0)


async def test_a_burst_of_answers_leaves_a_new_order_few_records_to_wait_for(tmp_path: Path) -> None:
    db = make_engine(f"sqlite:///{tmp_path}/desk.db")
    migrate(db)
    journal = Journal(db, inline=True).start()  # as routing runs it: commits on the loop or by the writer's sweep
    durability = AsyncDurability(journal)
    engine = JournalingListener(journal)
    pacer = PacedVenueListener(engine, journal=journal, max_backlog=MAX_BACKLOG, loop=asyncio.get_running_loop())
    pacer.follow(durability)
    try:
        # A venue that speaks again: its whole backlog in one turn of the loop.
        sent = [f"O-{i}" for i in range(BURST)]
        for order_id in sent[: BURST // 2]:
            pacer.on_venue_accepted("xnas", order_id)
        assert len(engine.answers) <= MAX_BACKLOG + 1
        assert pacer.kept >= BURST // 2 - MAX_BACKLOG - 1

        # New orders while the answers are paced: each is journaled behind few records, and waits for them.
        ahead: list[int] = []
        n = 0
        while n < 3 or pacer.kept:
            n += 1
            seq = journal.append("pending_new", f"N-{n}", {}, TS0)
            ahead.append(seq - 1 - journal.durable_seq)
            await durability.wait_durable(seq)
            if n == 3:  # more answers while others wait: they go behind them, whatever the backlog is now
                for order_id in sent[BURST // 2 :]:
                    pacer.on_venue_canceled("xnas", order_id, "canceled")
        # the answer that crossed the bound, and records committed inline meanwhile, may add one or two
        assert max(ahead) <= MAX_BACKLOG + 2, ahead

        await wait_for(lambda: len(engine.answers) == BURST, what="every answer handed on")
        assert engine.answers == sent, "answers reach the engine in the order the venue gave them"
        assert pacer.kept_total >= BURST - MAX_BACKLOG - 1 and pacer.most_kept >= BURST // 2 - MAX_BACKLOG - 1
        last = journal.last_seq()
        await durability.wait_durable(last)
        assert journal.backlog == 0
    finally:
        durability.close()
        journal.close()
        db.dispose()


async def test_answers_pass_straight_through_while_the_journal_keeps_up(tmp_path: Path) -> None:
    db = make_engine(f"sqlite:///{tmp_path}/desk.db")
    migrate(db)
    journal = Journal(db, inline=True).start()
    durability = AsyncDurability(journal)
    engine = JournalingListener(journal)
    pacer = PacedVenueListener(engine, journal=journal, max_backlog=MAX_BACKLOG, loop=asyncio.get_running_loop())
    pacer.follow(durability)
    try:
        for i in range(3 * MAX_BACKLOG):
            pacer.on_venue_accepted("xnas", f"O-{i}")
            assert engine.answers[-1] == f"O-{i}", "handed on at once, in the same call"
            journal.commit_inline()
        assert pacer.kept_total == 0
    finally:
        durability.close()
        journal.close()
        db.dispose()


async def test_a_burst_goes_on_a_turn_of_the_loop_at_a_time(tmp_path: Path) -> None:
    """However short the backlog, at most ``per_turn`` answers per turn: the loop reads its sockets in between."""
    db = make_engine(f"sqlite:///{tmp_path}/desk.db")
    migrate(db)
    journal = Journal(db, inline=True).start()
    durability = AsyncDurability(journal)
    engine = JournalingListener(journal)
    pacer = PacedVenueListener(
        engine, journal=journal, max_backlog=10_000, loop=asyncio.get_running_loop(), per_turn=100
    )
    pacer.follow(durability)
    try:
        sent = [f"O-{i}" for i in range(350)]
        for order_id in sent:
            pacer.on_venue_accepted("xnas", order_id)
        assert len(engine.answers) == 100
        steps = []
        while len(engine.answers) < len(sent):
            before = len(engine.answers)
            await asyncio.sleep(0)  # one turn of the loop
            steps.append(len(engine.answers) - before)
        assert max(steps) <= 100 and engine.answers == sent, steps
    finally:
        durability.close()
        journal.close()
        db.dispose()


async def test_the_pacer_says_which_orders_have_an_answer_waiting(tmp_path: Path) -> None:
    """What the engine's venue-ack timeout asks before it cancels an order as unacknowledged."""
    db = make_engine(f"sqlite:///{tmp_path}/desk.db")
    migrate(db)
    journal = Journal(db, inline=True).start()
    durability = AsyncDurability(journal)
    engine = JournalingListener(journal)
    pacer = PacedVenueListener(engine, journal=journal, max_backlog=10_000, loop=asyncio.get_running_loop(), per_turn=2)
    pacer.follow(durability)
    try:
        for order_id in ("O-1", "O-2", "O-3", "O-3"):
            pacer.on_venue_accepted("xnas", order_id)
        assert engine.answers == ["O-1", "O-2"]
        assert not pacer.holds_answer_for("O-1") and pacer.holds_answer_for("O-3")
        await wait_for(lambda: len(engine.answers) == 4, what="the kept answers handed on")
        assert not pacer.holds_answer_for("O-3")
    finally:
        durability.close()
        journal.close()
        db.dispose()


async def test_answers_keep_a_share_of_each_commit_while_new_orders_alone_keep_the_backlog_over_the_bound(
    tmp_path: Path,
) -> None:
    """A session client sending faster than the journal commits keeps the backlog over the bound by itself: the
    answers still go on, as many records between two commits as the new orders made between the two before,
    instead of waiting for the flow to stop."""
    db = make_engine(f"sqlite:///{tmp_path}/desk.db")
    migrate(db)
    journal = Journal(db, inline=True)  # no writer thread: the test makes every commit, so none falls between
    durability = AsyncDurability(journal)
    engine = JournalingListener(journal)
    per_turn = 5
    pacer = PacedVenueListener(
        engine, journal=journal, max_backlog=MAX_BACKLOG, loop=asyncio.get_running_loop(), per_turn=per_turn
    )
    pacer.follow(durability)

    def new_orders() -> None:
        for _ in range(3 * MAX_BACKLOG):
            journal.append("pending_new", "N", {}, TS0)

    try:
        new_orders()
        sent = [f"O-{i}" for i in range(50)]
        for order_id in sent:
            pacer.on_venue_accepted("xnas", order_id)
        assert engine.answers == [], "over the bound: kept"
        handed: list[int] = []
        while pacer.kept and len(handed) < 100:
            before = len(engine.answers)
            assert journal.commit_inline()
            new_orders()  # more new orders before the answers' turn: the backlog is over the bound again
            for _ in range(10):
                await asyncio.sleep(0)
            assert journal.backlog > MAX_BACKLOG
            handed.append(len(engine.answers) - before)
        assert engine.answers == sent, f"{len(engine.answers)} of {len(sent)} answers after {len(handed)} commits"
        # each commit interval had 30 new order records: 30 answers after each commit (5 a turn of the loop)
        assert handed == [3 * MAX_BACKLOG, len(sent) - 3 * MAX_BACKLOG], handed
    finally:
        durability.close()
        journal.close()
        db.dispose()
