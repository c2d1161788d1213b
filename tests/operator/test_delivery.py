"""The live-value worker: retries until confirmed, acts on the newest wish, stops on a refusal."""

from __future__ import annotations

import asyncio

from deskoperator.delivery import Backoff, Confirmation, Delivery, Reported
from deskoperator.rpc import DeliveryError


def test_backoff_doubles_up_to_the_cap() -> None:
    b = Backoff(first=0.5, cap=4.0)
    assert [b.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    b.reset()
    assert b.next_delay() == 0.5


async def _until(predicate) -> None:
    while not predicate():
        await asyncio.sleep(0)


async def test_retries_until_the_service_confirms_and_records_only_what_it_confirmed() -> None:
    calls: list[str] = []
    seen: list[tuple[str, str]] = []

    def attempt(wish: str, record: Confirmation) -> Reported:
        calls.append(wish)
        seen.append((record.confirmed_for, record.reported))
        if len(calls) < 3:
            raise DeliveryError("risk:50053: UNAVAILABLE: connection refused")
        return Reported(wish)

    record = Confirmation(confirmed_for="Active", reported="Active")
    worker = Delivery("t", record, attempt, lambda: None, Backoff(first=0, cap=0))
    task = asyncio.create_task(worker.run())
    worker.want("Halted")
    await _until(lambda: not record.pending)
    task.cancel()
    assert calls == ["Halted"] * 3
    assert seen[-1] == ("Active", "Active")  # while retrying, the confirmed state stays the old one
    assert (record.confirmed_for, record.reported, record.attempts, record.error) == ("Halted", "Halted", 0, "")


async def test_a_new_wish_supersedes_one_being_retried() -> None:
    calls: list[str] = []

    def attempt(wish: str, record: Confirmation) -> Reported:
        calls.append(wish)
        if wish == "Halted":
            raise DeliveryError("UNAVAILABLE")
        return Reported(wish)

    record = Confirmation(confirmed_for="Active", reported="Active")
    worker = Delivery("t", record, attempt, lambda: None, Backoff(first=3600, cap=3600))
    task = asyncio.create_task(worker.run())
    worker.want("Halted")
    await _until(lambda: record.attempts == 1)
    worker.want("ReduceOnly")  # wakes the worker out of its hour-long backoff
    await _until(lambda: record.confirmed_for == "ReduceOnly")
    task.cancel()
    assert calls == ["Halted", "ReduceOnly"]


async def test_a_refused_wish_is_not_retried_until_it_changes() -> None:
    calls: list[str] = []

    def attempt(wish: str, record: Confirmation) -> Reported:
        calls.append(wish)
        raise DeliveryError("INVALID_ARGUMENT: limits.desk.credit_limit", refused=True)

    changes: list[str] = []
    record = Confirmation()
    worker = Delivery("t", record, attempt, lambda: changes.append(record.error), Backoff(first=0, cap=0))
    task = asyncio.create_task(worker.run())
    worker.want("h1")
    await _until(lambda: record.refused)
    worker.nudge()  # a nudge does not retry a refusal
    for _ in range(100):
        await asyncio.sleep(0)
    task.cancel()
    assert calls == ["h1"] and record.pending and changes
